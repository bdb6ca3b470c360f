// The heads-up display beside the arena: connection numbers and the players. The players'
// rows come from the game (its module's players(model), games/README.md): this draws them.

import { isAway, playerName, seatColor } from "./players.js";

function setText(el, text) {
  // Called up to 20 times a second: touch the DOM only when something changed.
  if (el.textContent !== text) el.textContent = text;
}

function badge(text, className) {
  return Object.assign(document.createElement("b"), { className, textContent: text });
}

export class Hud {
  constructor() {
    this.ping = document.getElementById("hud-ping");
    this.tick = document.getElementById("hud-tick");
    this.fps = document.getElementById("hud-fps");
    this.players = document.getElementById("hud-players");
    this.watchers = document.getElementById("hud-watchers");
    this.watcherNames = document.getElementById("hud-watcher-names");
    this._playersKey = "";
  }

  reset() {
    setText(this.ping, "–");
    setText(this.tick, "–");
    setText(this.fps, "–");
    this.players.replaceChildren();
    this._playersKey = "";
    this.setWatchers(null);
  }

  /** Who watches the match ({count, names}, from `spectators` messages); null: unknown. */
  setWatchers(spectators) {
    setText(this.watchers, spectators ? String(spectators.count) : "–");
    const names = spectators ? spectators.names : [];
    const others = spectators ? spectators.count - names.length : 0;
    const more = others > 0 ? ` and ${others} more` : "";
    setText(this.watcherNames, names.length ? `Watching: ${names.join(", ")}${more}` : "");
  }

  /** socket: GameSocket, WatchStream or null; screen: the MatchScreen on show, or null. */
  update(socket, screen) {
    // No socket: between a drop and the reconnect the old numbers would be stale.
    setText(this.ping, !socket || socket.rtt === null ? "–" : `${Math.round(socket.rtt)} ms`);
    setText(this.fps, socket ? String(socket.fps) : "–");
    if (screen && screen.ready) setText(this.tick, String(screen.model.tick));
    this._players(screen ? screen.rows() : [], screen ? screen.seat : null);
  }

  /** rows: [{seat, name, bot, connected, score, out, state}]; `out` is out of the game. */
  _players(players, seat) {
    const key = JSON.stringify([
      seat,
      players.map((p) => [p.seat, p.name, p.score, p.out, p.state, p.connected, p.bot]),
    ]);
    if (key === this._playersKey) return;
    this._playersKey = key;
    const items = players.map((p) => {
      const away = isAway(p);
      const li = document.createElement("li");
      li.className =
        "hud-player" +
        (p.out ? " out" : "") +
        (p.seat === seat ? " you" : "") +
        (away ? " away" : "");
      li.dataset.seat = p.seat;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = seatColor(p.seat);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = playerName(p);
      if (p.seat === seat) name.append(badge("you", "badge"));
      if (p.bot) name.append(badge("bot", "badge bot"));
      if (away) li.title = "Connection lost: their seat is held for them for a while";
      const state = document.createElement("span");
      state.className = "state";
      state.textContent = !p.out && away ? "(away)" : p.state || "";
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = String(p.score ?? 0);
      li.append(swatch, name, state, score);
      return li;
    });
    this.players.replaceChildren(...items);
  }
}
