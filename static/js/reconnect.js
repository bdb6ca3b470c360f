// Getting a dropped seat back: which close codes are worth a retry, how long to wait between
// tries, and how long the server holds the seat (welcome.grace). docs/PROTOCOL.md, "Close
// codes" and "Dropping out and reconnecting", is the server's side of this.

/** Close codes after which a new ticket and a new socket can get the seat back. */
export const RETRY_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 4401, 4408, 4429]);

// The seat is gone, whichever way the page learns it: a 4410 close, a 410 to the ticket call,
// or its own countdown running out.
const SEAT_LOST_MESSAGE =
  "Your seat was lost: the connection stayed down longer than the server holds a seat. " +
  "Quick play to start a new match.";

/** Close codes after which retrying cannot help (1000 is the game-over flow's). */
export const STOP_MESSAGES = {
  4400: "The server rejected this client's messages (4400). Reload the page to get a fresh client.",
  4403: "This ticket is for another match or player (4403). Join again from the lobby.",
  4404: "This match is over or gone (4404).",
  4409: "This seat is now played from another tab or device, so this one stopped (4409).",
  4410: SEAT_LOST_MESSAGE,
};

/** Closes that staff caused (4403 with these error codes): never retried either. */
export const STAFF_MESSAGES = {
  kicked: "You were removed from the match by the game's staff.",
  banned: "This account may not play any more (the game's staff banned it).",
};

const DROP_REASONS = {
  1000: "The connection closed but the match goes on.",
  1001: "The server is restarting.",
  1005: "The connection closed without a reason.",
  1006: "The connection dropped.",
  1011: "The server hit an error.",
  1012: "The server is restarting.",
  1013: "No engine is running this match yet.",
  4401: "The ticket was not accepted.",
  4408: "Your connection fell too far behind.",
  4429: "Too many messages were sent; slowing down.",
};

// Until a welcome says otherwise (a first connection can fail before one comes): the
// documented default of GAMESERVER_RECONNECT_GRACE.
const FALLBACK_GRACE_SECONDS = 20;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 8000;
const JITTER = 0.3; // ±30 %, so the players of a restarted server do not all come back at once
const RATE_LIMITED_MIN_MS = 3000; // 4429 asked us to slow down: never retry sooner than this
const LAST_TRY_MS = 1000; // before the deadline
const REDRAW_MS = 250;

/** The wait before try number `attempt` (0-based): 0.5 s doubling up to 8 s, ±30 %. */
function backoffMs(attempt, random = Math.random) {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  return Math.round(base * (1 + JITTER * (2 * random() - 1)));
}

/** How a failed POST /api/matches/ID/ticket ends the outage, or null to keep trying. */
function ticketVerdict(error) {
  const status = error.status || 0;
  if (status === 0 || status === 408 || status === 429 || status >= 500) return null;
  if (status === 410) return { reason: "seat_lost", message: SEAT_LOST_MESSAGE };
  if (status === 409) return { reason: "match_over", message: error.message };
  if (status === 404) {
    return { reason: "stopped", message: "You no longer hold a seat in this match (404)." };
  }
  return { reason: "stopped", message: `Could not rejoin the match: ${error.message}` };
}

/**
 * Runs one match's reconnects. The page reports each retryable close with dropped() and the
 * first keyframe or lobby message of a new socket with resumed(); in between this asks for tickets and opens
 * sockets with backoff until the seat's grace period, counted from the first drop, runs out.
 *
 * newTicket(): Promise<{ticket}>; connect(ticket): open a socket for it; show(state | null):
 * draw {secondsLeft, attempt, reason, nextInMs}; giveUp({reason, message}): stop for good,
 * reason "seat_lost", "match_over" or "stopped".
 */
export class Reconnector {
  constructor({ newTicket, connect, show, giveUp }) {
    Object.assign(this, { newTicket, connect, show, giveUp });
    this.graceSeconds = FALLBACK_GRACE_SECONDS;
    this.outage = null; // {deadline, attempt, reason, nextAt}
    this._timer = 0;
    this._redraw = 0;
  }

  get active() {
    return this.outage !== null;
  }

  /** A retryable close: start the countdown if this is the first, then plan the next try. */
  dropped(code, error) {
    const now = performance.now();
    if (!this.outage) {
      this.outage = { deadline: now + this.graceSeconds * 1000, attempt: 0, reason: "" };
      this._redraw = setInterval(() => this._draw(), REDRAW_MS);
    }
    const said = error && error.message ? ` The server said: ${error.message}.` : "";
    this.outage.reason = (DROP_REASONS[code] || `The connection closed (${code}).`) + said;
    this._schedule(code === 4429 ? RATE_LIMITED_MIN_MS : 0);
  }

  /** The engine answers on a new socket: the seat is back. Returns whether an outage ended. */
  resumed() {
    const was = this.active;
    this.cancel();
    return was;
  }

  /** Try at once rather than at the end of the current wait, e.g. when the network is back. */
  retryNow() {
    const outage = this.outage;
    if (!outage || !outage.nextAt) return; // no outage, or a try is under way
    clearTimeout(this._timer);
    this._try(outage);
  }

  /** Stop trying and hide the countdown, e.g. when the player leaves the match. */
  cancel() {
    clearTimeout(this._timer);
    clearInterval(this._redraw);
    const was = this.active;
    this.outage = null;
    if (was) this.show(null);
  }

  _schedule(minMs) {
    const outage = this.outage;
    let delay = Math.max(minMs, backoffMs(outage.attempt));
    // A last try shortly before the seat is given up, rather than none at all.
    const left = outage.deadline - performance.now();
    if (delay > left - LAST_TRY_MS && left > 2 * LAST_TRY_MS) delay = left - LAST_TRY_MS;
    outage.attempt += 1;
    outage.nextAt = performance.now() + delay;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._try(outage), delay);
    this._draw();
  }

  async _try(outage) {
    if (this.outage !== outage || this._expired()) return;
    outage.nextAt = null;
    this._draw();
    let ticket;
    try {
      ({ ticket } = await this.newTicket());
    } catch (error) {
      if (this.outage !== outage) return; // resumed or cancelled meanwhile
      const verdict = ticketVerdict(error);
      if (verdict) return this._end(verdict);
      // ApiError's own text for a network failure tells the player to retry: we do that.
      outage.reason = error.status ? error.message : "The server cannot be reached.";
      return this._schedule(0);
    }
    // The socket's close, if it fails too, comes back through dropped().
    if (this.outage === outage) this.connect(ticket);
  }

  _expired() {
    if (!this.outage || performance.now() < this.outage.deadline) return false;
    this._end({ reason: "seat_lost", message: SEAT_LOST_MESSAGE });
    return true;
  }

  _end(verdict) {
    this.cancel();
    this.giveUp(verdict);
  }

  _draw() {
    const outage = this.outage;
    if (!outage || this._expired()) return;
    const now = performance.now();
    this.show({
      secondsLeft: Math.max(0, Math.ceil((outage.deadline - now) / 1000)),
      attempt: outage.attempt,
      reason: outage.reason,
      nextInMs: outage.nextAt ? Math.max(0, outage.nextAt - now) : 0,
    });
  }
}
