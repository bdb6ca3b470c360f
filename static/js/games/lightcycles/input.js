// Keyboard, swipe and on-screen buttons, all reduced to one thing: a direction.

// `code` is the physical key, so WASD sits in the same place on AZERTY or Dvorak keyboards.
const KEY_DIRS = {
  ArrowUp: "up",
  ArrowDown: "down",
  ArrowLeft: "left",
  ArrowRight: "right",
  KeyW: "up",
  KeyS: "down",
  KeyA: "left",
  KeyD: "right",
};
const SWIPE_MIN_PX = 24;
const BUTTONS = [
  ["up", "▲"],
  ["left", "◀"],
  ["down", "▼"],
  ["right", "▶"],
];

export function isTouchDevice() {
  return window.matchMedia("(pointer: coarse)").matches || "ontouchstart" in window;
}

/** Steering buttons laid over the arena's corner (shown on touch screens only, by CSS). */
function steeringButtons() {
  const pad = document.createElement("div");
  pad.className = "touch-controls";
  pad.setAttribute("aria-label", "Steering buttons");
  for (const [dir, arrow] of BUTTONS) {
    const button = Object.assign(document.createElement("button"), { type: "button" });
    button.textContent = arrow;
    button.dataset.dir = dir;
    button.setAttribute("aria-label", dir);
    pad.append(button);
  }
  return pad;
}

export class DirectionInput {
  /**
   * element: the arena's canvas (swipes); model: the match's LightCyclesModel; send({dir})
   * sends an input, called only when the direction differs from the last one sent;
   * isActive() says whether the game wants keys now (so the lobby's text fields keep them).
   */
  constructor({ element, model, send, isActive }) {
    this.model = model;
    this.send = send;
    this.isActive = isActive;
    this.last = null;
    this._touch = null;

    this._onKeyDown = (e) => this._onKey(e);
    window.addEventListener("keydown", this._onKeyDown);
    element.addEventListener("touchstart", (e) => this._onTouchStart(e), { passive: false });
    element.addEventListener("touchmove", (e) => this._onTouchMove(e), { passive: false });
    element.addEventListener("touchend", () => (this._touch = null));
    this.buttons = steeringButtons();
    // pointerdown, not click: a click fires only on release, which is too late in this game.
    this.buttons.addEventListener("pointerdown", (e) => {
      const dir = e.target.closest("[data-dir]")?.dataset.dir;
      if (!dir) return;
      e.preventDefault();
      this.fire(dir);
    });
    element.after(this.buttons); // before the shell's overlays, which stay on top
    if (isTouchDevice()) document.body.classList.add("touch");
  }

  /** After each frame: a keyframe says which way the server has my cycle heading. */
  frameApplied(frame) {
    if (!frame.key) return;
    const me = this.model.seat === null ? null : this.model.players[this.model.seat];
    this.last = me ? me.dir : null;
  }

  destroy() {
    window.removeEventListener("keydown", this._onKeyDown);
    this.buttons.remove();
  }

  fire(dir) {
    if (!this.isActive() || dir === this.last) return;
    this.last = dir;
    this.send({ dir });
  }

  _onKey(e) {
    const dir = KEY_DIRS[e.code] || KEY_DIRS[e.key];
    if (!dir || e.ctrlKey || e.metaKey || e.altKey || !this.isActive()) return;
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    e.preventDefault(); // arrows would scroll the page under the player's fingers
    this.fire(dir);
  }

  _onTouchStart(e) {
    if (!this.isActive() || e.touches.length !== 1) return;
    e.preventDefault();
    const t = e.touches[0];
    this._touch = { x: t.clientX, y: t.clientY };
  }

  _onTouchMove(e) {
    if (!this._touch) return;
    e.preventDefault();
    const t = e.touches[0];
    const dx = t.clientX - this._touch.x;
    const dy = t.clientY - this._touch.y;
    if (Math.max(Math.abs(dx), Math.abs(dy)) < SWIPE_MIN_PX) return;
    // Turn as soon as the finger has moved far enough, and measure the next swipe from here,
    // so one continuous gesture can steer several turns.
    this._touch = { x: t.clientX, y: t.clientY };
    if (Math.abs(dx) > Math.abs(dy)) this.fire(dx > 0 ? "right" : "left");
    else this.fire(dy > 0 ? "down" : "up");
  }
}
