// The panel shown when a match ends: who won, and everyone's placement and score.

import { playerName, seatColor } from "./players.js";

const $ = (id) => document.getElementById(id);

/**
 * result: {winner, reason, standings: [{seat, score, placement}]}; names: seat -> name;
 * seat: this player's seat.
 */
export function showGameOver(result, names, seat) {
  const nameOf = (s) => playerName({ seat: s, name: names[s] });
  const standings = [...(result.standings || [])].sort(
    (a, b) => a.placement - b.placement || a.seat - b.seat,
  );
  let title = "Draw";
  if (result.winner === seat) title = "You win!";
  else if (result.winner !== null && result.winner !== undefined) {
    title = `${nameOf(result.winner)} wins`;
  }
  $("gameover-title").textContent = title;
  $("gameover-reason").textContent = result.reason || "";
  const rows = standings.map((s) => {
    const tr = document.createElement("tr");
    if (s.seat === result.winner) tr.classList.add("winner");
    if (s.seat === seat) tr.classList.add("you");
    tr.dataset.seat = s.seat;
    const place = document.createElement("td");
    place.textContent = ordinal(s.placement);
    const who = document.createElement("td");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = seatColor(s.seat);
    who.append(swatch, nameOf(s.seat), s.seat === seat ? " (you)" : "");
    const score = document.createElement("td");
    score.className = "num";
    score.textContent = String(s.score);
    tr.append(place, who, score);
    return tr;
  });
  $("standings").replaceChildren(...rows);
  $("gameover").hidden = false;
  $("play-again").focus();
}

export function hideGameOver() {
  $("gameover").hidden = true;
}

function ordinal(n) {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th";
  return n + suffix;
}
