// The HTTP API from docs/PROTOCOL.md: JSON in, JSON out, session cookie plus CSRF header.

/** An API failure with the server's error code, so callers can branch on it. */
export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
  }
}

function cookie(name) {
  const prefix = name + "=";
  for (const part of document.cookie.split(";")) {
    const item = part.trim();
    if (item.startsWith(prefix)) return decodeURIComponent(item.slice(prefix.length));
  }
  return "";
}

/** timeoutMs: give up on an answer that takes longer (a dead connection never answers). */
async function request(method, path, body, timeoutMs = 0) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (timeoutMs) init.signal = AbortSignal.timeout(timeoutMs);
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") {
    // Django sets the csrftoken cookie on GET / and GET /api/session; fetch it if missing.
    if (!cookie("csrftoken")) await request("GET", "/api/session", undefined, timeoutMs);
    headers["X-CSRFToken"] = cookie("csrftoken");
  }
  const timedOut = () =>
    new ApiError("timeout", `The server did not answer ${method} ${path} in time.`);
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    if (e.name === "TimeoutError") throw timedOut();
    throw new ApiError("network", "Cannot reach the server: check your connection and retry.");
  }
  let data = null;
  try {
    data = await response.json(); // the timeout covers the body too
  } catch (e) {
    // A body cut off by the timeout is no answer, even after a 2xx status line.
    if (e.name === "TimeoutError") throw timedOut();
    // A proxy error page or an empty body: handled below by the status check.
  }
  if (!response.ok) {
    const err = data && data.error;
    if (err && err.message) throw new ApiError(err.code || "error", err.message, response.status);
    throw new ApiError(
      "http_" + response.status,
      `The server answered ${response.status} ${response.statusText || ""} to ${method} ${path}; ` +
        "try again in a moment.",
      response.status,
    );
  }
  return data;
}

// Reconnecting asks for a ticket on a connection that may be dead: try again rather than wait.
const TICKET_TIMEOUT_MS = 5000;
const post = (path, body = {}, timeoutMs = 0) => request("POST", path, body, timeoutMs);
const get = (path) => request("GET", path);

/** {player: {id, name} | null}; also makes sure the CSRF cookie is set. */
export const session = () => get("/api/session");
/** Create or rename the guest player of this session. */
export const guest = (name) => post("/api/guest", { name });
export const games = () => get("/api/games");
/** Public matches still waiting for players (of `game`, if given). */
export const openMatches = (game) =>
  get("/api/matches" + (game ? "?game=" + encodeURIComponent(game) : ""));
export const match = (id) => get("/api/matches/" + encodeURIComponent(id));
/** Running public matches (of `game`, if given), each with its `spectators` count. */
export const live = (game) => get("/api/live" + (game ? "?game=" + encodeURIComponent(game) : ""));
/** {match, ticket, role, delay, stream}: a spectator ticket; a private match needs its code. */
export const watch = (id, code) =>
  post(`/api/matches/${encodeURIComponent(id)}/watch`, code ? { code } : {});

// Each of these answers {match, seat, ticket}.
/** settings: {seats?, options?, bot_fill?}, as matchform.js gives them; absent: not sent. */
export function createMatch(game, isPrivate, settings = {}) {
  const body = { game, private: Boolean(isPrivate) };
  for (const key of ["seats", "options", "bot_fill"]) {
    if (settings[key] !== undefined) body[key] = settings[key];
  }
  return post("/api/matches", body);
}
export const joinMatch = (id) => post(`/api/matches/${encodeURIComponent(id)}/join`);
export const joinByCode = (code) => post("/api/join-by-code", { code });
export const quickPlay = (game) => post("/api/quickplay", { game });
/** A fresh ticket for the seat this player already holds in match `matchId`. */
export const newTicket = (matchId) =>
  post(`/api/matches/${encodeURIComponent(matchId)}/ticket`, {}, TICKET_TIMEOUT_MS);
