// Draws a Four in a Row match as a board of DOM elements: a strip of players above it, then
// one column element per column (the click target), each a preview slot and `rows` holes.
// It redraws whenever it is told of a frame or of the cursor: the game is turn by turn.

import { isAway, playerName, seatColor } from "../../players.js";

const MIN_CELL = 30;
const MAX_CELL = 84;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class GridRenderer {
  /** Draws `model` (a FourModel), first in `stage`, from now on. */
  constructor(stage, model) {
    this.model = model;
    this.cursor = null; // {column, keyboard}: the highlighted column, if any
    this.wrap = el("div", "fiar");
    this.strip = el("div", "fiar-players");
    this.board = el("div", "fiar-board");
    this.board.setAttribute("role", "group");
    this.board.setAttribute("aria-label", "Four in a Row board");
    this.wrap.append(this.strip, this.board);
    stage.prepend(this.wrap);
    this.element = this.board; // what the input listens on (games/README.md)
    this.columns = []; // per column: {node, preview, holes: [disc per row, bottom first]}
    this._layout = "";
    this._onResize = () => this.resize();
    this._resizes = new ResizeObserver(this._onResize);
    this._resizes.observe(stage);
    window.addEventListener("resize", this._onResize);
    this.draw();
  }

  destroy() {
    this._resizes.disconnect();
    window.removeEventListener("resize", this._onResize);
    this.wrap.remove();
  }

  /** After each frame: draw it, and let a disc that was just dropped fall into place. */
  frameApplied(frame) {
    this.draw();
    const m = this.model;
    if (!frame.key && m.dropped && m.last) this._fall(...m.last);
  }

  /** Highlight `column` (null: none); `keyboard` when the arrow keys moved it there. */
  setCursor(column, keyboard = false) {
    const same = this.cursor && this.cursor.column === column;
    if (same && this.cursor.keyboard === keyboard) return;
    this.cursor = column === null ? null : { column, keyboard };
    this._drawCursor();
  }

  /** The column at a point of the page, or null; for inputs that take positions. */
  columnAt(clientX) {
    for (const [i, column] of this.columns.entries()) {
      const box = column.node.getBoundingClientRect();
      if (clientX >= box.left && clientX < box.right) return i;
    }
    return null;
  }

  /** Make one element per column and hole, when the grid's size is new. */
  _build() {
    const { columns, rows } = this.model;
    this._layout = `${columns}x${rows}`;
    this.columns = [];
    const nodes = [];
    for (let c = 0; c < columns; c++) {
      const node = el("div", "fiar-column");
      node.dataset.column = String(c);
      node.setAttribute("role", "button");
      const preview = el("span", "fiar-disc fiar-preview");
      const top = el("div", "fiar-top");
      top.append(preview);
      node.append(top);
      const holes = [];
      for (let r = rows - 1; r >= 0; r--) {
        const hole = el("div", "fiar-hole");
        const disc = el("span", "fiar-disc");
        disc.dataset.row = String(r);
        hole.append(disc);
        node.append(hole);
        holes[r] = disc;
      }
      this.columns.push({ node, preview, holes });
      nodes.push(node);
    }
    this.board.replaceChildren(...nodes);
    this.board.style.setProperty("--columns", String(columns));
    this.board.style.setProperty("--rows", String(rows));
    this.resize();
  }

  /** Fit the board into the stage's width and the page's height left below it. */
  resize() {
    const { columns, rows } = this.model;
    const box = this.wrap.parentElement;
    if (!box) return;
    const top = box.getBoundingClientRect().top + window.scrollY;
    const availW = (box.clientWidth || 360) - 24;
    const availH = Math.max(240, window.innerHeight - top - 80);
    const fit = Math.min(availW / columns, availH / (rows + 1));
    const cell = Math.floor(Math.max(MIN_CELL, Math.min(MAX_CELL, fit)));
    this.wrap.style.setProperty("--cell", `${cell}px`);
  }

  draw() {
    const m = this.model;
    if (`${m.columns}x${m.rows}` !== this._layout) this._build();
    this.wrap.classList.toggle("waiting", !m.ready);
    this.wrap.classList.toggle("over", m.phase === "over");
    this._drawPlayers();
    const winning = m.winningCells();
    const [lastC, lastR] = m.last || [-1, -1];
    for (const [c, column] of this.columns.entries()) {
      const discs = m.grid[c] || [];
      for (let r = 0; r < m.rows; r++) {
        const disc = column.holes[r];
        const seat = discs[r];
        const filled = seat !== undefined;
        disc.classList.toggle("filled", filled);
        if (filled) disc.style.setProperty("--disc", seatColor(seat));
        else disc.style.removeProperty("--disc");
        disc.classList.toggle("win", winning.has(`${c},${r}`));
        disc.classList.toggle("last", c === lastC && r === lastR && winning.size === 0);
      }
      const free = m.rows - discs.length;
      column.node.classList.toggle("full", free === 0);
      column.node.setAttribute(
        "aria-label",
        `Column ${c + 1}, ${free === 0 ? "full" : `${free} free`}`,
      );
    }
    this._drawCursor();
  }

  /** Whether this viewer may drop now: a player, whose turn it is, in a match under way. */
  _myTurn() {
    const m = this.model;
    return m.ready && m.phase === "playing" && m.seat !== null && m.turn === m.seat;
  }

  _drawCursor() {
    const m = this.model;
    const mine = this._myTurn();
    const at = this.cursor ? this.cursor.column : null;
    this.board.classList.toggle("my-turn", mine);
    this.board.classList.toggle("keyboard", Boolean(this.cursor && this.cursor.keyboard));
    for (const [c, column] of this.columns.entries()) {
      const on = c === at && m.phase !== "over";
      column.node.classList.toggle("cursor", on);
      const target = on && mine && !m.isFull(c);
      column.preview.classList.toggle("shown", target);
      if (target) column.preview.style.setProperty("--disc", seatColor(m.seat));
      const landing = target ? (m.grid[c] || []).length : -1;
      column.holes.forEach((disc, r) => disc.classList.toggle("target", r === landing));
    }
  }

  _drawPlayers() {
    const m = this.model;
    const chips = m.players.map((p) => {
      const chip = el("div", "fiar-player");
      chip.dataset.seat = String(p.seat);
      const disc = el("span", "fiar-chip-disc");
      disc.style.setProperty("--disc", seatColor(p.seat));
      const you = p.seat === m.seat ? " (you)" : isAway(p) ? " (away)" : p.bot ? " (bot)" : "";
      chip.append(disc, el("span", "fiar-name", playerName(p) + you));
      chip.classList.toggle("to-move", m.phase === "playing" && m.turn === p.seat);
      chip.classList.toggle("winner", m.phase === "over" && m.winner === p.seat);
      chip.classList.toggle("away", isAway(p));
      return chip;
    });
    if (chips.length === 2) chips.splice(1, 0, el("span", "fiar-vs", "vs"));
    this.strip.replaceChildren(...chips);
  }

  /** Let the disc at (column, row) fall from above the board into its hole. */
  _fall(column, row) {
    const disc = this.columns[column]?.holes[row];
    if (!disc) return;
    disc.style.setProperty("--fall", String(this.model.rows - row));
    disc.classList.remove("falling");
    void disc.offsetWidth; // restart the animation
    disc.classList.add("falling");
  }
}
