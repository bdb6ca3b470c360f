// The lobby: pick a name and a game, then quick-play, create a private match, join one by code
// or pick an open public match. Whatever way in, it ends in onSeat({match, seat, ticket}).
// It also lists the running public matches, each with a Watch button: onWatch(match).
// Both lists, the online count and the lobby chat are pushed by the lobby socket
// (lobbyfeed.js) while the lobby is shown; only while that socket is down are the lists
// fetched on a timer instead.

import * as api from "./api.js";
import { ChatPanel } from "./chat.js";
import { LobbyFeed } from "./lobbyfeed.js";
import { playerName } from "./model.js";

const NAME_KEY = "gameserver.name";
const REFRESH_MS = 3000;
const $ = (id) => document.getElementById(id);

export class Lobby {
  constructor({ onSeat, onWatch, showError, clearError }) {
    this.onSeat = onSeat;
    this.onWatch = onWatch;
    this.showError = showError;
    this.clearError = clearError;
    this.player = null; // {id, name} once the session has a guest
    this.games = [];
    this._timer = 0;
    this._busy = false;

    this.nameInput = $("name");
    this.gameSelect = $("game-select");
    this.codeInput = $("join-code");
    this.list = $("open-matches");
    this.listStatus = $("open-matches-status");
    this.liveList = $("live-matches");
    this.liveStatus = $("live-matches-status");
    this.site = null; // the lists as last pushed
    this.feed = new LobbyFeed();
    this.chat = new ChatPanel($("lobby-chat"), { onSay: (text) => this._say(text) });
    this.chat.follow(this.feed);
    this.feed.addEventListener("site", (e) => this._onSite(e.detail));
    this.feed.addEventListener("chat_history", (e) => {
      this.chat.clear();
      e.detail.messages.forEach((line) => this.chat.add(line));
    });

    $("quickplay").addEventListener("click", () => this._enter(() => api.quickPlay(this.game())));
    $("create-private").addEventListener("click", () =>
      this._enter(() => api.createMatch(this.game(), true)),
    );
    $("join-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const code = this.codeInput.value.replace(/\s+/g, "").toUpperCase();
      if (!code) return this.showError("Type your friend's 8-character join code (like K7QM4ZPA).");
      this._enter(() => api.joinByCode(code));
    });
    this.codeInput.addEventListener("input", () => {
      this.codeInput.value = this.codeInput.value.toUpperCase();
    });
    this.gameSelect.addEventListener("change", () =>
      this.site ? this._onSite(this.site) : this.refresh(),
    );

    // Filled at once, not after init(): the buttons work before the first answer comes back.
    this._generatedName = `Player ${Math.floor(1000 + Math.random() * 9000)}`;
    this.nameInput.value = localStorage.getItem(NAME_KEY) || this._generatedName;
    const hash = new URLSearchParams(location.hash.slice(1));
    // #watch=<id>&code=… is a code to watch with, not one to join by.
    const shared = hash.has("watch") ? null : hash.get("code");
    if (shared) this.codeInput.value = shared.toUpperCase();
  }

  /** Load the session and the game list; a returning guest gets their name back. */
  async init() {
    try {
      const [{ player }, { games }] = await Promise.all([api.session(), api.games()]);
      this.player = player;
      this.games = games;
    } catch (e) {
      this.showError(e.message);
    }
    if (this.player && this.nameInput.value === this._generatedName) {
      this.nameInput.value = this.player.name;
    }
    if (!this.games.length) return; // keep the built-in Light Cycles option
    const chosen = this.game();
    this.gameSelect.replaceChildren(
      ...this.games.map(
        (g) => new Option(`${g.title} (${g.min_seats}–${g.max_seats} players)`, g.name),
      ),
    );
    if (this.games.some((g) => g.name === chosen)) this.gameSelect.value = chosen;
  }

  game() {
    return this.gameSelect.value || "lightcycles";
  }

  show() {
    $("lobby").hidden = false;
    this.feed.start();
    if (!this.site) this.refresh();
    clearInterval(this._timer);
    this._timer = setInterval(() => this.feed.connected || this.refresh(), REFRESH_MS);
  }

  hide() {
    $("lobby").hidden = true;
    this.feed.stop();
    this.site = null;
    clearInterval(this._timer);
    this._timer = 0;
  }

  /** The lists as the lobby socket pushed them: every game's, shown for the chosen one. */
  _onSite(site) {
    this.site = site;
    const game = this.game();
    const open = site.open.filter((m) => m.game === game);
    this._render(open);
    this.listStatus.textContent = open.length
      ? ""
      : "No open matches right now: Quick play starts one.";
    this.renderLive(site.live.filter((m) => m.game === game));
    $("online").textContent = `· ${site.online} online`;
  }

  /** Chat needs a player: a new guest's session reaches the lobby socket when it reopens. */
  async _say(text) {
    const before = this.player;
    try {
      await this.ensurePlayer();
    } catch (e) {
      this.chat.say(e.message);
      return;
    }
    if (!before) {
      this.feed.restart();
      await this.feed.opened();
    }
    if (!this.feed.say(text)) this.chat.say("Not connected: try again in a moment.");
  }

  /** Make sure the session's guest exists and carries the name in the field. */
  async ensurePlayer() {
    const name = this.nameInput.value.trim();
    if (!name || name.length > 24) {
      this.nameInput.focus();
      throw new Error("Pick a name of 1 to 24 characters first.");
    }
    if (!this.player || this.player.name !== name) {
      this.player = (await api.guest(name)).player;
    }
    localStorage.setItem(NAME_KEY, name);
    return this.player;
  }

  /** Run one way into a match, with the buttons disabled so a double click joins once. */
  async _enter(call) {
    if (this._busy) return;
    this._busy = true;
    this.clearError();
    const buttons = document.querySelectorAll("#lobby button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      await this.ensurePlayer();
      let seat;
      try {
        seat = await call();
      } catch (e) {
        if (e.code !== "no_player") throw e;
        // The session expired since the name was set: make the guest again, then retry once.
        this.player = null;
        await this.ensurePlayer();
        seat = await call();
      }
      this.onSeat(seat);
    } catch (e) {
      this.showError(e.message);
    } finally {
      this._busy = false;
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  async refresh() {
    if (this._refreshing || $("lobby").hidden) return;
    this._refreshing = true;
    const game = this.game();
    try {
      await Promise.all([this._refreshOpen(game), this._refreshLive(game)]);
    } finally {
      this._refreshing = false;
    }
  }

  async _refreshOpen(game) {
    try {
      const { matches } = await api.openMatches(game);
      this._render(matches);
      this.listStatus.textContent = matches.length
        ? ""
        : "No open matches right now: Quick play starts one.";
    } catch (e) {
      this.listStatus.textContent = `Could not load open matches: ${e.message}`;
    }
  }

  async _refreshLive(game) {
    try {
      this.renderLive((await api.live(game)).matches);
    } catch (e) {
      this.liveStatus.textContent = `Could not load live matches: ${e.message}`;
    }
  }

  /**
   * Show the running public matches: [match with `spectators`], as GET /api/live answers.
   * The whole list each time, from a poll or (later) a push.
   */
  renderLive(matches) {
    const items = matches.map((m) => {
      const li = document.createElement("li");
      li.className = "open-match live-match";
      li.dataset.match = m.id;
      const info = document.createElement("span");
      info.className = "open-match-info";
      const scored = (p) => (p.score == null ? playerName(p) : `${playerName(p)} ${p.score}`);
      const players = m.players.map(scored);
      const watching = m.spectators ? ` · ${m.spectators} watching` : "";
      info.textContent = `${players.join(" · ") || "no players"}${watching}`;
      const watch = document.createElement("button");
      watch.type = "button";
      watch.textContent = "Watch";
      watch.dataset.match = m.id;
      watch.addEventListener("click", () => this.onWatch(m));
      li.append(info, watch);
      return li;
    });
    this.liveList.replaceChildren(...items);
    this.liveStatus.textContent = matches.length ? "" : "No match is being played right now.";
  }

  _render(matches) {
    const items = matches.map((m) => {
      const li = document.createElement("li");
      li.className = "open-match";
      const people = m.players.filter((p) => !p.bot).map((p) => p.name);
      const info = document.createElement("span");
      info.className = "open-match-info";
      info.textContent = `${people.join(", ") || "empty"} · ${m.players.length}/${m.seats} seats`;
      const join = document.createElement("button");
      join.type = "button";
      join.textContent = "Join";
      join.dataset.match = m.id;
      join.addEventListener("click", () => this._enter(() => api.joinMatch(m.id)));
      li.append(info, join);
      return li;
    });
    this.list.replaceChildren(...items);
  }
}
