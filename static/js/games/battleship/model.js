// The client's copy of a Battleship match, in the shape of the server's keyframe.
//
// applyDelta is a line-for-line port of apply_delta in games/rules/battleship/rules.py (its
// docstring gives the keyframe and delta formats): keyframe + the deltas after it must equal
// the next keyframe, so any change there has to be made here too. Which frames apply is the
// shell's job (screen.js). Everything else here only reads the model.

const KEYS = ["phase", "turn", "deadline", "winner", "reason"];

const copyShips = (ships) => ships.map((ship) => ship.slice());

export class BattleshipModel {
  /** seat: whose view this is (null for a spectator); options: the match's, when known. */
  constructor({ seat = null, options = {} } = {}) {
    this.seat = seat;
    // Kept by the shell (screen.js): a keyframe came; deltas went missing; the frame's tick.
    this.ready = false;
    this.stale = false;
    this.tick = -1;
    // The keyframe's fields (rules.py's docstring).
    this.phase = null; // "placing", "firing" or "over"
    this.size = options.size ?? 10;
    this.fleet = [];
    this.turn = null;
    this.deadline = null; // match time, in seconds
    this.you = seat;
    this.players = []; // {seat, name, bot, connected, ready, hits, timeouts}
    this.ships = []; // my own fleet; [] until placed, and for spectators
    this.shots = [[], []]; // [x, y, hit] fired BY each seat
    this.sunk = [[], []]; // ships OWNED by each seat, in sinking order
    this.winner = null;
    this.reason = null;
    // Not in the keyframe: for drawing only.
    this.turnSeconds = options.turn_seconds ?? 30;
    this.placementSeconds = options.placement_seconds ?? 60;
    this.lastShot = null; // [shooter, x, y, hit]
  }

  /** Replace everything with a keyframe's state (copied: the caller's object stays intact). */
  applyKeyframe(state) {
    const before = this.shots.map((shots) => shots.length);
    for (const key of KEYS) this[key] = state[key];
    this.size = state.size;
    this.fleet = state.fleet.slice();
    this.you = state.you;
    this.players = state.players.map((p) => ({ ...p }));
    this.ships = copyShips(state.ships);
    this.shots = state.shots.map((shots) => shots.map((shot) => shot.slice()));
    this.sunk = state.sunk.map(copyShips);
    this.lastShot = lastShotOf(this, before, this.lastShot);
  }

  /** Apply the delta of the step after the model's, exactly as rules.py's apply_delta. */
  applyDelta(delta) {
    for (const key of KEYS) if (key in delta) this[key] = delta[key];
    for (const seat of delta.ready || []) this.players[seat].ready = true;
    for (const [seat, name, value] of delta.players || []) this.players[seat][name] = value;
    if ("ships" in delta) this.ships = copyShips(delta.ships);
    if ("shot" in delta) {
      const [shooter, x, y, hit] = delta.shot;
      this.shots[shooter].push([x, y, hit]);
      this.lastShot = [shooter, x, y, hit];
    }
    if ("sunk" in delta) {
      const [owner, ...ship] = delta.sunk;
      this.sunk[owner].push(ship);
    }
  }

  /** The keyframe this model now equals; tests compare it with the server's. */
  snapshot() {
    const { phase, size, turn, deadline, you, winner, reason } = this;
    return {
      phase,
      size,
      fleet: this.fleet.slice(),
      turn,
      deadline,
      you,
      players: this.players.map((p) => ({ ...p })),
      ships: copyShips(this.ships),
      shots: this.shots.map((shots) => shots.map((shot) => shot.slice())),
      sunk: this.sunk.map(copyShips),
      winner,
      reason,
    };
  }

  /** The other seat of a two-seat match. */
  other(seat) {
    return this.players[1 - seat];
  }

  /** Ships still afloat of `seat`'s fleet. */
  afloat(seat) {
    return this.fleet.length - this.sunk[seat].length;
  }

  /** Whole seconds to the deadline at match time `time` (never below 0), or null. */
  secondsLeft(time) {
    if (this.deadline === null || this.deadline === undefined || time === null) return null;
    return Math.max(0, Math.ceil(this.deadline - time));
  }
}

/**
 * Which shot was fired last, after a keyframe (a delta names it): the one new shot since the
 * frame before if there is one, the one known if none is new; after a gap (a reconnect), the
 * seat with more shots, else the one before the seat to fire (or the winner).
 */
function lastShotOf(model, before, known) {
  const { shots } = model;
  const grown = [0, 1].filter((seat) => shots[seat].length !== (before[seat] ?? 0));
  let shooter = null;
  if (grown.length === 1 && shots[grown[0]].length === (before[grown[0]] ?? 0) + 1) {
    shooter = grown[0];
  } else if (grown.length === 0 && known) {
    return known;
  } else if (shots[0].length !== shots[1].length) {
    shooter = shots[0].length > shots[1].length ? 0 : 1;
  } else if (model.turn !== null) shooter = 1 - model.turn;
  else if (model.winner !== null) shooter = model.winner;
  const last = shooter === null ? null : shots[shooter][shots[shooter].length - 1];
  return last ? [shooter, ...last] : null;
}
