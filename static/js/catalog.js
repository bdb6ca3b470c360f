// The games the server offers (GET /api/games), each with the same fields whatever the server
// version: older servers send no kind, bots or options, which default to a ticking game with
// bots and no options.

/** Until the server answers (or if it cannot): the game the page was made for. */
export const FALLBACK_GAMES = [
  { name: "lightcycles", title: "Light Cycles", kind: "ticking", bots: true, options: [] },
];

const isInt = (v) => Number.isInteger(v);

/** An option as the lobby shows it, or null for one this page cannot show. */
function normalizeOption(o) {
  if (!o || typeof o.name !== "string" || !o.name) return null;
  const label = typeof o.label === "string" && o.label ? o.label : o.name;
  if (o.type === "int" && isInt(o.min) && isInt(o.max) && o.min <= o.max) {
    const fallback = isInt(o.default) ? o.default : o.min;
    const value = Math.min(o.max, Math.max(o.min, fallback));
    return { name: o.name, label, type: "int", min: o.min, max: o.max, default: value };
  }
  if (o.type === "bool") return { name: o.name, label, type: "bool", default: o.default === true };
  if (o.type === "choice" && Array.isArray(o.choices) && o.choices.length) {
    const choices = o.choices.map(String);
    const value = choices.includes(String(o.default)) ? String(o.default) : choices[0];
    return { name: o.name, label, type: "choice", choices, default: value };
  }
  return null;
}

/** One game of the list: {name, title, tick_rate, min_seats, max_seats, default_seats, kind,
 * bots, options}. */
export function normalizeGame(g) {
  const options = [];
  for (const raw of Array.isArray(g.options) ? g.options : []) {
    const option = normalizeOption(raw);
    if (option) options.push(option);
    // The server fills an option it was not sent with its default.
    else console.warn(`gameserver: ${g.name} offers an option this page cannot show`, raw);
  }
  const seats = isInt(g.min_seats) && isInt(g.max_seats) && g.min_seats <= g.max_seats;
  return {
    ...g,
    title: g.title || g.name,
    kind: g.kind === "events" ? "events" : "ticking",
    bots: g.bots !== false,
    options,
    min_seats: seats ? g.min_seats : undefined,
    max_seats: seats ? g.max_seats : undefined,
    default_seats: seats && isInt(g.default_seats) ? g.default_seats : undefined,
  };
}

export function normalizeGames(list) {
  return (Array.isArray(list) ? list : []).filter((g) => g && g.name).map(normalizeGame);
}

/** "2–8 players" or "2 players"; "" when the server did not say. */
export function seatRange(game) {
  if (game.min_seats === undefined) return "";
  const { min_seats: min, max_seats: max } = game;
  return `${min === max ? min : `${min}–${max}`} players`;
}
