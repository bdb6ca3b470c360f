// What the boards and the status line say about the match, in words: whose turn it is and
// how long is left, and what the last shot did.

import { playerName } from "../../players.js";
import { sameShip, shipCells, shipName } from "./board.js";

export const WARN_SECONDS = 5; // a turn's last seconds are shown as a warning
export const PLACE_WARN_SECONDS = 10;
export const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A cell as the boards label it: (0, 0) is A1. */
export const cellName = (x, y) => `${LETTERS[x]}${y + 1}`;

const possessive = (name) => (name.endsWith("s") ? `${name}'` : `${name}'s`);

/**
 * The line that says what happens now, for the status and the board's banner:
 * {text, warn, seconds}. `warn`: this player has only a few seconds left to act.
 */
export function turnLine(model, seat, time) {
  const seconds = model.secondsLeft(time);
  const clock = seconds === null ? "" : ` — ${seconds} s`;
  const me = seat === null ? null : model.players[seat];
  if (model.phase === "placing") {
    if (!me) return { text: `Placing ships${clock}`, warn: false, seconds };
    if (me.ready) {
      const other = model.other(seat);
      const text = other.ready ? "Starting…" : `Waiting for ${playerName(other)}${clock}`;
      return { text, warn: false, seconds };
    }
    const warn = seconds !== null && seconds <= PLACE_WARN_SECONDS;
    return { text: `Place your ships${clock}`, warn, seconds };
  }
  if (model.phase === "firing" && model.turn !== null) {
    if (model.turn === seat) {
      const warn = seconds !== null && seconds <= WARN_SECONDS;
      return { text: `Your turn${clock}`, warn, seconds };
    }
    const name = possessive(playerName(model.players[model.turn]));
    return { text: `${name} turn${clock}`, warn: false, seconds };
  }
  if (model.phase === "over") {
    const winner = model.winner === null ? null : model.players[model.winner];
    let text = "Game over: a draw";
    if (winner) text = winner.seat === seat ? "You win!" : `${playerName(winner)} wins`;
    if (model.reason && model.reason !== "fleet sunk") text += ` (${model.reason})`;
    return { text, warn: false, seconds: null };
  }
  return { text: "waiting…", warn: false, seconds: null };
}

/**
 * What the last shot did, for the banner: {text, result}, result "hit", "miss", "sunk" or ""
 * ("You fired at F6: miss", "Bob sank your Cruiser").
 */
export function shotReport(model, seat) {
  const last = model.lastShot;
  const nameOf = (s) => (s === seat ? "You" : playerName(model.players[s] || { seat: s }));
  if (!last || model.phase === "placing") {
    const first = model.phase === "firing" && model.turn !== null ? nameOf(model.turn) : null;
    if (!first) return { text: "", result: "" };
    return { text: first === "You" ? "You fire first" : `${first} fires first`, result: "" };
  }
  const [shooter, x, y, hit] = last;
  const owner = 1 - shooter;
  const where = cellName(x, y);
  const sunk = model.sunk[owner] || [];
  const ship = sunk.find((s) => shipCells(s).some(([a, b]) => a === x && b === y));
  if (ship) {
    const whose = owner === seat ? "your" : seat === null ? `${nameOf(owner)}'s` : "their";
    const name = shipName(model.fleet, sunkIndex(model, owner, ship));
    return { text: `${nameOf(shooter)} sank ${whose} ${name} at ${where}!`, result: "sunk" };
  }
  const text = `${nameOf(shooter)} fired at ${where}: ${hit ? "hit" : "miss"}`;
  return { text, result: hit ? "hit" : "miss" };
}

/** Which ship of the fleet a sunk ship is: exact for my own, by length for another's. */
function sunkIndex(model, owner, ship) {
  if (owner === model.seat) {
    const i = model.ships.findIndex((s) => sameShip(s, ship));
    if (i >= 0) return i;
  }
  const taken = new Set();
  for (const s of model.sunk[owner]) {
    const i = model.fleet.findIndex((n, k) => n === s[3] && !taken.has(k));
    taken.add(i);
    if (s === ship) return i;
  }
  return model.fleet.indexOf(ship[3]);
}
