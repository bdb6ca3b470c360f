"""The checklist every registered game must pass (docs/GAMES.md), run against each of them:
deterministic for a seed and a log of calls, keyframe + deltas == the next keyframe in every
view, dump/load round trips mid-match, and bots alone finish a match. A new game in
games/rules/__init__.py is checked here without writing a line."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from games.rules import GAMES
from games.rules.base import EVENTS, Game, Seat, has_seat_views, kind, parse_options

VIEW_STEPS = 400  # steps whose every view is compared; the rest only run to the end
MAX_STEPS = 40_000  # Bench Arena runs 36,000 ticks to its time limit


def bots(game: Game) -> list[Seat]:
    return [Seat(i, f"bot {i}", bot=True) for i in range(game.default_seats)]


def views(game: Game) -> list[Callable[[Any, bool], Any]]:
    """Each view's keyframe (True) or delta (False): every seat's and the spectators', or the
    one everyone shares."""
    if not has_seat_views(game):
        return [lambda s, key: game.keyframe(s) if key else game.delta(s)]
    seat_views = [
        lambda s, key, seat=seat: game.seat_keyframe(s, seat) if key else game.seat_delta(s, seat)
        for seat in range(game.default_seats)
    ]
    spectators = [lambda s, key: game.spectator_keyframe(s) if key else game.spectator_delta(s)]
    return seat_views + spectators


def play(game: Game, state: Any, log: list, now: float) -> float:
    """One step by the bots (and, for an event-driven game, the clock); appended to `log`."""
    if kind(game) != EVENTS:
        inputs = [(s, m) for s in range(game.default_seats)
                  if (m := game.bot_input(state, s)) is not None]  # fmt: skip
        game.tick(state, inputs)
        log.append(("tick", inputs))
        return now
    for seat in game.to_move(state):
        move = game.bot_input(state, seat)
        if move is not None:
            now += 1.0
            game.move(state, seat, move, now)
            log.append(("move", seat, move, now))
            return now
    deadline = game.deadline(state)
    assert deadline is not None, "an event-driven match that waits for nothing is stuck"
    now = max(now, deadline)
    game.expire(state, now)
    log.append(("expire", now))
    return now


def finish(game: Game, state: Any, now: float) -> tuple[list, float]:
    """Play a match on to its end the way the engine would (bots asked at each step)."""
    log: list = []
    while not game.is_over(state):
        now = play(game, state, log, now)
        assert len(log) < MAX_STEPS, f"{game.name}: bots alone did not finish a match"
    return log, now


def new(game: Game, seed: int) -> Any:
    return game.new_state(seed=seed, seats=bots(game), options=parse_options(game, None))


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_game_passes_the_checklist(name, seed):
    game = GAMES[name]
    state = new(game, seed)
    models = [copy.deepcopy(view(state, True)) for view in views(game)]
    apply_delta = game.apply_delta
    log: list = []
    now, steps, checkpoint = 0.0, 0, None
    while not game.is_over(state):
        now = play(game, state, log, now)
        steps += 1
        assert steps < MAX_STEPS, f"{name}: bots alone did not finish a match"
        if steps <= VIEW_STEPS:
            for model, view in zip(models, views(game), strict=True):
                apply_delta(model, copy.deepcopy(view(state, False)))
                assert model == view(state, True), f"{name}: a view drifted at step {steps}"
                assert json.loads(json.dumps(view(state, False))) == view(state, False)
        if steps == VIEW_STEPS // 2:
            checkpoint = (json.loads(json.dumps(game.dump(state))), len(log), now)  # a copy
    result = game.result(state).to_json()
    assert sorted(s["seat"] for s in result["standings"]) == list(range(game.default_seats))

    again_log, _ = finish(game, again := new(game, seed), 0.0)
    assert again_log == log and game.dump(again) == game.dump(state), (
        f"{name}: not deterministic for its seed"
    )
    if checkpoint is not None:
        data, done, at = checkpoint
        loaded_log, _ = finish(game, loaded := game.load(data), at)
        assert loaded_log == log[done:] and game.dump(loaded) == game.dump(state), (
            f"{name}: dump/load changed the match"
        )
