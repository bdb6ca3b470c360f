// Wires the client together: lobby -> seat and ticket -> socket -> model -> canvas and HUD.
// Watching a match (watch.js) shares the canvas and the HUD; it is reached from the lobby's
// Live matches or by opening /#watch=<match id>.

import * as api from "./api.js";
import { showGameOver, hideGameOver } from "./gameover.js";
import { Hud } from "./hud.js";
import { DirectionInput } from "./input.js";
import { Lobby } from "./lobby.js";
import { LightCyclesModel, playerName } from "./model.js";
import { ChatPanel } from "./chat.js";
import { GameSocket } from "./net.js";
import { Reconnector, RETRY_CODES, STAFF_MESSAGES, STOP_MESSAGES } from "./reconnect.js";
import { ArenaRenderer } from "./render.js";
import { WatchView, watchFromHash } from "./watch.js";

const $ = (id) => document.getElementById(id);

// Read by the browser tests; kept current as matches and sockets come and go. `reconnects`
// counts the times a dropped seat was got back without reloading the page.
const hooks = (window.gameserver = {
  model: null,
  socket: null,
  seat: null,
  match: null,
  reconnects: 0,
});
const renderer = new ArenaRenderer($("arena"));
hooks.renderer = renderer;

const hud = new Hud();
const onWatch = (match) => watchMatch(match.id);
const lobby = new Lobby({ onSeat: startMatch, onWatch, showError, clearError });
const input = new DirectionInput({
  canvas: $("arena"),
  buttons: $("touch-controls"),
  isActive: () => Boolean(play && play.socket && play.socket.open && !play.over),
  onDir: (data) => play.socket.sendInput(data),
});

let play = null; // the match on screen: {match, seat, model, socket, over, reconnector}
// The match's chat, for a player or a spectator: says a line over whichever socket is open.
const chat = new ChatPanel($("match-chat"), {
  onSay: (text) => {
    const socket = play ? play.socket : watch.current && watch.current.stream;
    return Boolean(socket && socket.sendChat && socket.sendChat(text));
  },
});
const watch = new WatchView({ renderer, hud, lobby, hooks, chat, toLobby: backToLobby, quickPlay });

function showError(message) {
  // Server messages start in lower case ("no match has that code; …"); this is a sentence.
  $("error").textContent = message.charAt(0).toUpperCase() + message.slice(1);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setStatus(text) {
  if ($("status").textContent !== text) $("status").textContent = text;
}

function startMatch({ match, seat, ticket }) {
  if (play) leave();
  watch.stop();
  chat.clear();
  clearError();
  const model = new LightCyclesModel(match.tick_rate || 20);
  play = { match, seat, model, socket: null, over: false };
  play.reconnector = reconnectorFor(play);
  Object.assign(hooks, { model, seat, match, socket: null });
  lobby.hide();
  $("game").hidden = false;
  hideGameOver();
  $("notice").hidden = true;
  setStatus("waiting…");
  hud.reset();
  showMatchInfo();
  renderer.setMatch(model, seat, match.tick_rate);
  renderer.start();
  input.reset();
  connect(ticket);
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

function onServerError(error) {
  if (error.code !== "degraded") return;
  play.degradedAt = performance.now();
  updateStatus();
  setTimeout(() => play && updateStatus(), DEGRADED_SHOWN_MS + 50);
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
  renderer.setMatch(play.model, msg.seat, msg.tick_rate);
  play.model.tickRate = msg.tick_rate || play.model.tickRate;
  // Back after a drop: the old model is ticks behind, so wait for the keyframe that follows.
  if (play.model.ready) play.model.stale = true;
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

/** Who is in the waiting room, and when bots take the free seats. */
function waitingText(room) {
  if (!room) return "Waiting for players… bots fill empty seats shortly.";
  const names = room.players.map((p) => playerName(p) + (p.seat === play.seat ? " (you)" : ""));
  const free = room.seats - room.players.length;
  const bots =
    free > 0
      ? ` Bots take the ${free} free seat${free === 1 ? "" : "s"} in ${Math.ceil(room.bots_in)} s.`
      : "";
  return `Here: ${names.join(", ")}.${bots}`;
}

function onFrame(msg) {
  const { model } = play;
  // The seat is back once a keyframe flows: a welcome alone can still be followed by 1013
  // (no engine yet), and ending the outage there would restart its backoff every time.
  if (msg.key && play.reconnector.resumed()) hooks.reconnects += 1;
  if (msg.key) {
    model.applyKeyframe(msg.state);
    const me = model.players[play.seat];
    input.reset(me ? me.dir : null);
  } else if (model.ready && !model.stale && !model.applyDelta(msg.delta) && model.stale) {
    console.warn(`gameserver: missed ticks before ${msg.tick}; waiting for the next keyframe`);
  }
  if (model.ready) renderer.frameApplied();
  updateStatus();
  hud.update(play.socket, model, play.seat);
}

function onOver(msg) {
  play.over = true;
  play.reconnector.cancel();
  const names = {};
  for (const p of play.match.players || []) names[p.seat] = p.name;
  for (const p of play.model.players) if (p) names[p.seat] = p.name;
  setStatus("over");
  $("waiting").hidden = true;
  showGameOver(msg.result, names, play.seat);
}

/** Sets the status line (its only writer during a match) and the panels that go with it. */
function updateStatus() {
  const { model } = play;
  const phase = model.ready ? model.phase : null;
  const degraded = performance.now() - (play.degradedAt ?? -Infinity) < DEGRADED_SHOWN_MS;
  if (play.over || phase === "over") setStatus("over");
  else if (play.reconnector.active) setStatus("reconnecting…");
  else if (degraded) setStatus("server recovering…");
  else if (phase === "countdown") setStatus(String(model.countdownSeconds()));
  else if (phase === "play") setStatus("play");
  else setStatus("waiting…");
  const me = model.ready ? model.players[play.seat] : null;
  $("crashed-note").hidden = !(me && !me.alive && phase === "play" && !play.over);
  $("waiting").hidden = play.over || phase === "play" || phase === "over";
  $("waiting-text").textContent =
    phase === "countdown"
      ? "Get ready: you can turn already, the cycles start when the count reaches zero."
      : waitingText(play.room);
}

function showMatchInfo() {
  const m = play.match;
  const title = (lobby.games.find((g) => g.name === m.game) || {}).title || m.game;
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

/** Close the socket and forget the match, leaving the game view as it is. */
function leave() {
  if (play) play.reconnector.cancel();
  if (play && play.socket) play.socket.close(1000, "left the match");
  play = null;
  // Tests wait on hooks.model: an old, finished model must not look like the next match.
  Object.assign(hooks, { model: null, socket: null });
  renderer.stop();
}

/** Watch match `id` as a spectator: via "sse" (the default) or "ws", code if private. */
function watchMatch(id, options = {}) {
  if (play) leave();
  clearError();
  lobby.hide();
  watch.start(id, options);
}

function backToLobby(message) {
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
// Ping and frame rate change even when no frame arrives (while waiting for players).
setInterval(() => play && hud.update(play.socket, play.model, play.seat), 500);

/** Opening /#watch=<id> (also typed into the address bar later) watches that match. */
function watchFromAddress() {
  const wanted = watchFromHash();
  if (wanted) watchMatch(wanted.id, wanted);
  return Boolean(wanted);
}
window.addEventListener("hashchange", watchFromAddress);

lobby.init().then(() => watchFromAddress() || lobby.show());
