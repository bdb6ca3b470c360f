// Wires the client together: lobby -> seat and ticket -> socket -> model -> canvas and HUD.

import * as api from "./api.js";
import { showGameOver, hideGameOver } from "./gameover.js";
import { Hud } from "./hud.js";
import { DirectionInput } from "./input.js";
import { Lobby } from "./lobby.js";
import { LightCyclesModel } from "./model.js";
import { GameSocket } from "./net.js";
import { ArenaRenderer } from "./render.js";

const $ = (id) => document.getElementById(id);
const MAX_RETRIES = 4; // reconnects in a row without a frame in between

// Read by the browser tests; kept current as matches and sockets come and go.
const hooks = (window.gameserver = { model: null, socket: null, seat: null, match: null });
const renderer = new ArenaRenderer($("arena"));
hooks.renderer = renderer;

const hud = new Hud();
const lobby = new Lobby({ onSeat: startMatch, showError, clearError });
const input = new DirectionInput({
  canvas: $("arena"),
  buttons: $("touch-controls"),
  isActive: () => Boolean(play && play.socket && play.socket.open && !play.over),
  onDir: (data) => play.socket.sendInput(data),
});

let play = null; // the match on screen: {match, seat, model, socket, over, retries, reauthed}

function showError(message) {
  // Server messages start in lower case ("no match has that code; …"); this is a sentence.
  $("error").textContent = message.charAt(0).toUpperCase() + message.slice(1);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

function setStatus(text) {
  if ($("status").textContent !== text) $("status").textContent = text;
}

function startMatch({ match, seat, ticket }) {
  if (play) leave();
  clearError();
  const model = new LightCyclesModel(match.tick_rate || 20);
  play = { match, seat, model, socket: null, over: false, retries: 0, reauthed: false };
  Object.assign(hooks, { model, seat, match, socket: null });
  lobby.hide();
  $("game").hidden = false;
  hideGameOver();
  notice("");
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
  const mine = (handler) => (event) => {
    // Events from a socket this page has moved on from must not touch the current match.
    if (play && play.socket === socket) handler(event.detail);
  };
  socket.addEventListener("welcome", mine(onWelcome));
  socket.addEventListener("frame", mine(onFrame));
  socket.addEventListener("over", mine(onOver));
  socket.addEventListener("close", mine(onClose));
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
  notice("");
  showMatchInfo();
  updateStatus();
}

function onFrame(msg) {
  const { model } = play;
  // Count the connection as good only once frames flow: a welcome can still be followed by
  // 1013 (no engine yet), and resetting there would retry forever.
  play.retries = 0;
  play.reauthed = false;
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
  const names = {};
  for (const p of play.match.players || []) names[p.seat] = p.name;
  for (const p of play.model.players) if (p) names[p.seat] = p.name;
  setStatus("over");
  $("waiting").hidden = true;
  showGameOver(msg.result, names, play.seat);
}

function updateStatus() {
  const { model } = play;
  const phase = model.ready ? model.phase : null;
  if (play.over || phase === "over") setStatus("over");
  else if (phase === "countdown") setStatus(String(model.countdownSeconds()));
  else if (phase === "play") setStatus("play");
  else setStatus("waiting…");
  const me = model.ready ? model.players[play.seat] : null;
  $("crashed-note").hidden = !(me && !me.alive && phase === "play" && !play.over);
  $("waiting").hidden = play.over || phase === "play" || phase === "over";
  $("waiting-text").textContent =
    phase === "countdown"
      ? "Get ready: you can turn already, the cycles start when the count reaches zero."
      : "Waiting for players… bots fill empty seats shortly.";
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

// What each close code means for the player (docs/PROTOCOL.md, "Close codes").
const RETRY = {
  1001: "The server is restarting; reconnecting…",
  1006: "The connection dropped; reconnecting…",
  1011: "The server hit an error; reconnecting…",
  1013: "No engine is running this match yet; retrying…",
  4408: "Your connection fell too far behind; reconnecting…",
  4429: "Too many messages were sent; slowing down, then reconnecting…",
};
const GIVE_UP = {
  4400: "The server rejected this client's messages (4400). Reload the page to get a fresh client.",
  4403: "This ticket is for another match or player (4403). Join again from the lobby.",
  4404: "This match is over or gone (4404).",
  4409: "Your seat was opened in another tab or device, so this one stopped (4409).",
};

async function onClose({ code, error }) {
  const current = play;
  current.socket = null;
  hooks.socket = null;
  const why = error && error.message ? ` The server said: ${error.message}.` : "";
  if (code === 1000) return onNormalClose(current);
  if (code === 4401 && !current.reauthed) {
    current.reauthed = true;
    notice("The ticket was not accepted; getting a new one…");
    return reconnect(current, 0);
  }
  if (RETRY[code] && current.retries < MAX_RETRIES) {
    current.retries += 1;
    notice(`${RETRY[code]} (attempt ${current.retries} of ${MAX_RETRIES})`);
    const delay = code === 4429 ? 5000 : 1000 + Math.random() * 1000; // spread the herd
    return reconnect(current, delay);
  }
  const message =
    GIVE_UP[code] ||
    (RETRY[code] || code === 4401
      ? `Could not get back into the match after several tries (close code ${code}).`
      : `The connection closed unexpectedly (close code ${code}).`);
  backToLobby(message + why);
}

async function onNormalClose(current) {
  if (current.over) return; // the result is on screen already
  // Closed without an `over` message: ask the API whether the match really ended.
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
  } else if (match && ["waiting", "running"].includes(match.status) && play.retries < MAX_RETRIES) {
    play.retries += 1;
    notice("The connection closed but the match goes on; reconnecting…");
    reconnect(current, 1000);
  } else {
    backToLobby("The match has ended.");
  }
}

async function reconnect(current, delayMs) {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  if (play !== current) return; // the player left meanwhile
  try {
    const { ticket } = await api.newTicket(current.match.id);
    if (play === current) connect(ticket);
  } catch (e) {
    if (play === current) backToLobby(`Could not rejoin the match: ${e.message}`);
  }
}

/** Close the socket and forget the match, leaving the game view as it is. */
function leave() {
  if (play && play.socket) play.socket.close(1000, "left the match");
  play = null;
  // Tests wait on hooks.model: an old, finished model must not look like the next match.
  Object.assign(hooks, { model: null, socket: null });
  renderer.stop();
}

function backToLobby(message) {
  leave();
  $("game").hidden = true;
  notice("");
  lobby.show();
  if (message) showError(message);
  else clearError();
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

// Ping and frame rate change even when no frame arrives (while waiting for players).
setInterval(() => play && hud.update(play.socket, play.model, play.seat), 500);

lobby.init().then(() => lobby.show());
