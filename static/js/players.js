// What every game's screen says about the people in a match: their names, who is away, and
// one colour per seat, shared by the games' renderers, the HUD and the game-over table so a
// seat has the same colour everywhere.

const SEAT_COLORS = [
  "#00e5ff",
  "#ff3d7f",
  "#ffd600",
  "#76ff03",
  "#d16bff",
  "#ff9100",
  "#4d8dff",
  "#f0f0f0",
];

/** What to call a player {seat, name} on screen. */
export function playerName(p) {
  return p.name || `seat ${p.seat}`;
}

/** A person whose connection dropped: the server holds the seat for them for a while. */
export function isAway(p) {
  return p.connected === false && !p.bot;
}

export function seatColor(seat) {
  const n = SEAT_COLORS.length;
  return SEAT_COLORS[((seat % n) + n) % n];
}
