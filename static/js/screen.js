// One match on screen, for a player or a spectator: the game's model, its renderer in the
// stage, and (for a player) its input. Frames go in here; the status, the HUD's rows and the
// names for the game-over table come out. Which frames apply is decided here for every game
// (docs/PROTOCOL.md, "Keyframes and deltas" and "A delta may follow a gap"); what they mean is
// the game's (games/README.md).

export class MatchScreen {
  /**
   * game: a game module (gameclients.js); match: the API's match; seat: mine, null when
   * watching; stage: the element the renderer draws in. A player also gives send(data),
   * which returns whether the input went out, and isActive(), whether the match takes input.
   */
  constructor({ game, match, seat, stage, send = null, isActive = () => false }) {
    Object.assign(this, { game, seat });
    this._clock = null; // {now, at}: the match time a frame said, and when it came
    this.model = game.createModel({ match, seat });
    Object.assign(this.model, { ready: false, stale: false, tick: -1 });
    this.renderer = game.createRenderer({ stage, model: this.model, match });
    this.input = null;
    if (send && game.createInput) {
      const element = this.renderer.element || stage;
      const io = { stage, element, renderer: this.renderer, model: this.model, send, isActive };
      this.input = game.createInput(io);
    }
  }

  get ready() {
    return this.model.ready;
  }

  /** A new connection: the old model is ticks behind, so wait for the keyframe that follows. */
  resync() {
    if (this.model.ready) this.model.stale = true;
  }

  /**
   * Apply a `frame` message. A keyframe replaces the model; a delta applies only to the tick
   * before it: one for a tick the model has (just after a keyframe) is skipped, and one after
   * a gap makes the model wait for the next keyframe rather than draw a wrong picture.
   * Returns whether the model changed.
   */
  applyFrame(frame) {
    const model = this.model;
    if (typeof frame.now === "number") this._clock = { now: frame.now, at: performance.now() };
    try {
      if (frame.key) {
        model.applyKeyframe(frame.state, frame);
        Object.assign(model, { ready: true, stale: false });
      } else {
        if (!model.ready || model.stale || frame.tick <= model.tick) return false;
        if (frame.tick !== model.tick + 1) {
          model.stale = true;
          console.warn(`gameserver: missed ticks before ${frame.tick}; waiting for a keyframe`);
          return false;
        }
        model.applyDelta(frame.delta, frame);
      }
      model.tick = frame.tick;
    } catch (e) {
      // A frame the game's model cannot take: draw nothing wrong, start again at a keyframe.
      console.error(`gameserver: the ${this.game.name} model failed on tick ${frame.tick}`, e);
      model.stale = true;
      return false;
    }
    this.renderer.frameApplied?.(frame);
    this.input?.frameApplied?.(frame);
    return true;
  }

  /**
   * The match time now, in seconds: the `now` of the last frame (event-driven matches' frames
   * carry it) and the time since it came, so a deadline counts down between rare frames
   * without trusting this computer's clock. null when the frames carry none.
   */
  time() {
    const c = this._clock;
    return c ? c.now + (performance.now() - c.at) / 1000 : null;
  }

  /** The game's account of the match now ({status, started, over, waiting, note}), or null. */
  describe() {
    if (!this.model.ready) return null;
    return this.game.describe(this.model, { seat: this.seat, time: this.time() });
  }

  /** The HUD's rows, once there is a model to read them from. */
  rows() {
    return this.model.ready ? this.game.players(this.model) : [];
  }

  /** seat -> name, for the game-over table: the match's players, then the model's. */
  names(match) {
    const names = {};
    for (const p of match.players || []) names[p.seat] = p.name;
    for (const p of this.rows()) if (p.name) names[p.seat] = p.name;
    return names;
  }

  /** Take the game off the page: its listeners, its drawing loop and its elements. */
  destroy() {
    this.input?.destroy?.();
    this.renderer.destroy?.();
  }
}
