// Draws the two Battleship boards as grids of cells (DOM, not a canvas: every cell is its own
// tap target, and its state is readable in data attributes: data-x, data-y, data-state =
// empty | ship | miss | hit | sunk, data-open on a cell that can be fired at now).
//
// A player sees "Your fleet" (their ships, the other's shots on them) and "Their waters" (their
// own shots, and the other's ships once sunk); a spectator sees both fleets by name, with the
// shots and the sunk ships only: the server never sends anyone a ship of another's afloat.
// The board redraws when a frame comes or the input changes what it shows (setUi), and its
// clock bar moves between frames on the match time the frames carry.

import { isAway, playerName, seatColor } from "../../players.js";
import { sameShip, shipCells, shipName } from "./board.js";
import { LETTERS, cellName, shotReport, turnLine } from "./status.js";

const CLOCK_MS = 250;
const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};
const key = (x, y) => `${x},${y}`;

/** One board: its panel, heading, cells and the roster of its fleet under it. */
function boardPanel(role, owner, size) {
  const panel = el("section", "bs-panel");
  Object.assign(panel.dataset, { role, owner: String(owner) });
  panel.style.setProperty("--ship", seatColor(owner));
  const head = el("header", "bs-head");
  const swatch = el("span", "swatch");
  swatch.style.background = seatColor(owner);
  const title = el("h3", "bs-title");
  const sub = el("span", "bs-sub muted");
  head.append(swatch, title, sub);
  const grid = el("div", "bs-grid");
  grid.setAttribute("role", "grid");
  grid.tabIndex = role === "own" ? -1 : 0;
  grid.style.setProperty("--n", String(size));
  const top = el("div", "bs-axis-row");
  top.setAttribute("role", "row");
  top.append(el("span", "bs-axis bs-corner"));
  for (let x = 0; x < size; x++) top.append(el("span", "bs-axis", LETTERS[x]));
  grid.append(top);
  const cells = [];
  for (let y = 0; y < size; y++) {
    const row = el("div", "bs-row");
    row.setAttribute("role", "row");
    row.append(el("span", "bs-axis", String(y + 1)));
    cells.push([]);
    for (let x = 0; x < size; x++) {
      const cell = el("div", "cell");
      cell.setAttribute("role", "gridcell");
      Object.assign(cell.dataset, { x: String(x), y: String(y), state: "empty" });
      cells[y].push({ node: cell, drawn: "", name: cellName(x, y) });
      row.append(cell);
    }
    grid.append(row);
  }
  const roster = el("ul", "bs-roster");
  roster.setAttribute("aria-label", "Fleet");
  const slot = el("div", "bs-slot"); // the input's controls, under the player's own grid
  panel.append(head, grid, roster, slot);
  return { panel, role, owner, title, sub, grid, cells, roster, slot, rosterKey: "" };
}

export class BoardsRenderer {
  /** Draws `model` (a BattleshipModel) in an element of its own, first in `stage`. */
  constructor(stage, model) {
    this.model = model;
    this.seat = model.seat;
    this.root = el("div", "bs");
    this.root.setAttribute("aria-label", "Battleship");
    this.banner = el("div", "bs-banner");
    this.bannerText = el("span", "bs-banner-text");
    this.report = el("span", "bs-report"); // what the last shot did
    const clock = el("div", "bs-clock");
    this.clockBar = el("span", "bs-clock-bar");
    clock.append(this.clockBar);
    this.banner.append(this.bannerText, this.report, clock);
    this.boardsBox = el("div", "bs-boards");
    this.root.append(this.banner, this.boardsBox);
    this.controls = el("div", "bs-controls"); // filled by the input (players only)
    this.element = this.root; // what the input listens on (games/README.md)
    // What the input shows on the boards: the fleet being placed, the ship under the pointer,
    // the keyboard's cursor, a shot sent and not yet answered.
    this.ui = { draft: null, preview: null, cursor: null, keyboard: false, pending: null };
    this.boards = [];
    this._laidOut = "";
    this._clock = null; // {now, at}: the match time the last frame said, and when it came
    stage.prepend(this.root);
    this._timer = setInterval(() => this._drawBanner(), CLOCK_MS);
    this.draw();
  }

  destroy() {
    clearInterval(this._timer);
    this.root.remove();
  }

  frameApplied(frame) {
    if (typeof frame.now === "number") this._clock = { now: frame.now, at: performance.now() };
    this.draw();
  }

  /** Change what the input shows, and redraw. */
  setUi(changes) {
    Object.assign(this.ui, changes);
    this.draw();
  }

  /** The cell an event happened on: {role, owner, x, y}, or null. */
  cellFrom(target) {
    const cell = target instanceof Element ? target.closest(".cell") : null;
    const panel = cell && cell.closest(".bs-panel");
    if (!panel || !this.root.contains(panel)) return null;
    const { role, owner } = panel.dataset;
    return { role, owner: Number(owner), x: Number(cell.dataset.x), y: Number(cell.dataset.y) };
  }

  /** The match time now, from the last frame's `now`; null before one came. */
  time() {
    const c = this._clock;
    return c ? c.now + (performance.now() - c.at) / 1000 : null;
  }

  _layout() {
    const { size } = this.model;
    const seat = this.seat;
    const owners = seat === null ? [0, 1] : [seat, 1 - seat];
    const roles = seat === null ? ["watch", "watch"] : ["own", "target"];
    this.boards = owners.map((owner, i) => boardPanel(roles[i], owner, size));
    this.boardsBox.replaceChildren(...this.boards.map((b) => b.panel));
    if (seat !== null) this.boards[0].slot.append(this.controls);
    this._laidOut = String(size);
  }

  draw() {
    const model = this.model;
    if (String(model.size) !== this._laidOut) this._layout();
    const firing = model.ready && model.phase === "firing";
    const root = this.root.classList;
    root.toggle("phase-placing", model.phase === "placing");
    root.toggle("phase-firing", model.phase === "firing");
    root.toggle("phase-over", model.phase === "over");
    root.toggle("keyboard", this.ui.keyboard);
    for (const board of this.boards) this._drawBoard(board, firing);
    this._drawBanner();
  }

  _drawBanner() {
    const model = this.model;
    this.banner.hidden = !model.ready;
    if (!model.ready) return;
    const time = this.time();
    const line = turnLine(model, this.seat, time);
    if (this.bannerText.textContent !== line.text) this.bannerText.textContent = line.text;
    const report = shotReport(model, this.seat);
    if (this.report.textContent !== report.text) this.report.textContent = report.text;
    this.report.dataset.result = report.result;
    this.banner.classList.toggle("warn", line.warn);
    this.banner.classList.toggle("mine", model.phase === "firing" && model.turn === this.seat);
    const total = model.phase === "placing" ? model.placementSeconds : model.turnSeconds;
    const left = model.deadline === null || time === null ? 0 : model.deadline - time;
    const share = Math.max(0, Math.min(1, left / Math.max(1, total)));
    this.clockBar.style.width = `${(share * 100).toFixed(1)}%`;
  }

  /** The ships shown on `board`: [{ship, index, sunk}]. */
  _shipsOn(board) {
    const model = this.model;
    const sunk = model.sunk[board.owner] || [];
    const me = this.seat === null ? null : model.players[this.seat];
    if (board.owner === this.seat) {
      if (this.ui.draft && me && !me.ready) {
        return this.ui.draft.flatMap((s, index) => (s ? [{ ship: s, index, sunk: false }] : []));
      }
      return model.ships.map((ship, index) => ({
        ship,
        index,
        sunk: sunk.some((s) => sameShip(s, ship)),
      }));
    }
    return sunk.map((ship, index) => ({ ship, index, sunk: true }));
  }

  _drawBoard(board, firing) {
    const model = this.model;
    const { owner, role } = board;
    const marks = new Map();
    const mark = (x, y) => marks.get(key(x, y)) || marks.set(key(x, y), {}).get(key(x, y));
    for (const { ship, index, sunk } of this._shipsOn(board)) {
      const cells = shipCells(ship);
      cells.forEach(([x, y], k) => {
        const bow = k === 0 ? " bow" : "";
        const stern = k === cells.length - 1 ? " stern" : "";
        Object.assign(mark(x, y), { hull: ` ship ${ship[2]}${bow}${stern}`, index, sunk });
      });
    }
    for (const [x, y, hit] of model.shots[1 - owner] || []) mark(x, y).shot = hit ? "hit" : "miss";
    const fired = model.shots[1 - owner] || [];
    if (fired.length) {
      const [x, y] = fired[fired.length - 1];
      const latest = model.lastShot && model.lastShot[0] === 1 - owner;
      mark(x, y).last = latest ? "latest" : "last";
    }
    const { preview, cursor, keyboard, pending } = this.ui;
    if (preview && role === "own") {
      for (const [x, y] of shipCells(preview.ship)) {
        if (x < model.size && y < model.size) mark(x, y).preview = preview.ok ? "ok" : "bad";
      }
    }
    if (cursor && keyboard && cursor.role === role) mark(cursor.x, cursor.y).cursor = true;
    if (pending && role === "target") mark(pending[0], pending[1]).pending = true;
    const open = role === "target" && firing && model.turn === this.seat && !pending;
    board.cells.forEach((row, y) => {
      row.forEach((item, x) => this._drawCell(item, marks.get(key(x, y)) || {}, open));
    });
    board.panel.classList.toggle("active", firing && model.turn === 1 - owner);
    this._drawHead(board);
  }

  _drawCell(item, m, open) {
    const state = m.sunk && m.hull ? "sunk" : m.shot || (m.hull ? "ship" : "empty");
    const canFire = open && !m.shot;
    const drawn = [state, m.hull, m.last, m.preview, m.cursor, m.pending, canFire].join("|");
    if (drawn === item.drawn) return;
    item.drawn = drawn;
    const node = item.node;
    let className = "cell" + (m.hull || "") + (m.shot ? ` ${m.shot}` : "");
    if (state === "sunk") className += " sunk";
    if (m.last) className += m.last === "latest" ? " last latest" : " last";
    if (m.preview) className += ` preview ${m.preview}`;
    if (m.cursor) className += " cursor";
    if (m.pending) className += " pending";
    node.className = className;
    node.dataset.state = state;
    if (m.hull) node.dataset.ship = String(m.index);
    else delete node.dataset.ship;
    if (canFire) node.dataset.open = "true";
    else delete node.dataset.open;
    if (m.last) node.dataset.last = "true";
    else delete node.dataset.last;
    node.setAttribute("aria-label", state === "empty" ? item.name : `${item.name}, ${state}`);
  }

  _drawHead(board) {
    const model = this.model;
    const p = model.players[board.owner];
    const name = p ? playerName(p) + (isAway(p) ? " (away)" : "") : `seat ${board.owner}`;
    let title = name;
    if (board.role === "own") title = "Your fleet";
    if (board.role === "target") title = "Their waters";
    const afloat = model.fleet.length ? model.afloat(board.owner) : 0;
    const fleetText = model.fleet.length ? `${afloat} of ${model.fleet.length} afloat` : "";
    const sub = [board.role === "target" ? name : "", fleetText].filter(Boolean).join(" · ");
    if (board.title.textContent !== title) board.title.textContent = title;
    if (board.sub.textContent !== sub) board.sub.textContent = sub;
    board.grid.setAttribute("aria-label", board.role === "watch" ? `${name}'s fleet` : title);
    this._drawRoster(board);
  }

  /** The fleet under a board: one mark per ship, struck through once it is sunk. */
  _drawRoster(board) {
    const model = this.model;
    const lengths = model.fleet;
    const sunk = new Array(lengths.length).fill(false);
    for (const ship of model.sunk[board.owner] || []) {
      const i = lengths.findIndex((n, k) => n === ship[3] && !sunk[k]);
      if (i >= 0) sunk[i] = true;
    }
    const rosterKey = `${lengths.join()}|${sunk.join()}`;
    if (rosterKey === board.rosterKey) return;
    board.rosterKey = rosterKey;
    board.roster.replaceChildren(
      ...lengths.map((n, i) => {
        const li = el("li", sunk[i] ? "sunk" : "");
        li.title = `${shipName(lengths, i)} (${n})${sunk[i] ? ": sunk" : ""}`;
        for (let k = 0; k < n; k++) li.append(el("i"));
        return li;
      }),
    );
  }
}
