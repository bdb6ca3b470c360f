// The lobby socket (/ws/lobby/, docs/PROTOCOL.md "The lobby socket"): the open and running
// matches and how many are online, pushed as they change, and the lobby's chat. Reconnects by
// itself with back-off while the lobby is shown.
//
// Events (CustomEvent, payload in `detail`): site {online, open, live}, chat_history
// {messages}, chat {...line}, chat_deleted {id}, error {code, message}, status {connected}.

const SUBPROTOCOL = "gameserver.v1.json";
const RETRY_FIRST_MS = 500;
const RETRY_MOST_MS = 8000;

export function lobbyUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/lobby/`;
}

export class LobbyFeed extends EventTarget {
  constructor(url = lobbyUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.wanted = false;
    this.reconnects = 0;
    this._retryMs = RETRY_FIRST_MS;
    this._timer = 0;
  }

  get connected() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  start() {
    this.wanted = true;
    if (!this.ws) this._open();
  }

  /** Close it (the page left the lobby); start() opens it again. */
  stop() {
    this.wanted = false;
    clearTimeout(this._timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "left the lobby");
  }

  /** Reopen now: the session changed (a name was chosen), so the server must read it again. */
  restart() {
    this.stop();
    this.start();
  }

  /** Resolves once the socket is open (now, if it is). */
  opened() {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (e) => {
        if (!e.detail.connected) return;
        this.removeEventListener("status", done);
        resolve();
      };
      this.addEventListener("status", done);
    });
  }

  say(text) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify({ type: "chat", text }));
    return true;
  }

  _open() {
    const ws = new WebSocket(this.url, [SUBPROTOCOL]);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this._retryMs = RETRY_FIRST_MS;
      this._emit("status", { connected: true });
    });
    ws.addEventListener("message", (e) => {
      if (ws !== this.ws) return;
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      this._emit(msg.type, msg);
    });
    ws.addEventListener("close", () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this._emit("status", { connected: false });
      if (!this.wanted) return;
      // Jittered back-off, so a restarted server is not met by every page at once.
      const wait = this._retryMs * (0.7 + Math.random() * 0.6);
      this._retryMs = Math.min(RETRY_MOST_MS, this._retryMs * 2);
      this._timer = setTimeout(() => {
        if (!this.wanted || this.ws) return;
        this.reconnects += 1;
        this._open();
      }, wait);
    });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
