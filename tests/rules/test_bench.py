"""Bench Arena: the benchmark's game keeps its keyframe/delta promise and never ends early."""

from __future__ import annotations

import copy
import json
import random

import pytest

from games.rules.base import InvalidInput, Seat
from games.rules.bench import SIZE, TIME_LIMIT_TICKS, BenchArena, apply_delta

GAME = BenchArena()


def new(seats: int = 4, seed: int = 7):
    roster = [Seat(index=i, name=f"p{i}", bot=i % 2 == 1) for i in range(seats)]
    return GAME.new_state(seed=seed, seats=roster)


def test_keyframe_plus_deltas_equals_the_next_keyframe():
    rng = random.Random(1)
    state = new()
    model = json.loads(json.dumps(GAME.keyframe(state)))
    for _ in range(300):
        inputs = [(seat, rng.choice(["up", "down", "left", "right"])) for seat in (0, 2)]
        bots = [(s, m) for s in (1, 3) if (m := GAME.bot_input(state, s)) is not None]
        if rng.random() < 0.1:  # people drop, come back and leave between ticks
            getattr(GAME, rng.choice(["join", "drop", "leave"]))(state, rng.choice((0, 2)))
        GAME.tick(state, bots + inputs if rng.random() < 0.3 else bots)
        apply_delta(model, json.loads(json.dumps(GAME.delta(state))))
        assert model == GAME.keyframe(state)


def test_dots_wrap_around_the_field():
    state = new(seats=1)
    dot = state.dots[0]
    dot.x, dot.dir = SIZE - 1, "right"
    GAME.tick(state, [])
    assert dot.x == 0 and dot.score == 1


@pytest.mark.parametrize("data", [None, [], {}, {"dir": "north"}, {"dir": "up", "x": 1}])
def test_bad_inputs_are_named(data):
    with pytest.raises(InvalidInput):
        GAME.parse_input(data)


def test_a_checkpoint_resumes_identically():
    state = new()
    for _ in range(50):
        GAME.tick(state, [(0, "left")])
    copy_ = GAME.load(json.loads(json.dumps(GAME.dump(state))))
    for _ in range(50):
        GAME.tick(state, [(2, "up")])
        GAME.tick(copy_, [(2, "up")])
    assert GAME.keyframe(copy_) == GAME.keyframe(state)


def test_it_ends_only_at_the_time_limit_with_a_result():
    state = new()
    state.tick = TIME_LIMIT_TICKS - 1
    assert not GAME.is_over(state)
    GAME.tick(state, [])
    assert GAME.is_over(state) and GAME.delta(state)["phase"] == "over"
    assert GAME.result(copy.deepcopy(state)).reason == "draw"
