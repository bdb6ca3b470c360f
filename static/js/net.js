// One WebSocket to /ws/play/ speaking gameserver.v1.json (docs/PROTOCOL.md).
//
// Events (all CustomEvent, payload in `detail`):
//   open     {}                         socket is open (before welcome)
//   welcome  {match, seat, tick_rate, server_time}
//   frame    {tick, sent, key, state | delta}
//   lobby    {seats, players: [{seat, name}], bots_in}   while the match waits for players
//   over     {result}
//   notice   {text}                     a notice from the game's staff
//   spectators {count, names}           who watches the match
//   chat     {id, room, name, seat, spectator, text, at}   a line of the match's chat
//   chat_deleted {id}                   staff took that line away
//   error    {code, message}            an `error` message from the server
//   close    {code, reason, error}      `error` is the last server error message, if any;
//                                       emitted once, also when the watchdog gives up on a
//                                       silent connection (code 1006, without waiting for TCP)

const SUBPROTOCOL = "gameserver.v1.json";
// The server stops sending frames to a socket whose acks lag, and closes one that says nothing
// for a while (4408): ack at least every 250 ms. Due after 200 ms, checked on every frame and
// every 50 ms, so neither late timers nor a background tab's throttled ones stretch the gap.
const ACK_DUE_MS = 200;
const ACK_CHECK_MS = 50;
const PING_EVERY_MS = 2000;
// A dead network path (Wi-Fi gone, a NAT that forgot us) closes nothing: the browser would
// wait for TCP for minutes. Frames come 20 times a second and pongs every 2 s, so this much
// silence means the connection is gone.
const SILENT_MS = 6000;
const CONNECT_TIMEOUT_MS = 10000; // handshake until the first message
const WATCHDOG_MS = 500;

export function playUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/play/`;
}

export class GameSocket extends EventTarget {
  constructor(ticket, url = playUrl()) {
    super();
    this.lastTick = -1; // last tick received; every input and ack carries it
    this.rtt = null; // ms, from the latest pong
    this.clockOffset = null; // ms to add to Date.now() to get server time
    this.fps = 0; // frames received over the last second
    this._frameTimes = [];
    this._pings = new Map(); // id -> {perf, wall} at send time
    this._pingId = 0;
    this._bestPingRtt = Infinity;
    this._lastAckAt = 0; // when the last message carrying an ack went out (an input or an ack)
    this._lastHeardAt = performance.now();
    this._lastError = null;
    this._closeEmitted = false;
    this._timers = [setInterval(() => this._watch(), WATCHDOG_MS)];

    // The ticket rides as a second sub-protocol token: never in the URL (it would be logged).
    this.ws = new WebSocket(url, [SUBPROTOCOL, "ticket." + ticket]);
    this.ws.addEventListener("open", () => this._onOpen());
    this.ws.addEventListener("message", (e) => this._onMessage(e));
    this.ws.addEventListener("close", (e) => this._onClose(e));
  }

  get open() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Send a game input; `data` is the game's input object, e.g. {dir: "up"}. Returns whether
   * it went out (the socket is open). */
  sendInput(data) {
    return this._send({ type: "input", ack: Math.max(0, this.lastTick), data });
  }

  /** Say a line in the match's chat (the server checks it and answers refusals as errors). */
  sendChat(text) {
    return this._send({ type: "chat", text });
  }

  close(code = 1000, reason = "client left") {
    this._stopTimers();
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(code, reason);
  }

  /** Give up on a connection that went quiet: report it closed now, not when TCP notices. */
  _abandon(reason) {
    console.warn("gameserver:", reason);
    this.close(4000, reason);
    // The server said nothing about this close: an older error message is not its reason.
    this._emitClose({ code: 1006, reason, error: null });
  }

  _watch() {
    const quiet = performance.now() - this._lastHeardAt;
    if (this.open && quiet > SILENT_MS) {
      this._abandon(`no message from the server for ${Math.round(quiet / 1000)} s`);
    } else if (!this.open && quiet > CONNECT_TIMEOUT_MS) {
      this._abandon(`the server did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`);
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    if ("ack" in message) this._lastAckAt = performance.now();
    return true;
  }

  /** Ack the newest tick unless an input or ack said so recently. */
  _ackIfDue() {
    if (this.lastTick < 0 || performance.now() - this._lastAckAt < ACK_DUE_MS) return;
    this._send({ type: "ack", ack: this.lastTick });
  }

  _onOpen() {
    this._lastHeardAt = performance.now();
    this._emit("open", {});
    // Also while no frames come: a paused socket resumes once its ack reaches the last frame.
    this._timers.push(setInterval(() => this._ackIfDue(), ACK_CHECK_MS));
    this._ping();
    this._timers.push(setInterval(() => this._ping(), PING_EVERY_MS));
  }

  _ping() {
    const id = ++this._pingId;
    this._pings.set(id, { perf: performance.now(), wall: Date.now() });
    // Answers that never come must not pile up.
    for (const old of this._pings.keys()) if (old < id - 5) this._pings.delete(old);
    this._send({ type: "ping", id }); // not an ack: the next ack still goes out on time
  }

  _onPong(msg) {
    const sent = this._pings.get(msg.id);
    if (!sent) return;
    this._pings.delete(msg.id);
    this.rtt = performance.now() - sent.perf;
    // NTP-style: the server read its clock about halfway through the round trip. The
    // shortest round trip seen gives the least skewed estimate, so prefer it.
    if (typeof msg.server_time === "number" && this.rtt <= this._bestPingRtt * 1.5) {
      this._bestPingRtt = Math.min(this._bestPingRtt, this.rtt);
      this.clockOffset = msg.server_time - (sent.wall + this.rtt / 2);
    }
  }

  _onFrame(msg) {
    const now = performance.now();
    this._frameTimes.push(now);
    while (this._frameTimes.length && now - this._frameTimes[0] > 1000) this._frameTimes.shift();
    this.fps = this._frameTimes.length;
    if (typeof msg.tick === "number" && msg.tick > this.lastTick) this.lastTick = msg.tick;
    // Until the first pong, `sent` bounds the offset from below (it includes one-way delay).
    if (this.rtt === null && typeof msg.sent === "number") {
      const sample = msg.sent - Date.now();
      if (this.clockOffset === null || sample > this.clockOffset) this.clockOffset = sample;
    }
    this._ackIfDue();
    this._emit("frame", msg);
  }

  _onMessage(event) {
    this._lastHeardAt = performance.now();
    if (typeof event.data !== "string") return; // binary frames are the msgpack protocol's
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      console.warn("gameserver: ignoring a frame that is not JSON", event.data);
      return;
    }
    switch (msg.type) {
      case "frame":
        this._onFrame(msg);
        break;
      case "pong":
        this._onPong(msg);
        break;
      case "welcome":
        if (typeof msg.server_time === "number" && this.clockOffset === null) {
          this.clockOffset = msg.server_time - Date.now();
        }
        this._emit("welcome", msg);
        break;
      case "lobby":
      case "over":
      case "notice":
      case "spectators":
      case "chat":
      case "chat_deleted":
        this._emit(msg.type, msg);
        break;
      case "error":
        this._lastError = { code: msg.code, message: msg.message };
        console.warn("gameserver error:", msg.code, msg.message);
        this._emit("error", this._lastError);
        break;
      default:
        console.warn("gameserver: unknown message type", msg.type);
    }
  }

  _onClose(event) {
    this._stopTimers();
    // Only the server's own close codes (4xxx) follow from an error message it sent.
    const error = event.code >= 4000 ? this._lastError : null;
    this._emitClose({ code: event.code, reason: event.reason, error });
  }

  _emitClose(detail) {
    if (this._closeEmitted) return;
    this._closeEmitted = true;
    this._emit("close", detail);
  }

  _stopTimers() {
    for (const t of this._timers) clearInterval(t);
    this._timers = [];
  }
}
