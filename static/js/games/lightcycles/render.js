// Draws the Light Cycles arena on a canvas, smoothly, whatever the tick rate.
//
// The server moves a cycle one cell every few ticks, so drawing each tick's position as is would
// stutter. Instead each head glides from its previous cell to its current one over the time the
// last step took: the picture runs at most one step behind the server, never ahead of it, so
// turns and crashes are never drawn wrongly (extrapolation would overshoot them).

import { isAway, playerName, seatColor } from "../../players.js";

const BACKGROUND = "#070b12";
const DEFAULT_SIZE = { width: 64, height: 48 }; // drawn before the first keyframe arrives

export class ArenaRenderer {
  /** Draws `model` (a LightCyclesModel) on a canvas of its own, first in `stage`, from now on. */
  constructor(stage, model) {
    this.canvas = Object.assign(document.createElement("canvas"), { id: "arena" });
    this.canvas.setAttribute("aria-label", "Arena");
    stage.prepend(this.canvas);
    this.element = this.canvas; // what the input listens on (games/README.md)
    this.ctx = this.canvas.getContext("2d");
    this.model = model;
    this.seat = model.seat;
    this.tickMs = 1000 / (model.tickRate || 20);
    this.motion = new Map(); // seat -> {fromX, fromY, toX, toY, at, stepMs, tick}
    this.size = { cssW: 0, cssH: 0, cell: 0, dpr: 0 };
    this._raf = 0;
    this._onResize = () => this.resize();
    this._resizes = new ResizeObserver(this._onResize);
    this._resizes.observe(stage);
    window.addEventListener("resize", this._onResize);
    this.resize();
    this._start();
  }

  /** Stop drawing and take the canvas off the page. */
  destroy() {
    cancelAnimationFrame(this._raf);
    this._raf = 0;
    this._resizes.disconnect();
    window.removeEventListener("resize", this._onResize);
    this.canvas.remove();
  }

  /**
   * Call after each frame is applied to the model. Keyframes glide like deltas: one arrives
   * every second, and restarting the glide there would make every cycle stall once a second.
   */
  frameApplied() {
    const now = performance.now();
    const model = this.model;
    for (const p of model.players) {
      if (!p) continue;
      const m = this.motion.get(p.seat);
      if (!m) {
        const still = { fromX: p.x, fromY: p.y, toX: p.x, toY: p.y, at: now, stepMs: 1 };
        this.motion.set(p.seat, { ...still, tick: model.tick, moved: false });
        continue;
      }
      if (p.x === m.toX && p.y === m.toY) continue;
      // A jump (reconnect, missed frames) is drawn as is; a step glides.
      const adjacent = Math.abs(p.x - m.toX) + Math.abs(p.y - m.toY) === 1;
      // Measure the step in ticks, not arrival times, so network jitter does not show. The
      // first step after standing still (the countdown) takes the usual two ticks.
      const ticks = Math.max(1, Math.min(model.tick - m.tick, m.moved ? 4 : 2));
      Object.assign(m, {
        fromX: adjacent ? m.toX : p.x,
        fromY: adjacent ? m.toY : p.y,
        toX: p.x,
        toY: p.y,
        at: now,
        stepMs: ticks * this.tickMs,
        tick: model.tick,
        moved: true,
      });
    }
    const { width, height } = this._sizeOf();
    if (`${width}x${height}` !== this._laidOut) this.resize();
  }

  _start() {
    const loop = (now) => {
      this._raf = requestAnimationFrame(loop);
      this.draw(now);
    };
    this._raf = requestAnimationFrame(loop);
  }

  _sizeOf() {
    const m = this.model;
    return m && m.ready ? { width: m.width, height: m.height } : DEFAULT_SIZE;
  }

  /** Fit the arena into the space the page gives the canvas, sharp on high-DPI screens. */
  resize() {
    const { width, height } = this._sizeOf();
    this._laidOut = `${width}x${height}`;
    const box = this.canvas.parentElement;
    // Fill the width, and the height left below the box's place in the page (not the scroll).
    const top = box.getBoundingClientRect().top + window.scrollY;
    const availW = box.clientWidth || 320;
    const availH = Math.max(180, window.innerHeight - top - 12);
    const cell = Math.max(2, Math.min(availW / width, availH / height));
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.floor(cell * width);
    const cssH = Math.floor(cell * height);
    const s = this.size;
    if (s.cssW === cssW && s.cssH === cssH && s.dpr === dpr) return;
    Object.assign(s, { cssW, cssH, cell: cssW / width, dpr });
    this.canvas.style.width = cssW + "px";
    this.canvas.style.height = cssH + "px";
    this.canvas.width = Math.round(cssW * dpr);
    this.canvas.height = Math.round(cssH * dpr);
  }

  /** Where to draw a head now, in cells (fractional while gliding). */
  headAt(p, now) {
    const m = this.motion.get(p.seat);
    if (!m || m.toX !== p.x || m.toY !== p.y) return [p.x, p.y];
    const t = Math.min(1, Math.max(0, (now - m.at) / m.stepMs));
    return [m.fromX + (m.toX - m.fromX) * t, m.fromY + (m.toY - m.fromY) * t];
  }

  draw(now = performance.now()) {
    const { ctx } = this;
    const { cssW, cssH, cell, dpr } = this.size;
    if (!cssW) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, cssW, cssH);
    this._grid(cssW, cssH, cell);
    const model = this.model;
    if (!model || !model.ready) {
      this._centerText("waiting for players…", Math.max(14, cssH / 14), "#8fa3bf");
      return;
    }
    // Crashed cycles first so the living ones are drawn on top of their wrecks.
    const players = model.players.filter(Boolean).sort((a, b) => a.alive - b.alive);
    for (const p of players) this._trail(p, now, cell);
    for (const p of players) this._head(p, now, cell);
    if (model.phase === "countdown") {
      this._centerText(String(model.countdownSeconds()), cssH / 3, "#ffffff");
    }
  }

  _grid(w, h, cell) {
    const { ctx } = this;
    const step = cell >= 8 ? 1 : cell >= 4 ? 2 : 4; // keep lines at least ~8px apart
    ctx.strokeStyle = "rgba(80, 120, 180, 0.12)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let x = 0; x * cell <= w; x += step) {
      ctx.moveTo(Math.round(x * cell) + 0.5, 0);
      ctx.lineTo(Math.round(x * cell) + 0.5, h);
    }
    for (let y = 0; y * cell <= h; y += step) {
      ctx.moveTo(0, Math.round(y * cell) + 0.5);
      ctx.lineTo(w, Math.round(y * cell) + 0.5);
    }
    ctx.stroke();
    ctx.strokeStyle = "rgba(120, 170, 255, 0.5)";
    ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
  }

  _trail(p, now, cell) {
    const { ctx } = this;
    const pts = (p.trail || []).slice();
    // The glide point replaces the head, so drop the head cell if the trail ends on it.
    const last = pts[pts.length - 1];
    if (last && last[0] === p.x && last[1] === p.y) pts.pop();
    pts.push(p.alive ? this.headAt(p, now) : [p.x, p.y]);
    if (pts.length < 2) return;
    ctx.save();
    ctx.globalAlpha = p.alive ? 0.9 : 0.3;
    ctx.strokeStyle = seatColor(p.seat);
    ctx.lineWidth = Math.max(2, cell * 0.5);
    ctx.lineJoin = "miter";
    ctx.lineCap = "square";
    ctx.beginPath();
    pts.forEach(([x, y], i) => {
      const cx = (x + 0.5) * cell;
      const cy = (y + 0.5) * cell;
      if (i === 0) ctx.moveTo(cx, cy);
      else ctx.lineTo(cx, cy);
    });
    ctx.stroke();
    ctx.restore();
  }

  _head(p, now, cell) {
    const { ctx } = this;
    const [x, y] = p.alive ? this.headAt(p, now) : [p.x, p.y];
    const cx = (x + 0.5) * cell;
    const cy = (y + 0.5) * cell;
    const color = seatColor(p.seat);
    const size = Math.max(4, cell * 0.9);
    ctx.save();
    if (p.alive) {
      ctx.shadowColor = color;
      ctx.shadowBlur = Math.max(8, cell * 1.6);
      ctx.fillStyle = color;
      ctx.fillRect(cx - size / 2, cy - size / 2, size, size);
      ctx.shadowBlur = 0;
      ctx.fillStyle = "rgba(255,255,255,0.85)"; // hot core reads as a light, not a block
      ctx.fillRect(cx - size / 5, cy - size / 5, (size * 2) / 5, (size * 2) / 5);
    } else {
      ctx.globalAlpha = 0.45;
      ctx.strokeStyle = color;
      ctx.lineWidth = Math.max(1.5, cell * 0.2);
      ctx.beginPath(); // a cross marks the crash
      ctx.moveTo(cx - size / 2, cy - size / 2);
      ctx.lineTo(cx + size / 2, cy + size / 2);
      ctx.moveTo(cx + size / 2, cy - size / 2);
      ctx.lineTo(cx - size / 2, cy + size / 2);
      ctx.stroke();
    }
    const you = p.seat === this.seat;
    const away = isAway(p);
    const label = `${playerName(p)}${you ? " (you)" : away ? " (away)" : ""}`;
    ctx.globalAlpha = p.alive && !away ? 1 : 0.5;
    const px = Math.max(11, Math.min(15, cell * 1.3));
    ctx.font = `${you ? "bold " : ""}${px}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillStyle = color;
    const ty = cy - size / 2 - 4 < 14 ? cy + size / 2 + 16 : cy - size / 2 - 4; // keep on canvas
    const tx = Math.min(Math.max(cx, 40), this.size.cssW - 40);
    ctx.fillText(label, tx, ty);
    ctx.restore();
  }

  _centerText(text, px, color) {
    const { ctx } = this;
    ctx.save();
    ctx.font = `bold ${Math.round(px)}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillStyle = color;
    ctx.shadowColor = "rgba(0, 229, 255, 0.8)";
    ctx.shadowBlur = 24;
    ctx.fillText(text, this.size.cssW / 2, this.size.cssH / 2);
    ctx.restore();
  }
}
