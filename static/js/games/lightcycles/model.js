// The client's copy of a Light Cycles match, kept in step with the server's.
//
// applyDelta is a line-for-line port of apply_delta and extend_trail in
// games/rules/lightcycles/rules.py: keyframe + the deltas after it must equal the next
// keyframe, so any change there has to be made here too (docs/GAMES.md describes the format).
// Which frames apply (the order of ticks, gaps) is the shell's job (screen.js), as for any game.

/** Add a head one step from the trail's end: lengthen the last segment or start a new one. */
export function extendTrail(trail, x, y) {
  const [hx, hy] = trail[trail.length - 1];
  if (trail.length >= 2) {
    const [px, py] = trail[trail.length - 2];
    if (x - hx === Math.sign(hx - px) && y - hy === Math.sign(hy - py)) {
      trail[trail.length - 1] = [x, y];
      return;
    }
  }
  trail.push([x, y]);
}

function copyPlayer(p) {
  return { ...p, trail: p.trail.map(([x, y]) => [x, y]) };
}

export class LightCyclesModel {
  /** seat: whose view this is (null for a spectator); tickRate: ticks per second. */
  constructor({ seat = null, tickRate = 20 } = {}) {
    this.seat = seat;
    this.tickRate = tickRate;
    // Kept by the shell (screen.js): a keyframe came; deltas went missing; the frame's tick.
    this.ready = false;
    this.stale = false;
    this.tick = -1;
    this.phase = null; // "countdown", "play" or "over"
    this.countdown = 0; // ticks left before play starts
    this.width = 0;
    this.height = 0;
    // Index == seat; each {seat, name, bot, alive, connected, dir, x, y, score, trail}.
    this.players = [];
  }

  /** Replace everything with a keyframe's state (copied: the caller's object stays intact). */
  applyKeyframe(state) {
    this.tick = state.tick;
    this.phase = state.phase;
    this.countdown = state.countdown;
    this.width = state.width;
    this.height = state.height;
    this.players = [];
    for (const p of state.players) this.players[p.seat] = copyPlayer(p);
  }

  /** Apply the delta of the tick after the model's (the shell applies nothing else). */
  applyDelta(delta) {
    this.tick = delta.tick;
    if ("phase" in delta) this.phase = delta.phase;
    if ("countdown" in delta) this.countdown = delta.countdown;
    const players = this.players;
    for (const [seat, x, y] of delta.moves || []) {
      extendTrail(players[seat].trail, x, y);
      players[seat].x = x;
      players[seat].y = y;
    }
    for (const [seat, dir] of delta.dirs || []) players[seat].dir = dir;
    for (const seat of delta.crashed || []) players[seat].alive = false;
    for (const [seat, score] of delta.scores || []) players[seat].score = score;
    for (const [seat, connected] of delta.connected || []) players[seat].connected = connected;
  }

  /** The keyframe this model now equals; tests compare it with the server's next keyframe. */
  snapshot() {
    const { phase, tick, countdown, width, height } = this;
    return { phase, tick, countdown, width, height, players: this.players.map(copyPlayer) };
  }

  /** The whole seconds left in the countdown, as shown to people: 3, 2, 1. */
  countdownSeconds() {
    return Math.max(1, Math.ceil(this.countdown / this.tickRate));
  }
}
