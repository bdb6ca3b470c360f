// Placing the fleet and firing, by mouse, touch (pointer events and taps) and keyboard.
//
// While placing, a draft fleet lives here: one ship is "held" at a time and follows the
// pointer (or the keyboard's cursor) as a preview; a click or Enter puts it down, a click on a
// placed ship picks it up again, R or Rotate turns it, "Random fleet" fills the board and
// Ready sends the place move. While firing, a click, a tap or Enter on a cell of their waters
// fires, on this player's turn, at a cell not fired at yet. The model never changes here: what
// the server accepts comes back in the next frame.

import { playerName } from "../../players.js";
import { fleetProblem, randomFleet, shipAt, shipCells } from "./board.js";
import { PlacementTools } from "./tools.js";

// A move the server did not answer with a frame was refused (the shell shows why): after
// this long the buttons and the board take input again.
const RETRY_MS = 4000;
const ARROWS = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
const TEXT_FIELDS = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export class FleetInput {
  constructor({ element, renderer, model, send, isActive }) {
    Object.assign(this, { element, renderer, model, send, isActive });
    this.draft = []; // per ship of the fleet: [x, y, dir] once put down, else null
    this.held = null; // the index of the ship being placed
    this.dir = "h";
    this.hover = null; // {role, x, y}: the cell under the pointer
    this.cursor = null; // {role, x, y}: the keyboard's cell
    this.keyboard = false; // the keyboard was used last: show its cursor
    this.placeSent = null; // performance.now() when the fleet went out
    this.shot = null; // {x, y, count}: a shot sent, until a frame shows it
    this._timers = new Set();
    this.tools = new PlacementTools(renderer.controls); // its clicks reach _onClick here

    this._onKeyDown = (e) => this._onKey(e);
    window.addEventListener("keydown", this._onKeyDown);
    element.addEventListener("pointermove", (e) => this._onPointer(e));
    element.addEventListener("pointerdown", (e) => this._onPointer(e));
    element.addEventListener("pointerleave", () => this._setHover(null));
    element.addEventListener("click", (e) => this._onClick(e));
    this.sync();
  }

  destroy() {
    window.removeEventListener("keydown", this._onKeyDown);
    for (const timer of this._timers) clearTimeout(timer);
    this.tools.destroy();
  }

  /** After each frame: a new fleet starts a new draft; a shot that came back is done. */
  frameApplied(frame) {
    const fleet = this.model.fleet;
    if (this.draft.length !== fleet.length) {
      this.draft = fleet.map(() => null);
      this.held = fleet.length ? 0 : null;
      this.tools.showFleet(fleet);
    }
    const mine = this.model.shots[this.model.seat] || [];
    if (this.shot && (frame.key || mine.length > this.shot.count)) this.shot = null;
    this.sync();
  }

  get me() {
    return this.model.seat === null ? null : this.model.players[this.model.seat];
  }

  /** Placing my fleet now: the board takes ships. */
  get placing() {
    const me = this.me;
    return this.model.ready && this.model.phase === "placing" && Boolean(me) && !me.ready;
  }

  /** Placing, and the fleet not on its way: the draft can change. */
  get editing() {
    return this.placing && !this._sending();
  }

  /** My turn to fire, with no shot of mine still on its way. */
  get aiming() {
    const m = this.model;
    return m.ready && m.phase === "firing" && m.turn === m.seat && !this.shot;
  }

  _role() {
    return this.placing ? "own" : this.model.phase === "firing" ? "target" : null;
  }

  /** The draft as ships [x, y, dir, length] (null where not placed yet). */
  _ships() {
    return this.draft.map((s, i) => (s ? [...s, this.model.fleet[i]] : null));
  }

  /** The index of the draft ship on (x, y), or -1. */
  _shipOn(x, y) {
    return this._ships().findIndex((s) => s && shipCells(s).some(([a, b]) => a === x && b === y));
  }

  /** Where the held ship would go from (x, y), and whether it fits among the others. */
  _place(x, y) {
    const ship = shipAt(x, y, this.dir, this.model.fleet[this.held], this.model.size);
    const others = this._ships().filter(Boolean);
    return { ship, ok: fleetProblem([...others, ship], this.model.size) === null };
  }

  /** Tell the renderer and the controls what to show now. */
  sync() {
    const role = this._role();
    const aim = this.keyboard ? this.cursor : this.hover;
    let preview = null;
    if (this.editing && this.held !== null && aim && aim.role === "own") {
      if (this._shipOn(aim.x, aim.y) < 0) preview = this._place(aim.x, aim.y);
    }
    this.renderer.setUi({
      draft: this.placing ? this._ships() : null,
      preview,
      cursor: role && this.cursor && this.cursor.role === role ? this.cursor : null,
      keyboard: this.keyboard,
      pending: this.shot ? [this.shot.x, this.shot.y] : null,
    });
    const m = this.model;
    this.tools.draw({
      shown: m.ready && m.phase === "placing" && Boolean(this.me),
      placing: this.placing,
      draft: this.draft,
      held: this.held,
      dir: this.dir,
      sending: this._sending(),
      waitingFor: this.me && m.other(m.seat) ? playerName(m.other(m.seat)) : "the other player",
    });
  }

  /** Click, tap or Enter on cell (x, y) of the board `role`. */
  act(role, x, y) {
    if (!this.isActive()) return;
    if (this.editing && role === "own") this._putOrPick(x, y);
    else if (role === "target" && this.aiming) this._fire(x, y);
  }

  _putOrPick(x, y) {
    const on = this._shipOn(x, y);
    if (on >= 0) return this.pickUp(on);
    if (this.held === null) return;
    const { ship, ok } = this._place(x, y);
    if (!ok) return;
    this.draft[this.held] = ship.slice(0, 3);
    const n = this.draft.length;
    const next = [...Array(n).keys()].map((k) => (this.held + 1 + k) % n);
    this.held = next.find((i) => !this.draft[i]) ?? null;
    this.sync();
  }

  /** Take a placed ship off the board (or choose an unplaced one) to place it again. */
  pickUp(index) {
    if (!this.editing) return;
    const placed = this.draft[index];
    if (placed) {
      this.dir = placed[2];
      this.draft[index] = null;
    }
    this.held = index;
    this.sync();
  }

  rotate() {
    if (!this.editing) return;
    this.dir = this.dir === "h" ? "v" : "h";
    this.sync();
  }

  randomFleet() {
    if (!this.editing) return;
    const fleet = randomFleet(this.model.fleet, this.model.size);
    this.draft = fleet.map((ship) => ship.slice(0, 3));
    this.held = null;
    this.sync();
  }

  ready() {
    const ships = this._ships();
    if (!this.editing || ships.some((s) => !s)) return;
    if (fleetProblem(ships, this.model.size) !== null) return;
    if (!this.send({ place: this.draft.map((s) => s.slice()) })) return;
    this.placeSent = performance.now();
    this._later(() => this.sync(), RETRY_MS + 50);
    this.sync();
  }

  _sending() {
    return this.placeSent !== null && performance.now() - this.placeSent < RETRY_MS;
  }

  _fire(x, y) {
    const mine = this.model.shots[this.model.seat];
    if (mine.some(([a, b]) => a === x && b === y)) return; // fired there already
    if (!this.send({ fire: [x, y] })) return;
    const shot = { x, y, count: mine.length };
    this.shot = shot;
    this._later(() => {
      if (this.shot === shot) this.shot = null;
      this.sync();
    }, RETRY_MS);
    this.sync();
  }

  _later(fn, ms) {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      fn();
    }, ms);
    this._timers.add(timer);
  }

  _setHover(cell) {
    const same = (a, b) => a === b || (a && b && a.role === b.role && a.x === b.x && a.y === b.y);
    if (same(cell, this.hover)) return;
    this.hover = cell;
    this.sync();
  }

  _onPointer(e) {
    const cell = this.renderer.cellFrom(e.target);
    if (this.keyboard && e.type === "pointermove" && e.pointerType === "mouse" && cell) {
      this.keyboard = false; // the mouse took over from the keys
    }
    this._setHover(cell ? { role: cell.role, x: cell.x, y: cell.y } : null);
  }

  _onClick(e) {
    const action = e.target.closest?.("[data-action]")?.dataset.action;
    if (action) return this._onAction(action, e.target.closest("[data-action]"));
    const cell = this.renderer.cellFrom(e.target);
    if (!cell) return;
    this.keyboard = false;
    this.cursor = { role: cell.role, x: cell.x, y: cell.y };
    this.act(cell.role, cell.x, cell.y);
  }

  _onAction(action, target) {
    if (action === "rotate") this.rotate();
    else if (action === "random") this.randomFleet();
    else if (action === "ready") this.ready();
    else if (action === "pick") this.pickUp(Number(target.dataset.index));
  }

  _onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || !this.isActive()) return;
    const target = e.target instanceof Element ? e.target : null;
    if (target && (TEXT_FIELDS.has(target.tagName) || target.isContentEditable)) return;
    // A focused button keeps Enter and Space; the shell's buttons (Leave, Send) every key.
    const button = target && target.closest("button, a");
    const ours = button && this.element.contains(button);
    if (button && (!ours || e.key === "Enter" || e.key === " ")) return;
    const role = this._role();
    if (!role) return;
    const step = ARROWS[e.key];
    if (step) {
      e.preventDefault(); // arrows would scroll the page
      this._moveCursor(role, step);
    } else if (e.code === "KeyR" || e.key === "r" || e.key === "R") {
      this.rotate();
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      if (!this.cursor || this.cursor.role !== role) this._moveCursor(role, [0, 0]);
      this.keyboard = true;
      this.act(role, this.cursor.x, this.cursor.y);
      this.sync();
    }
  }

  /** Move the keyboard's cursor on board `role`; it starts where the pointer was, or mid-board. */
  _moveCursor(role, [dx, dy]) {
    const size = this.model.size;
    let from = this.cursor && this.cursor.role === role ? this.cursor : null;
    if (!from) from = this.hover && this.hover.role === role ? this.hover : null;
    if (!from) {
      const mid = Math.floor((size - 1) / 2);
      from = { x: mid, y: mid };
      dx = dy = 0;
    }
    const clamp = (v) => Math.max(0, Math.min(size - 1, v));
    this.cursor = { role, x: clamp(from.x + dx), y: clamp(from.y + dy) };
    this.keyboard = true;
    this.sync();
  }
}
