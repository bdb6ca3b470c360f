// The watch view: a running match seen as a spectator, on the play view's stage and HUD.
//
// POST /api/matches/<id>/watch first (a private match needs its code; the answer's grant lets
// this session's EventSource in), then the game's module (gameclients.js), then frames over
// Server-Sent Events (stream.js) or, with `via: "ws"`, over the game socket with the
// spectator ticket. Both give the same events, so everything below the connection is the
// same. A spectator's screen has no input, so it sends no inputs, but its socket acks like a
// player's: the server's flow control needs that.

import * as api from "./api.js";
import { loadGame } from "./gameclients.js";
import { showGameOver, hideGameOver } from "./gameover.js";
import { GameSocket } from "./net.js";
import { MatchScreen } from "./screen.js";
import { WatchStream } from "./stream.js";

const $ = (id) => document.getElementById(id);

// After the stream or socket is lost for good (the browser gave up, or a socket close that
// may be retried): this many fresh starts, this far apart, then back to the lobby.
const RESTARTS = 5;
const RESTART_MS = [500, 1000, 2000, 4000, 8000];
const RETRY_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 4401, 4408, 4429]);

/** `#watch=<id>` (with `&via=ws`, `&code=XXXX`) in the address: what to watch, or null. */
export function watchFromHash(hash = location.hash) {
  const params = new URLSearchParams(hash.slice(1));
  const id = params.get("watch");
  if (!id) return null;
  return { id, via: params.get("via") === "ws" ? "ws" : "sse", code: params.get("code") || "" };
}

export class WatchView {
  /**
   * hud: the play view's; lobby: for the player, the game titles and the error line; hooks:
   * window.gameserver (gets `watch`); chat: the match's ChatPanel (read-only over SSE);
   * toLobby(message): leave for the lobby; quickPlay(game): into a match.
   */
  constructor({ hud, lobby, hooks, chat, toLobby, quickPlay }) {
    Object.assign(this, { hud, lobby, hooks, chat, toLobby, quickPlay });
    this.current = null; // {match, screen, model, stream, via, code, over, down, restarts}
    hooks.watch = null;
    $("watch-another").addEventListener("click", () => this.another());
    $("watch-play").addEventListener("click", () => this.quickPlay(this.current?.match?.game));
  }

  get active() {
    return this.current !== null;
  }

  /** Watch match `id`; via "sse" (the default) or "ws"; code: a private match's join code. */
  async start(id, { via = "sse", code = "" } = {}) {
    this.stop();
    const current = { id, via, code, over: false, down: false, restarts: 0, reconnects: 0 };
    this.current = current;
    let answer, game;
    try {
      await this.lobby.ensurePlayer(); // watching needs a guest, as playing does
      answer = await api.watch(id, code);
      game = await loadGame(answer.match.game, this.lobby.titleOf(answer.match.game));
    } catch (e) {
      if (this.current === current) this.toLobby(e.message);
      return;
    }
    if (this.current !== current) return; // left (or watching another) meanwhile
    Object.assign(current, { match: answer.match, delay: answer.delay || 0, game });
    const shown = `watch=${encodeURIComponent(id)}${via === "ws" ? "&via=ws" : ""}`;
    history.replaceState(null, "", `${location.pathname}${location.search}#${shown}`);
    if (this._show(current)) this._connect(current, answer);
  }

  /** Close the stream and forget the match (the view stays as it is, for the caller). */
  stop() {
    const current = this.current;
    this.current = null;
    this.hooks.watch = null;
    $("game").classList.remove("watching");
    if (!current) return;
    clearTimeout(current.restartTimer);
    if (current.stream) current.stream.close(1000, "stopped watching");
    if (current.screen) current.screen.destroy();
    if (location.hash.startsWith("#watch=")) {
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  /** The next running public match of the same game, or say that none runs. */
  async another() {
    const game = this.current?.match?.game || this.lobby.game();
    const seen = this.current ? this.current.id : null;
    const button = $("watch-another");
    button.disabled = true;
    $("watch-none").hidden = true;
    try {
      const { matches } = await api.live(game);
      const next = matches.find((m) => m.id !== seen && m.status === "running");
      if (next) this.start(next.id, { via: this.current ? this.current.via : "sse" });
      else $("watch-none").hidden = false;
    } catch (e) {
      this.lobby.showError(e.message);
    } finally {
      button.disabled = false;
    }
  }

  _show(current) {
    this.lobby.clearError();
    $("game").hidden = false;
    $("game").classList.add("watching");
    hideGameOver();
    $("watch-none").hidden = true;
    $("notice").hidden = true;
    this._status("connecting…");
    this.chat.clear();
    this.hud.reset();
    const m = current.match;
    const delay = current.delay ? ` · ${current.delay} s behind` : "";
    $("match-info").textContent = `${this.lobby.titleOf(m.game)} · ${m.seats} seats${delay}`;
    try {
      current.screen = new MatchScreen({
        game: current.game,
        match: m,
        seat: null,
        stage: $("stage"),
      });
    } catch (e) {
      console.error(`gameserver: the ${current.game.name} client failed to start`, e);
      this.toLobby(`The browser client of ${this.lobby.titleOf(m.game)} failed to start.`);
      return false;
    }
    current.model = current.screen.model;
    this._publish(current);
    return true;
  }

  /** Between frames: the connection's numbers and the game's clock move on. */
  refresh() {
    const current = this.current;
    if (!current || !current.screen) return;
    this.hud.update(current.stream, current.screen);
    this._status(this._phaseText(current));
  }

  _connect(current, answer) {
    const stream =
      current.via === "ws" ? new GameSocket(answer.ticket) : new WatchStream(answer.stream);
    current.stream = stream;
    this.chat.follow(stream, current.via === "ws");
    const mine = (handler) => (event) => {
      if (this.current === current && current.stream === stream) handler(current, event.detail);
    };
    stream.addEventListener("welcome", mine((c, msg) => this._onWelcome(c, msg)));
    stream.addEventListener("frame", mine((c, msg) => this._onFrame(c, msg)));
    stream.addEventListener("spectators", mine((c, msg) => this._onSpectators(c, msg)));
    stream.addEventListener("notice", mine((c, msg) => this._onNotice(msg)));
    stream.addEventListener("reconnecting", mine((c) => this._onDown(c)));
    stream.addEventListener("over", mine((c, msg) => this._onOver(c, msg.result)));
    stream.addEventListener("close", mine((c, detail) => this._onClose(c, detail)));
    this._publish(current);
  }

  _onWelcome(current, msg) {
    current.role = msg.role;
    current.seat = msg.seat;
    current.match = msg.match;
    current.screen.resync(); // a new socket: wait for its keyframe
    this._publish(current);
  }

  _onFrame(current, msg) {
    if (msg.key && current.down) {
      // Back after a drop: the server resumes with a keyframe.
      current.down = false;
      current.reconnects += 1;
      current.restarts = 0;
    }
    current.screen.applyFrame(msg);
    this.hud.update(current.stream, current.screen);
    this._status(this._phaseText(current));
    this._publish(current);
  }

  _phaseText(current) {
    const view = current.screen.describe(); // the game's say, once a keyframe came
    if (current.over || (view && view.over)) return "over";
    if (current.down) return "reconnecting…";
    return view ? view.status : "connecting…";
  }

  _onSpectators(current, msg) {
    current.spectators = { count: msg.count, names: msg.names || [] };
    this.hud.setWatchers(current.spectators);
    this._publish(current);
  }

  _onNotice(msg) {
    $("notice").textContent = `Notice from staff: ${msg.text}`;
    $("notice").hidden = false;
  }

  _onDown(current) {
    current.down = true;
    this._status("reconnecting…");
    this.hud.update(null, current.screen);
    this._publish(current);
  }

  _onOver(current, result) {
    current.over = true;
    current.down = false;
    this._status("over");
    showGameOver(result, current.screen.names(current.match), null);
    $("watch-another").focus();
    current.result = result;
    this._publish(current);
  }

  /** Lost for good: the match may be over (the API knows), or worth starting again. */
  async _onClose(current, { code, error }) {
    current.stream = null;
    if (current.over) return;
    const why = error && error.message ? ` The server said: ${error.message}.` : "";
    if (current.via === "ws" && !RETRY_CODES.has(code) && code !== 1000) {
      return this.toLobby(`Watching stopped (close code ${code}).${why}`);
    }
    this._onDown(current);
    let match = null;
    try {
      match = (await api.match(current.id)).match;
    } catch (e) {
      console.warn("gameserver: could not fetch the match after the stream closed", e);
    }
    if (this.current !== current) return;
    if (match && match.result) return this._onOver(current, match.result);
    if ((match && match.status !== "running") || current.restarts >= RESTARTS) {
      return this.toLobby(`The match can no longer be watched.${why}`);
    }
    const wait = RESTART_MS[current.restarts];
    current.restarts += 1;
    current.restartTimer = setTimeout(() => this._restart(current), wait);
  }

  async _restart(current) {
    let answer;
    try {
      answer = await api.watch(current.id, current.code); // a socket needs a new ticket
    } catch (e) {
      if (this.current !== current) return;
      if (["match_over", "no_such_match", "private_match", "banned"].includes(e.code)) {
        return this.toLobby(e.message);
      }
      return this._onClose(current, { code: 1006, error: null });
    }
    if (this.current === current) this._connect(current, answer);
  }

  _status(text) {
    if ($("status").textContent !== text) $("status").textContent = text;
  }

  /** What the browser tests read: window.gameserver.watch. */
  _publish(current) {
    const { match, model, via, over, reconnects, role, seat, spectators, down, stream } = current;
    const tick = model && model.ready ? model.tick : null;
    this.hooks.watch = { match, model, tick, via, over, reconnects, role, seat, spectators, down };
    this.hooks.watch.stream = stream || null;
  }
}
