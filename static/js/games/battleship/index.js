// Battleship in the browser: the game module the shell loads for matches of "battleship"
// (the interface is in ../README.md). Everything Battleship-specific is in this folder: the
// geometry (board.js), the model (model.js), the words for the status (status.js), the two
// boards (render.js), placing and firing by mouse, touch and keyboard (input.js) with the
// placing controls (tools.js).

import { FleetInput } from "./input.js";
import { BattleshipModel } from "./model.js";
import { BoardsRenderer } from "./render.js";
import { turnLine } from "./status.js";

const PLACE_HINT = "Press Ready before the clock runs out, or your fleet is placed at random.";
const HURRY = "Fire now, or your turn passes.";

export default {
  name: "battleship",
  help:
    "Place your ships by clicking or tapping your grid (R or Rotate turns the ship; click a " +
    "ship to move it), then fire by clicking their waters. Keys: arrows move, Enter or Space " +
    "places or fires.",
  stylesheet: new URL("./battleship.css", import.meta.url).href,

  createModel: ({ match, seat }) => new BattleshipModel({ seat, options: match.options || {} }),
  createRenderer: ({ stage, model }) => new BoardsRenderer(stage, model),
  createInput: (io) => new FleetInput(io),

  /** The status line from the phase, the turn and its clock (deadlines are match time). */
  describe(model, { seat, time }) {
    if (model.phase === "over") return { status: "over", started: true, over: true };
    const line = turnLine(model, seat, time);
    const me = seat === null ? null : model.players[seat];
    let note = null;
    if (me && model.phase === "placing" && !me.ready && line.warn) note = PLACE_HINT;
    if (me && model.phase === "firing" && model.turn === seat) {
      if (line.warn) note = HURRY;
      else if (me.timeouts > 0) {
        const left = 3 - me.timeouts;
        note = `Your last turn ran out: ${left} more in a row and you forfeit.`;
      }
    }
    return { status: line.text, started: model.phase !== null, note };
  },

  /** The HUD's rows: score is hits landed; a seat whose fleet went down is out. */
  players(model) {
    return model.players.map((p) => {
      const lost = model.phase === "over" && model.winner !== null && model.winner !== p.seat;
      const afloat = model.afloat(p.seat);
      let state = `${afloat} ship${afloat === 1 ? "" : "s"}`;
      if (model.phase === "placing") state = p.ready ? "ready" : "placing";
      else if (model.phase === "over") state = lost ? "lost" : model.winner === p.seat ? "won" : "draw";
      return {
        seat: p.seat,
        name: p.name,
        bot: p.bot,
        connected: p.connected,
        score: p.hits,
        out: lost,
        state,
      };
    });
  },
};
