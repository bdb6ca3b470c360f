// Four in a Row in the browser: the game module the shell loads for matches of "fourinarow"
// (the interface is in ../README.md). The rules are games/rules/fourinarow/rules.py.

import { playerName } from "../../players.js";
import { ColumnInput } from "./input.js";
import { FourModel } from "./model.js";
import { GridRenderer } from "./render.js";

/** "12 s" left on the turn clock; "" when the frames carry no match time. */
function clock(model, time) {
  if (typeof time !== "number" || typeof model.deadline !== "number") return "";
  return ` · ${Math.max(0, Math.ceil(model.deadline - time))} s`;
}

export default {
  name: "fourinarow",
  help: "Click or tap a column to drop a disc, or move with ← → and drop with Enter.",
  stylesheet: new URL("./fourinarow.css", import.meta.url).href,

  createModel: ({ seat }) => new FourModel(seat),
  createRenderer: ({ stage, model }) => new GridRenderer(stage, model),
  createInput: (io) => new ColumnInput(io),

  /** The status line: whose turn it is and the seconds left on it; who is away. */
  describe(model, { seat, time }) {
    if (model.phase === "over") return { status: "over", started: true, over: true };
    const mover = model.players[model.turn];
    const other = seat === null ? null : model.players[1 - seat];
    const left = clock(model, time);
    let status;
    if (seat === null) status = `${mover ? playerName(mover) : "?"}'s turn${left}`;
    else status = model.turn === seat ? `your turn${left}` : `their turn${left}`;
    let note = null;
    if (other && other.connected === false && !other.bot) {
      const waits = model.turn === other.seat ? ": their clock waits for them" : "";
      note = `${playerName(other)} is away${waits}.`;
    }
    return { status, started: true, note };
  },

  /** The HUD's rows: the discs each seat has dropped, and who is to move. */
  players: (model) =>
    model.players.map((p) => ({
      seat: p.seat,
      name: p.name,
      bot: Boolean(p.bot),
      connected: p.connected,
      score: model.discs(p.seat),
      out: model.phase === "over" && model.winner !== null && model.winner !== p.seat,
      state: stateOf(model, p.seat),
    })),
};

function stateOf(model, seat) {
  if (model.phase === "over") {
    if (model.winner === null) return "draw";
    return model.winner === seat ? "won" : "";
  }
  return model.turn === seat ? "to\u00a0move" : ""; // one line in the narrow HUD
}
