// The client's copy of a Light Cycles match, kept in step with the server's.
//
// applyDelta is a line-for-line port of apply_delta and extend_trail in
// games/rules/lightcycles.py: keyframe + the deltas after it must equal the next keyframe, so
// any change there has to be made here too (docs/GAMES.md describes the format).

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

/** A person whose connection dropped: the seat is held for them and a bot steers meanwhile. */
export function isAway(p) {
  return p.connected === false && !p.bot;
}

/** What to call a player {seat, name} on screen. */
export function playerName(p) {
  return p.name || `seat ${p.seat}`;
}

function copyPlayer(p) {
  return { ...p, trail: p.trail.map(([x, y]) => [x, y]) };
}

export class LightCyclesModel {
  constructor(tickRate = 20) {
    this.tickRate = tickRate;
    this.ready = false; // true once a keyframe came: there is something to draw
    this.stale = false; // deltas went missing: ignore the rest until the next keyframe
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
    this.ready = true;
    this.stale = false;
  }

  /**
   * Apply one tick's delta. A delta for a tick the model already has (it can arrive just after
   * a keyframe) is skipped; one that leaves a gap makes the model wait for the next keyframe,
   * because applying it would silently draw the wrong picture. Returns whether it applied.
   */
  applyDelta(delta) {
    if (!this.ready || this.stale || delta.tick <= this.tick) return false;
    if (delta.tick !== this.tick + 1) {
      this.stale = true;
      return false;
    }
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
    return true;
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
