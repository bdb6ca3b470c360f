// The client's copy of a Four in a Row match, kept in step with the server's.
//
// applyDelta is a line-for-line port of apply_delta in games/rules/fourinarow/rules.py:
// keyframe + the deltas after it must equal the next keyframe, so a change there has to be
// made here too. Which frames apply (order, gaps) is the shell's job (screen.js).

export const LINES = [
  [1, 0],
  [0, 1],
  [1, 1],
  [1, -1],
]; // across, up, and the two diagonals

export class FourModel {
  /** seat: whose view this is (null for a spectator). */
  constructor(seat = null) {
    this.seat = seat;
    // Kept by the shell (screen.js): a keyframe came; deltas went missing; the frame's tick.
    this.ready = false;
    this.stale = false;
    this.tick = -1;
    this.columns = 7;
    this.rows = 6;
    this.turn = 0;
    this.deadline = null; // match time the turn runs out at
    this.phase = null; // "playing" or "over"
    this.winner = null;
    this.reason = null;
    this.last = null; // [column, row] of the last disc
    this.grid = []; // grid[column]: the seats of its discs, bottom first
    this.players = []; // [{seat, name, bot, connected}]
    this.dropped = false; // the last frame was a delta that dropped a disc (to animate it)
  }

  /** Replace everything with a keyframe's state (copied: the caller's object stays intact). */
  applyKeyframe(state) {
    this.columns = state.columns;
    this.rows = state.rows;
    this.turn = state.turn;
    this.deadline = state.deadline;
    this.phase = state.phase;
    this.winner = state.winner;
    this.reason = state.reason;
    this.last = state.last ? [...state.last] : null;
    this.grid = state.grid.map((discs) => [...discs]);
    this.players = state.players.map((p) => ({ ...p }));
    this.dropped = false;
  }

  /** Apply the delta of the step after the model's, as apply_delta does. */
  applyDelta(delta) {
    for (const key of ["turn", "deadline", "phase", "winner", "reason"]) {
      if (key in delta) this[key] = delta[key];
    }
    this.dropped = "drop" in delta;
    if (this.dropped) {
      const [seat, column] = delta.drop;
      this.grid[column].push(seat);
      this.last = [column, this.grid[column].length - 1];
    }
    for (const [seat, connected] of delta.connected || []) {
      this.players[seat].connected = connected;
    }
  }

  /** The keyframe this model now equals, for comparing with the server's. */
  snapshot() {
    const { columns, rows, turn, deadline, phase, winner, reason } = this;
    return {
      columns,
      rows,
      turn,
      deadline,
      phase,
      winner,
      reason,
      last: this.last ? [...this.last] : null,
      grid: this.grid.map((discs) => [...discs]),
      players: this.players.map((p) => ({ ...p })),
    };
  }

  /** The seat of the disc at (column, row), row 0 at the bottom; undefined where none. */
  at(column, row) {
    return this.grid[column]?.[row];
  }

  isFull(column) {
    return (this.grid[column]?.length ?? this.rows) >= this.rows;
  }

  discs(seat) {
    return this.grid.reduce((n, discs) => n + discs.filter((s) => s === seat).length, 0);
  }

  /** The cells ("column,row") of every line of four or more of the winner's, to highlight. */
  winningCells() {
    const cells = new Set();
    if (this.winner === null || this.winner === undefined) return cells;
    for (let c = 0; c < this.columns; c++) {
      for (let r = 0; r < this.rows; r++) {
        for (const [dc, dr] of LINES) {
          const run = [];
          while (this.at(c + run.length * dc, r + run.length * dr) === this.winner) {
            run.push(`${c + run.length * dc},${r + run.length * dr}`);
          }
          if (run.length >= 4) run.forEach((cell) => cells.add(cell));
        }
      }
    }
    return cells;
  }
}
