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

export function isTouchDevice() {
  return window.matchMedia("(pointer: coarse)").matches || "ontouchstart" in window;
}

export class DirectionInput {
  /**
   * onDir({dir}) is called only when the direction differs from the last one sent;
   * isActive() says whether the game wants keys now (so the lobby's text fields keep them).
   */
  constructor({ canvas, buttons, onDir, isActive }) {
    this.onDir = onDir;
    this.isActive = isActive;
    this.last = null;
    this._touch = null;

    window.addEventListener("keydown", (e) => this._onKey(e));
    canvas.addEventListener("touchstart", (e) => this._onTouchStart(e), { passive: false });
    canvas.addEventListener("touchmove", (e) => this._onTouchMove(e), { passive: false });
    canvas.addEventListener("touchend", () => (this._touch = null));
    if (buttons) {
      // pointerdown, not click: a click fires only on release, which is too late in this game.
      buttons.addEventListener("pointerdown", (e) => {
        const dir = e.target.closest("[data-dir]")?.dataset.dir;
        if (!dir) return;
        e.preventDefault();
        this.fire(dir);
      });
      if (isTouchDevice()) document.body.classList.add("touch");
    }
  }

  /** Forget what was sent, e.g. after a keyframe; `dir` is the direction the server has. */
  reset(dir = null) {
    this.last = dir;
  }

  fire(dir) {
    if (!this.isActive() || dir === this.last) return;
    this.last = dir;
    this.onDir({ dir });
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
