// Wires the client together: lobby -> seat and ticket -> the game's module -> socket -> the
// game's model -> its renderer and the HUD. Nothing here knows a game: each game's client is
// a module in games/<name>/ (games/README.md), loaded by the match's game name. Watching a
// match (watch.js) shares the stage and the HUD; it is reached from the lobby's Live matches
// or by opening /#watch=<match id>.

import * as api from "./api.js";
import { ChatPanel } from "./chat.js";
import { loadGame } from "./gameclients.js";
import { showGameOver, hideGameOver } from "./gameover.js";
import { Hud } from "./hud.js";
import { Lobby } from "./lobby.js";
import { GameSocket } from "./net.js";
import { playerName } from "./players.js";
import { Reconnector, RETRY_CODES, STAFF_MESSAGES, STOP_MESSAGES } from "./reconnect.js";
import { MatchScreen } from "./screen.js";
import { WatchView, watchFromHash } from "./watch.js";

const $ = (id) => document.getElementById(id);

// Read by the browser tests; kept current as matches and sockets come and go. `reconnects`
// counts the times a dropped seat was got back without reloading the page.
const hooks = (window.gameserver = {
  model: null,
  socket: null,
  seat: null,
  match: null,
  game: null,
  renderer: null,
  reconnects: 0,
});

const hud = new Hud();
const onWatch = (match) => watchMatch(match.id);
const lobby = new Lobby({ onSeat: startMatch, onWatch, showError, clearError });

// The match on screen: {match, seat, game, screen, model, socket, over, reconnector}.
let play = null;
let starting = 0; // counts startMatch calls: a slower, older one must not take the screen
// The match's chat, for a player or a spectator: says a line over whichever socket is open.
const chat = new ChatPanel($("match-chat"), {
  onSay: (text) => {
    const socket = play ? play.socket : watch.current && watch.current.stream;
    return Boolean(socket && socket.sendChat && socket.sendChat(text));
  },
});
const watch = new WatchView({ hud, lobby, hooks, chat, toLobby: backToLobby, quickPlay });

function showError(message) {
  // Server messages start in lower case ("no match has that code; …"); this is a sentence.
  $("error").textContent = message.charAt(0).toUpperCase() + message.slice(1);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setText(id, text) {
  if ($(id).textContent !== text) $(id).textContent = text;
}

function setStatus(text) {
  setText("status", text);
}

/** A seat in `match` (from the lobby, play again or quick play): load its game, then play. */
async function startMatch({ match, seat, ticket }) {
  const attempt = ++starting;
  if (play) leave();
  watch.stop();
  chat.clear();
  clearError();
  let game;
  try {
    game = await loadGame(match.game, lobby.titleOf(match.game));
  } catch (e) {
    if (attempt === starting) backToLobby(`${e.message} Pick another game.`);
    return;
  }
  if (attempt !== starting) return;
  const current = { match, seat, game, socket: null, over: false };
  lobby.hide();
  $("game").hidden = false; // before the renderer: it sizes itself to the stage
  try {
    current.screen = screenFor(current);
  } catch (e) {
    console.error(`gameserver: the ${game.name} client failed to start`, e);
    backToLobby(`The browser client of ${lobby.titleOf(match.game)} failed to start.`);
    return;
  }
  play = current;
  play.model = play.screen.model;
  play.reconnector = reconnectorFor(play);
  hideGameOver();
  $("notice").hidden = true;
  setStatus("waiting…");
  hud.reset();
  showMatchInfo();
  showHelp(game.help);
  Object.assign(hooks, { model: play.model, seat, match, game: game.name, socket: null });
  hooks.renderer = play.screen.renderer;
  connect(ticket);
}

function screenFor(current) {
  return new MatchScreen({
    game: current.game,
    match: current.match,
    seat: current.seat,
    stage: $("stage"),
    isActive: () => Boolean(current.socket && current.socket.open && !current.over),
    send: (data) => play === current && current.socket !== null && current.socket.sendInput(data),
  });
}

/** How to play, under the HUD (a player's view only). */
function showHelp(text) {
  $("game-help").textContent = text || "";
  $("game-help").hidden = !text;
}

function connect(ticket) {
  const socket = new GameSocket(ticket);
  play.socket = socket;
  hooks.socket = socket;
  chat.follow(socket);
  const mine = (handler) => (event) => {
    // Events from a socket this page has moved on from must not touch the current match.
    if (play && play.socket === socket) handler(event.detail);
  };
  socket.addEventListener("welcome", mine(onWelcome));
  socket.addEventListener("lobby", mine(onLobby));
  socket.addEventListener("frame", mine(onFrame));
  socket.addEventListener("over", mine(onOver));
  socket.addEventListener("notice", mine(onNotice));
  socket.addEventListener("error", mine(onServerError));
  socket.addEventListener("close", mine(onClose));
}

// The server says at most every 2 s that inputs cannot reach the game (Redis is away and
// the match is frozen meanwhile); the status line says so until that has not come for a while.
const DEGRADED_SHOWN_MS = 3000;
// A move the game refused ("not your turn") is said in the note line for this long.
const REFUSED_SHOWN_MS = 4000;

function onServerError(error) {
  const at = performance.now();
  if (error.code === "degraded") play.degradedAt = at;
  else if (error.code === "illegal_move") play.refused = { text: error.message, at };
  else return;
  updateStatus();
  setTimeout(() => play && updateStatus(), Math.max(DEGRADED_SHOWN_MS, REFUSED_SHOWN_MS) + 50);
}

/** A notice from the game's staff, shown above the arena until the match is left. */
function onNotice(msg) {
  $("notice").textContent = `Notice from staff: ${msg.text}`;
  $("notice").hidden = false;
}

function onWelcome(msg) {
  // The HTTP answer carried the join code; keep it if the welcome's copy of the match does not.
  const code = play.match.code;
  play.match = msg.match.code || !code ? msg.match : { ...msg.match, code };
  play.seat = msg.seat;
  hooks.match = play.match;
  hooks.seat = msg.seat;
  play.screen.resync(); // back after a drop: wait for the keyframe that follows
  if (typeof msg.grace === "number") play.reconnector.graceSeconds = msg.grace;
  showMatchInfo();
  updateStatus();
}

function onLobby(msg) {
  // Before the first frame the seat is back here: a lobby message comes from the engine, so
  // no 1013 can follow it.
  if (play.reconnector.resumed()) hooks.reconnects += 1;
  play.room = msg;
  updateStatus();
}

/** Who is in the waiting room, and when bots take the free seats (if they do). */
function waitingText(room) {
  const bots = play.match.bot_fill !== false && lobby.entry(play.match.game).bots !== false;
  if (!room) return `Waiting for players…${bots ? " bots fill empty seats shortly." : ""}`;
  const names = room.players.map((p) => playerName(p) + (p.seat === play.seat ? " (you)" : ""));
  const free = room.seats - room.players.length;
  const when = typeof room.bots_in === "number" ? Math.ceil(room.bots_in) : null;
  const fill =
    bots && free > 0 && when !== null
      ? ` Bots take the ${free} free seat${free === 1 ? "" : "s"} in ${when} s.`
      : "";
  return `Here: ${names.join(", ")}.${fill}`;
}

function onFrame(msg) {
  // The seat is back once a keyframe flows: a welcome alone can still be followed by 1013
  // (no engine yet), and ending the outage there would restart its backoff every time.
  if (msg.key && play.reconnector.resumed()) hooks.reconnects += 1;
  play.screen.applyFrame(msg);
  updateStatus();
  hud.update(play.socket, play.screen);
}

function onOver(msg) {
  play.over = true;
  play.reconnector.cancel();
  setStatus("over");
  $("waiting").hidden = true;
  $("game-note").hidden = true;
  showGameOver(msg.result, play.screen.names(play.match), play.seat);
}

/** Sets the status line (its only writer during a match) and the panels that go with it. */
function updateStatus() {
  const now = performance.now();
  const view = play.screen.describe(); // the game's say, once a keyframe came
  const degraded = now - (play.degradedAt ?? -Infinity) < DEGRADED_SHOWN_MS;
  if (play.over || (view && view.over)) setStatus("over");
  else if (play.reconnector.active) setStatus("reconnecting…");
  else if (degraded) setStatus("server recovering…");
  else setStatus(view ? view.status : "waiting…");
  const refused = play.refused && now - play.refused.at < REFUSED_SHOWN_MS;
  const note = play.over ? "" : (refused && play.refused.text) || (view && view.note) || "";
  setText("game-note", note);
  $("game-note").hidden = !note;
  $("waiting").hidden = Boolean(play.over || (view && (view.started || view.over)));
  setText("waiting-text", (view && view.waiting) || waitingText(play.room));
}

function showMatchInfo() {
  const m = play.match;
  const title = lobby.titleOf(m.game);
  const kind = m.private ? "private match" : "public match";
  $("match-info").textContent = `${title} · ${kind} · ${m.seats} seats · you are seat ${play.seat}`;
  const hasCode = Boolean(m.private && m.code);
  $("match-code-box").hidden = !hasCode;
  if (hasCode) {
    $("match-code").textContent = m.code;
    $("copy-code").textContent = "Copy";
    $("match-link").textContent = `${location.origin}/#code=${m.code}`;
  }
}

function reconnectorFor(current) {
  return new Reconnector({
    newTicket: () => api.newTicket(current.match.id),
    connect: (ticket) => play === current && connect(ticket),
    show: (state) => play === current && showReconnecting(state),
    giveUp: ({ reason, message }) => {
      if (play !== current) return;
      if (reason === "match_over") endedWithoutOver(current, false);
      else backToLobby(message);
    },
  });
}

/** The overlay over the arena while the seat is being got back; null hides it. */
function showReconnecting(state) {
  const shown = !$("reconnecting").hidden;
  $("reconnecting").hidden = !state;
  if (shown !== Boolean(state)) updateStatus(); // it reads reconnector.active
  if (!state) return;
  $("reconnecting-seconds").textContent = `${state.secondsLeft} s`;
  const next =
    state.nextInMs > 0 ? `next try in ${Math.ceil(state.nextInMs / 1000)} s` : "trying now";
  $("reconnecting-detail").textContent = `${state.reason} Attempt ${state.attempt}, ${next}.`;
}

// Close codes and what they mean for the player: docs/PROTOCOL.md, "Close codes".
function onClose({ code, error }) {
  const current = play;
  current.socket = null;
  hooks.socket = null;
  if (code === 1000) return endedWithoutOver(current, true);
  if (RETRY_CODES.has(code)) return current.reconnector.dropped(code, error);
  current.reconnector.cancel();
  const why = error && error.message ? ` The server said: ${error.message}.` : "";
  const message =
    (error && STAFF_MESSAGES[error.code]) ||
    STOP_MESSAGES[code] ||
    `The connection closed unexpectedly (close code ${code}).`;
  backToLobby(message + why);
}

/**
 * The socket closed as if the match were over, but no `over` came: ask the API. A match that
 * still runs is rejoined (`rejoin`) like after any drop.
 */
async function endedWithoutOver(current, rejoin) {
  if (current.over) return; // the result is on screen already
  let match = null;
  try {
    match = (await api.match(current.match.id)).match;
  } catch (e) {
    console.warn("gameserver: could not fetch the match after the socket closed", e);
  }
  if (play !== current) return;
  if (match && match.result) {
    play.match = { ...match, code: current.match.code };
    onOver({ result: match.result });
  } else if (rejoin && (!match || ["waiting", "running"].includes(match.status))) {
    // Unknown (the API did not answer) counts as running: the ticket call will tell.
    current.reconnector.dropped(1000, null);
  } else {
    backToLobby("The match has ended.");
  }
}

/** Close the socket, take the game off the stage and forget the match (the rest of the
 * match view stays as it is, for the caller). */
function leave() {
  if (play) play.reconnector.cancel();
  if (play && play.socket) play.socket.close(1000, "left the match");
  if (play) play.screen.destroy();
  play = null;
  // Tests wait on hooks.model: an old, finished model must not look like the next match.
  Object.assign(hooks, { model: null, socket: null, renderer: null });
}

/** Watch match `id` as a spectator: via "sse" (the default) or "ws", code if private. */
function watchMatch(id, options = {}) {
  starting += 1; // a match still loading its game must not take the screen from this
  if (play) leave();
  clearError();
  lobby.hide();
  watch.start(id, options);
}

function backToLobby(message) {
  starting += 1;
  leave();
  watch.stop();
  $("game").hidden = true;
  lobby.show();
  if (message) showError(message);
  else clearError();
}

/** Quick play from the watch view: straight into a match, else the lobby says why not. */
async function quickPlay(game) {
  try {
    await lobby.ensurePlayer();
    startMatch(await api.quickPlay(game || lobby.game()));
  } catch (e) {
    backToLobby(e.message);
  }
}

async function playAgain() {
  const game = play ? play.match.game : lobby.game();
  const button = $("play-again");
  button.disabled = true;
  hooks.model = null;
  try {
    await lobby.ensurePlayer();
    startMatch(await api.quickPlay(game));
  } catch (e) {
    showError(e.message);
  } finally {
    button.disabled = false;
  }
}

$("play-again").addEventListener("click", playAgain);
$("back-to-lobby").addEventListener("click", () => backToLobby());
$("leave").addEventListener("click", () => backToLobby());
$("copy-code").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("match-code").textContent);
    $("copy-code").textContent = "Copied";
  } catch {
    $("copy-code").textContent = "Select and copy";
  }
});

// The browser knows when the network is back (Wi-Fi rejoined): do not sit out the backoff.
window.addEventListener("online", () => play && play.reconnector.retryNow());
// Ping and frame rate change even when no frame arrives (while waiting for players), and a
// game's clock ("your turn · 12 s") counts down between the rare frames of a turn-based game.
setInterval(() => {
  if (play && play.screen) {
    hud.update(play.socket, play.screen);
    updateStatus();
  } else if (watch.active) watch.refresh();
}, 500);

/** Opening /#watch=<id> (also typed into the address bar later) watches that match. */
function watchFromAddress() {
  const wanted = watchFromHash();
  if (wanted) watchMatch(wanted.id, wanted);
  return Boolean(wanted);
}
window.addEventListener("hashchange", watchFromAddress);

lobby.init().then(() => watchFromAddress() || lobby.show());
