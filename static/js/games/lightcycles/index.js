// Light Cycles in the browser: the game module the shell loads for matches of "lightcycles"
// (the interface is in ../README.md). Everything Light Cycles-specific is in this folder.

import { DirectionInput } from "./input.js";
import { LightCyclesModel } from "./model.js";
import { ArenaRenderer } from "./render.js";

const GET_READY = "Get ready: you can turn already, the cycles start when the count reaches zero.";
const CRASHED = "You crashed: watch the others finish, or leave.";

export default {
  name: "lightcycles",
  help: "Steer with the arrow keys or WASD; swipe on a phone.",
  stylesheet: new URL("./lightcycles.css", import.meta.url).href,

  createModel: ({ match, seat }) => new LightCyclesModel({ seat, tickRate: match.tick_rate }),
  createRenderer: ({ stage, model }) => new ArenaRenderer(stage, model),
  createInput: (io) => new DirectionInput(io),

  /** The status line and the panels around the arena, from the phase. */
  describe(model, { seat }) {
    if (model.phase === "over") return { status: "over", started: true, over: true };
    if (model.phase === "countdown") {
      return { status: String(model.countdownSeconds()), started: false, waiting: GET_READY };
    }
    if (model.phase !== "play") return { status: "waiting…", started: false };
    const me = seat === null ? null : model.players[seat];
    return {
      status: seat === null ? "watching" : "play",
      started: true,
      note: me && !me.alive ? CRASHED : null,
    };
  },

  /** The HUD's rows: a crashed cycle is out of the game. */
  players: (model) =>
    model.players.filter(Boolean).map((p) => ({
      seat: p.seat,
      name: p.name,
      bot: p.bot,
      connected: p.connected,
      score: p.score,
      out: !p.alive,
      state: p.alive ? "alive" : "crashed",
    })),
};
