// A spectator's stream of a match over Server-Sent Events: an EventSource on
// /api/matches/<id>/stream, with the events and fields of GameSocket (net.js), so the watch
// view takes either. The server frames every event once for all streams; its ids are ticks,
// so a reconnecting EventSource sends the last one (Last-Event-ID) and gets a keyframe next.
//
// Events (all CustomEvent, payload in `detail`):
//   open          {}                        the stream answered (again, after a drop)
//   frame         {tick, sent, key, state | delta}   the JSON a player's socket gets; the
//                                           server names keyframes `keyframe`, deltas `frame`
//   spectators    {count, names}            who watches the match
//   lobby, notice                           as on the game socket
//   over          {result}                  the match ended; the stream closes after it
//   error         {code, message}           an `error` event from the server (the stream ends)
//   reconnecting  {}                        the connection dropped; it is being got back
//   close         {code, reason, error}     for good, once: 1000 after `over`; 1006 when the
//                                           browser gave up (the server refused a reconnect)

// Frames come 20 times a second; the server's keep-alive comments do not reach scripts. This
// much silence means a dead path (a frozen NAT) that the browser would wait on for minutes.
const SILENT_MS = 10000;
const WATCHDOG_MS = 500;
const RELAYED = ["spectators", "lobby", "notice", "chat", "chat_deleted"];

export class WatchStream extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.lastTick = -1;
    this.rtt = null; // a stream cannot ping: the HUD shows no round trip
    this.fps = 0; // frames received over the last second
    this.source = null;
    this._frameTimes = [];
    this._lastError = null;
    this._down = false; // between a drop and the next `open`
    this._closeEmitted = false;
    this._lastHeardAt = performance.now();
    this._timer = setInterval(() => this._watch(), WATCHDOG_MS);
    this._connect();
  }

  get open() {
    return Boolean(this.source) && this.source.readyState === EventSource.OPEN;
  }

  close(code = 1000, reason = "client left") {
    clearInterval(this._timer);
    if (this.source) this.source.close();
    this._emitClose({ code, reason, error: code === 1000 ? null : this._lastError });
  }

  _connect() {
    // Same origin: the session cookie goes along (a private match's watch grant is on it).
    const source = new EventSource(this.url, { withCredentials: true });
    this.source = source;
    const mine = (handler) => (event) => source === this.source && handler(event);
    source.addEventListener("open", mine(() => this._onOpen()));
    source.addEventListener("keyframe", mine((e) => this._onFrame(e)));
    source.addEventListener("frame", mine((e) => this._onFrame(e)));
    source.addEventListener("over", mine((e) => this._onOver(e)));
    for (const kind of RELAYED) {
      source.addEventListener(kind, mine((e) => this._relay(kind, e)));
    }
    source.addEventListener("error", mine((e) => this._onError(e)));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _parse(event) {
    this._lastHeardAt = performance.now();
    try {
      return JSON.parse(event.data);
    } catch {
      console.warn("gameserver: ignoring an event that is not JSON", event.type, event.data);
      return null;
    }
  }

  _onOpen() {
    this._lastHeardAt = performance.now();
    this._down = false;
    this._emit("open", {});
  }

  _onFrame(event) {
    const msg = this._parse(event);
    if (!msg) return;
    const now = performance.now();
    this._frameTimes.push(now);
    while (this._frameTimes.length && now - this._frameTimes[0] > 1000) this._frameTimes.shift();
    this.fps = this._frameTimes.length;
    if (typeof msg.tick === "number" && msg.tick > this.lastTick) this.lastTick = msg.tick;
    this._emit("frame", msg);
  }

  _relay(kind, event) {
    const msg = this._parse(event);
    if (msg) this._emit(kind, msg);
  }

  _onOver(event) {
    const msg = this._parse(event);
    if (!msg) return;
    this.source.close(); // left open, the EventSource would reconnect when the server ends
    this._emit("over", msg);
    this.close(1000, "match over");
  }

  _onError(event) {
    // The server's `error` events and the EventSource's own failures share the name; only
    // the server's carry data.
    if (event instanceof MessageEvent && event.data) {
      const msg = this._parse(event);
      if (!msg) return;
      this._lastError = { code: msg.code, message: msg.message };
      console.warn("gameserver error:", msg.code, msg.message);
      this._emit("error", this._lastError);
      return;
    }
    if (this.source.readyState === EventSource.CLOSED) {
      // Refused (an HTTP error, not a stream): the browser does not try again by itself.
      this.close(1006, "the stream was refused");
    } else {
      this._dropped();
    }
  }

  _dropped() {
    this.fps = 0;
    this._frameTimes = [];
    if (this._down) return;
    this._down = true;
    this._emit("reconnecting", {});
  }

  _watch() {
    const quiet = performance.now() - this._lastHeardAt;
    if (this.open && quiet > SILENT_MS) {
      console.warn(`gameserver: no event for ${Math.round(quiet / 1000)} s; reconnecting`);
      this.source.close();
      this._dropped();
      this._lastHeardAt = performance.now();
      this._connect(); // a new EventSource sends no Last-Event-ID: it starts at a keyframe
    }
  }

  _emitClose(detail) {
    if (this._closeEmitted) return;
    this._closeEmitted = true;
    this._emit("close", detail);
  }
}
