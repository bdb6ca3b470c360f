// The lobby: pick a name and a game, then quick-play, create a match with the game's settings
// (matchform.js), join one by code or pick an open public match. Whatever way in, it ends in
// onSeat({match, seat, ticket}). It also lists the running public matches, each with a Watch
// button: onWatch(match). The lists hold every listed game's matches, the chosen game's
// first. Both lists, the online count and the lobby chat are pushed by the lobby socket
// (lobbyfeed.js) while the lobby is shown; only while that socket is down are the lists
// fetched on a timer instead.

import * as api from "./api.js";
import { FALLBACK_GAMES, normalizeGames, seatRange } from "./catalog.js";
import { ChatPanel } from "./chat.js";
import { loadGame } from "./gameclients.js";
import { LobbyFeed } from "./lobbyfeed.js";
import { FieldError, MatchForm } from "./matchform.js";
import { playerName } from "./players.js";

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
    this.games = FALLBACK_GAMES; // the server's list once it answers (catalog.js)
    this._listed = false; // whether this.games is the server's
    this.clients = new Map(); // game name -> true (its browser client loads) or false
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

    this.form = new MatchForm($("create-fields"), $("create-title"));
    this.form.show(this.entry());
    this._describe();
    $("quickplay").addEventListener("click", () => {
      const game = this.game();
      this._enter(() => api.quickPlay(game), game);
    });
    $("create-form").addEventListener("submit", (e) => {
      e.preventDefault();
      // Enter in a field submits with the first button: a private match, the usual wish.
      this._create(e.submitter?.id !== "create-public");
    });
    $("join-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const code = this.codeInput.value.replace(/\s+/g, "").toUpperCase();
      if (!code) return this.showError("Type your friend's 8-character join code (like K7QM4ZPA).");
      this._enter(() => api.joinByCode(code));
    });
    this.codeInput.addEventListener("input", () => {
      this.codeInput.value = this.codeInput.value.toUpperCase();
    });
    this.gameSelect.addEventListener("change", () => {
      this.form.show(this.entry());
      this._describe();
      this._showLists();
    });

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
      const listed = normalizeGames(games);
      if (listed.length) [this.games, this._listed] = [listed, true];
    } catch (e) {
      this.showError(e.message);
    }
    if (this.player && this.nameInput.value === this._generatedName) {
      this.nameInput.value = this.player.name;
    }
    if (!this._listed) return; // keep the built-in Light Cycles option
    const chosen = this.game();
    this._fillPicker();
    if (this.games.some((g) => g.name === chosen)) this.gameSelect.value = chosen;
    this.form.show(this.entry());
    this._describe();
    this._probeClients();
  }

  game() {
    return this.gameSelect.value || "lightcycles";
  }

  /** The list's entry of game `name` (the chosen one by default), {name, title} if unlisted. */
  entry(name = this.game()) {
    return this.games.find((g) => g.name === name) || { name, title: name, options: [] };
  }

  /** What people call game `name`. */
  titleOf(name) {
    return this.entry(name).title;
  }

  _fillPicker() {
    const label = (g) => {
      if (this.clients.get(g.name) === false) return `${g.title} (no browser client yet)`;
      const range = seatRange(g);
      return range ? `${g.title} (${range})` : g.title;
    };
    const chosen = this.game();
    this.gameSelect.replaceChildren(...this.games.map((g) => new Option(label(g), g.name)));
    this.gameSelect.value = chosen;
  }

  /**
   * One line under the picker: how the chosen game plays, or that it cannot be played here
   * (then the buttons that would seat the player in one are off).
   */
  _describe() {
    const game = this.entry();
    const missing = this.clients.get(game.name) === false;
    if (!this._busy) {
      for (const id of ["quickplay", "create-private", "create-public"]) $(id).disabled = missing;
    }
    let text;
    if (missing) {
      text = `${game.title} has no browser client yet: pick another game.`;
    } else {
      const pace = game.kind === "events" ? "Turn by turn" : "Realtime";
      const range = seatRange(game);
      text = `${pace}${range ? `, ${range}` : ""}${game.bots ? "; bots fill empty seats." : "."}`;
    }
    $("game-about").textContent = text;
  }

  /** Load every listed game's client in the background, to mark the ones this page lacks. */
  _probeClients() {
    for (const game of this.games) {
      loadGame(game.name, game.title).then(
        () => this._clientKnown(game.name, true),
        () => this._clientKnown(game.name, false),
      );
    }
  }

  _clientKnown(name, ok) {
    if (this.clients.get(name) === ok) return;
    this.clients.set(name, ok);
    this._fillPicker();
    this._describe();
    this._showLists();
  }

  /** Create a match of the chosen game with the form's settings. */
  _create(isPrivate) {
    const game = this.game();
    let settings;
    try {
      settings = this.form.values();
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      this.showError(e.message);
      e.field.focus();
      return;
    }
    this._enter(() => api.createMatch(game, isPrivate, settings), game);
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

  /** The lists as the lobby socket pushed them. */
  _onSite(site) {
    this.site = site;
    this._showLists();
    $("online").textContent = `· ${site.online} online`;
  }

  /** Show the lists again (the chosen game, or what is known of the clients, changed). */
  _showLists() {
    if (this.site) {
      this._renderOpen(this.site.open);
      this.renderLive(this.site.live);
    } else {
      if (this._open) this._renderOpen(this._open);
      if (this._live) this.renderLive(this._live);
    }
  }

  /** The matches of the games the lobby offers, the chosen game's first (a stable sort). */
  _shown(matches) {
    const listed = (m) => !this._listed || this.games.some((g) => g.name === m.game);
    const game = this.game();
    return matches.filter(listed).sort((a, b) => (b.game === game) - (a.game === game));
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

  /**
   * Run one way into a match, with the buttons disabled so a double click joins once. `game`,
   * when known before the call: its browser client is loaded first, so nobody is given a seat
   * in a match this page cannot show.
   */
  async _enter(call, game = null) {
    if (this._busy) return;
    this._busy = true;
    this.clearError();
    // Only the buttons enabled now: one of a game without a client stays disabled after.
    const buttons = [...document.querySelectorAll("#lobby button")].filter((b) => !b.disabled);
    buttons.forEach((b) => (b.disabled = true));
    try {
      if (game) await loadGame(game, this.titleOf(game));
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
      this._describe(); // the game chosen meanwhile may have no client
    }
  }

  /** Read both lists over HTTP: the lobby socket is down (or has not said anything yet). */
  async refresh() {
    if (this._refreshing || $("lobby").hidden) return;
    this._refreshing = true;
    try {
      await Promise.all([this._refreshOpen(), this._refreshLive()]);
    } finally {
      this._refreshing = false;
    }
  }

  async _refreshOpen() {
    try {
      this._open = (await api.openMatches()).matches;
      if (!this.site) this._renderOpen(this._open);
    } catch (e) {
      this.listStatus.textContent = `Could not load open matches: ${e.message}`;
    }
  }

  async _refreshLive() {
    try {
      this._live = (await api.live()).matches;
      if (!this.site) this.renderLive(this._live);
    } catch (e) {
      this.liveStatus.textContent = `Could not load live matches: ${e.message}`;
    }
  }

  /** A list row: the game's title, what to say about the match, and its button. */
  _row(m, text, button, onClick) {
    const li = document.createElement("li");
    li.className = "open-match";
    li.dataset.match = m.id;
    const tag = Object.assign(document.createElement("span"), { className: "game-tag" });
    tag.textContent = this.titleOf(m.game);
    const info = Object.assign(document.createElement("span"), { className: "open-match-info" });
    info.textContent = text;
    const action = Object.assign(document.createElement("button"), { type: "button" });
    action.textContent = button;
    action.dataset.match = m.id;
    if (this.clients.get(m.game) === false) {
      action.disabled = true;
      action.title = `${this.titleOf(m.game)} has no browser client yet`;
    }
    action.addEventListener("click", onClick);
    li.append(tag, info, action);
    return li;
  }

  /**
   * Show the running public matches: [match with `spectators`], as GET /api/live answers.
   * The whole list each time, from a poll or a push.
   */
  renderLive(matches) {
    const shown = this._shown(matches);
    const items = shown.map((m) => {
      const scored = (p) => (p.score == null ? playerName(p) : `${playerName(p)} ${p.score}`);
      const players = m.players.map(scored);
      const watching = m.spectators ? ` · ${m.spectators} watching` : "";
      const text = `${players.join(" · ") || "no players"}${watching}`;
      const li = this._row(m, text, "Watch", () => this.onWatch(m));
      li.classList.add("live-match");
      return li;
    });
    this.liveList.replaceChildren(...items);
    this.liveStatus.textContent = shown.length ? "" : "No match is being played right now.";
  }

  _renderOpen(matches) {
    const shown = this._shown(matches);
    const items = shown.map((m) => {
      const people = m.players.filter((p) => !p.bot).map((p) => p.name);
      const text = `${people.join(", ") || "empty"} · ${m.players.length}/${m.seats} seats`;
      return this._row(m, text, "Join", () => this._enter(() => api.joinMatch(m.id), m.game));
    });
    this.list.replaceChildren(...items);
    this.listStatus.textContent = shown.length
      ? ""
      : "No open matches right now: Quick play starts one.";
  }
}
