// A click or a tap on a column drops a disc there; ← → move a cursor over the columns and
// Enter or Space drops at it. Whether the move is allowed is the server's to say: a refusal
// ("it is not your turn") is shown by the shell.

const LEFT = new Set(["ArrowLeft", "KeyA"]);
const RIGHT = new Set(["ArrowRight", "KeyD"]);
const DROP = new Set(["Enter", "NumpadEnter", "Space"]);

export class ColumnInput {
  /** element: the board (renderer.element); renderer: its GridRenderer; send({column}). */
  constructor({ element, renderer, model, send, isActive }) {
    Object.assign(this, { element, renderer, model, send, isActive });
    this.column = null; // the cursor's column: where the pointer or the arrow keys last were
    const columnOf = (e) => {
      const node = e.target.closest?.("[data-column]");
      return node ? Number(node.dataset.column) : null;
    };
    this._onMove = (e) => {
      const column = columnOf(e);
      if (column !== null) this.column = column;
      this.renderer.setCursor(column);
    };
    // The mouse gone, the cursor stays where it was, for the keys to go on from.
    this._onLeave = (e) => {
      if (e.pointerType !== "mouse" || this.column === null) return;
      this.renderer.setCursor(this.column, true);
    };
    this._onClick = (e) => {
      const column = columnOf(e);
      if (column === null) return;
      this.column = column;
      this.drop(column);
    };
    this._onKeyDown = (e) => this._onKey(e);
    element.addEventListener("pointermove", this._onMove);
    element.addEventListener("pointerdown", this._onMove);
    element.addEventListener("pointerleave", this._onLeave);
    element.addEventListener("click", this._onClick);
    window.addEventListener("keydown", this._onKeyDown);
  }

  /** After each frame: a cursor past the last column (a keyframe of a new size) comes back. */
  frameApplied() {
    const { columns } = this.model;
    if (this.column !== null && this.column >= columns) this.moveTo(columns - 1);
  }

  destroy() {
    this.element.removeEventListener("pointermove", this._onMove);
    this.element.removeEventListener("pointerdown", this._onMove);
    this.element.removeEventListener("pointerleave", this._onLeave);
    this.element.removeEventListener("click", this._onClick);
    window.removeEventListener("keydown", this._onKeyDown);
  }

  drop(column) {
    if (!this.isActive() || this.model.phase !== "playing") return false;
    return this.send({ column });
  }

  moveTo(column) {
    this.column = Math.max(0, Math.min(this.model.columns - 1, column));
    this.renderer.setCursor(this.column, true);
  }

  _onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || !this.isActive()) return;
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    if (tag === "BUTTON" && e.target.offsetParent !== null) return; // Enter is the button's
    const key = e.code || e.key;
    const middle = Math.floor((this.model.columns - 1) / 2);
    if (LEFT.has(key) || RIGHT.has(key)) {
      e.preventDefault(); // the arrows would scroll the page
      const from = this.column ?? middle + (LEFT.has(key) ? 1 : -1);
      this.moveTo(from + (LEFT.has(key) ? -1 : 1));
    } else if (DROP.has(key) || e.key === " ") {
      e.preventDefault();
      if (this.column === null) this.moveTo(middle); // first show where it would go
      else this.drop(this.column);
    }
  }
}
