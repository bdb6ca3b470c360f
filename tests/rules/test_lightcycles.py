"""Light Cycles rules: movement, collisions, scoring, the wire format and determinism.

Pure Python: no database, no Django settings needed.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from games.rules import GAMES, get_game
from games.rules.base import InvalidInput, Seat
from games.rules.lightcycles import rules as lc
from games.rules.lightcycles.grid import TURNS
from games.rules.lightcycles.rules import (
    COUNTDOWN_TICKS,
    CRASH_BONUS,
    HEIGHT,
    LAST_BONUS,
    MOVE_EVERY,
    PLAY_TICKS,
    WIDTH,
    LightCycles,
    LightCyclesState,
    apply_delta,
)

GAME = LightCycles()
DIRS = ["up", "down", "left", "right"]


def seats(count: int, *, bots: bool = False) -> list[Seat]:
    return [Seat(i, f"p{i}", bots) for i in range(count)]


def roundtrip(data: Any) -> Any:
    return json.loads(json.dumps(data))


def arena(*cycles: tuple[int, int, str], seed: int = 0, **changes: Any) -> LightCyclesState:
    """A match already in play with cycles at (x, y, heading) and no trails yet.

    Built through dump/load so the grid is rebuilt the way a checkpoint restore does it.
    """
    data = GAME.dump(GAME.new_state(seed=seed, seats=seats(len(cycles))))
    data.update(phase="play", countdown=0, **changes)
    for row, (x, y, heading) in zip(data["cycles"], cycles, strict=True):
        row[3:8] = [x, y, heading, heading, [[x, y]]]
    state = GAME.load(data)
    state.seen = lc._visible(state)  # start the next delta from this arranged picture
    return state


def move(state: LightCyclesState, *inputs: tuple[int, str]) -> None:
    """Tick until every live cycle has moved once more, giving `inputs` in the first tick."""
    GAME.tick(state, list(inputs))
    while state.play_ticks % MOVE_EVERY:
        GAME.tick(state, [])


def player(state: LightCyclesState, seat: int) -> dict[str, Any]:
    return GAME.keyframe(state)["players"][seat]


def run_bots(state: LightCyclesState, limit: int = 10_000) -> None:
    for _ in range(limit):
        if GAME.is_over(state):
            return
        count = len(state.cycles)
        GAME.tick(state, [(s, d) for s in range(count) if (d := GAME.bot_input(state, s))])


# Registry and set-up


def test_registry_finds_the_game_and_names_the_known_ones() -> None:
    assert isinstance(get_game("lightcycles"), LightCycles)
    assert GAMES["lightcycles"] is get_game("lightcycles")
    with pytest.raises(KeyError, match="lightcycles"):
        get_game("chess")
    assert (GAME.name, GAME.title, GAME.tick_rate) == ("lightcycles", "Light Cycles", 20)
    assert (GAME.min_seats, GAME.max_seats, GAME.default_seats) == (2, 8, 4)


@pytest.mark.parametrize("bad", [seats(1), seats(9), [Seat(0, "a"), Seat(2, "b")]])
def test_new_state_refuses_bad_seats(bad: list[Seat]) -> None:
    with pytest.raises(ValueError, match="seat"):
        GAME.new_state(seed=1, seats=bad)


@pytest.mark.parametrize("count", range(2, 9))
def test_spawns_are_apart_and_nobody_crashes_early_without_steering(count: int) -> None:
    for seed in range(25):
        state = GAME.new_state(seed=seed, seats=seats(count))
        cells = {(c.x, c.y) for c in state.cycles}
        assert len(cells) == count
        assert all(0 <= x < WIDTH and 0 <= y < HEIGHT for x, y in cells)
        for _ in range(COUNTDOWN_TICKS + lc.SPAWN_CLEAR_MOVES * MOVE_EVERY):
            GAME.tick(state, [])
        assert all(c.alive for c in state.cycles), (seed, count)


def test_people_start_disconnected_bots_connected_and_join_connects() -> None:
    state = GAME.new_state(seed=3, seats=[Seat(0, "ann"), Seat(1, "bot", bot=True)])
    assert [p["connected"] for p in GAME.keyframe(state)["players"]] == [False, True]
    GAME.join(state, 0)
    GAME.tick(state, [])
    assert player(state, 0)["connected"] is True
    assert GAME.delta(state)["connected"] == [[0, True]]


# Movement


def test_countdown_holds_everyone_still_but_takes_a_heading() -> None:
    state = GAME.new_state(seed=5, seats=seats(2))
    start = [(c.x, c.y) for c in state.cycles]
    turn = TURNS[state.cycles[0].heading][0]
    GAME.tick(state, [(0, turn)])
    assert GAME.delta(state) == {"tick": 1, "countdown": COUNTDOWN_TICKS - 1, "dirs": [[0, turn]]}
    for _ in range(COUNTDOWN_TICKS - 1):
        GAME.tick(state, [])
    assert [(c.x, c.y) for c in state.cycles] == start
    assert GAME.keyframe(state)["phase"] == "play"
    assert GAME.keyframe(state)["countdown"] == 0
    GAME.tick(state, [])
    GAME.tick(state, [])
    dx, dy = lc.STEPS[turn]
    assert (state.cycles[0].x, state.cycles[0].y) == (start[0][0] + dx, start[0][1] + dy)


def test_a_cycle_moves_one_cell_every_two_ticks_and_a_turn_adds_a_corner() -> None:
    state = arena((10, 10, "right"), (50, 40, "left"))
    GAME.tick(state, [])
    assert player(state, 0)["x"] == 10
    GAME.tick(state, [])
    assert GAME.delta(state)["moves"] == [[0, 11, 10], [1, 49, 40]]
    move(state)
    assert player(state, 0)["trail"] == [[10, 10], [12, 10]]
    move(state, (0, "down"))
    move(state)
    me = player(state, 0)
    assert (me["x"], me["y"], me["dir"]) == (12, 12, "down")
    assert me["trail"] == [[10, 10], [12, 10], [12, 12]]
    assert me["score"] == 4


def test_reverse_is_ignored_and_the_last_valid_input_wins() -> None:
    state = arena((10, 10, "right"), (50, 40, "left"))
    move(state, (0, "left"))
    assert player(state, 0)["x"] == 11
    move(state, (0, "up"), (0, "down"))
    assert (player(state, 0)["x"], player(state, 0)["y"]) == (11, 11)
    # Heading "left" is pending but the cycle last went down: "up" is still a reverse.
    GAME.tick(state, [(0, "left"), (0, "up")])
    assert player(state, 0)["dir"] == "left"
    GAME.tick(state, [])
    assert (player(state, 0)["x"], player(state, 0)["y"]) == (10, 11)


# Collisions


def test_wall_crash_ends_a_two_player_match() -> None:
    state = arena((WIDTH - 1, 5, "right"), (20, 20, "up"))
    move(state)
    crashed, survivor = GAME.keyframe(state)["players"]
    assert not crashed["alive"] and (crashed["x"], crashed["y"]) == (WIDTH - 1, 5)
    assert survivor["alive"] and survivor["score"] == 1 + CRASH_BONUS + LAST_BONUS
    assert GAME.is_over(state)
    result = GAME.result(state)
    assert (result.winner, result.reason) == (1, "last cycle standing")
    assert [(s.seat, s.placement) for s in result.standings] == [(1, 1), (0, 2)]
    assert GAME.delta(state)["crashed"] == [0]
    assert GAME.delta(state)["phase"] == "over"


def test_running_into_another_trail_or_your_own_crashes() -> None:
    state = arena((10, 10, "down"), (5, 11, "right"), (30, 30, "down"))
    for _ in range(4):
        move(state)
    assert all(c.alive for c in state.cycles)
    move(state)
    assert [c.alive for c in state.cycles] == [True, False, True]  # seat 1 hit (10, 11)
    move(state, (2, "right"))
    move(state, (2, "up"))
    assert [c.alive for c in state.cycles] == [True, False, True]
    move(state, (2, "left"))  # back into its own trail
    assert not state.cycles[2].alive
    assert GAME.result(state).winner == 0


def test_head_on_swap_crashes_both() -> None:
    state = arena((10, 10, "right"), (11, 10, "left"), (30, 30, "down"))
    move(state)
    assert [c.alive for c in state.cycles] == [False, False, True]
    assert [(c.x, c.y) for c in state.cycles[:2]] == [(10, 10), (11, 10)]
    assert GAME.result(state).winner == 2


def test_two_cycles_entering_one_cell_both_crash_and_it_stays_free() -> None:
    state = arena((10, 10, "right"), (12, 10, "left"))
    move(state)
    assert [c.alive for c in state.cycles] == [False, False]
    assert state.grid[lc.cell_index(11, 10)] == 0
    result = GAME.result(state)
    assert (result.winner, result.reason) == (None, "draw")
    assert [s.placement for s in result.standings] == [1, 1]


# Score and placement


def test_scores_placements_and_shared_places() -> None:
    state = arena((0, 5, "left"), (WIDTH - 1, 8, "up"), (0, 20, "down"), (30, 30, "down"))
    move(state)  # seat 0 runs into the wall alone: 4th
    assert [c.score for c in state.cycles] == [0] + [1 + CRASH_BONUS] * 3
    assert [c.placement for c in state.cycles] == [4, None, None, None]
    move(state, (1, "right"), (2, "left"))  # both into the wall in the same tick: 2nd each
    assert [c.placement for c in state.cycles] == [4, 2, 2, 1]
    assert state.cycles[3].score == 2 + CRASH_BONUS + 2 * CRASH_BONUS + LAST_BONUS
    result = GAME.result(state)
    assert result.winner == 3
    assert [(s.seat, s.placement) for s in result.standings] == [(3, 1), (1, 2), (2, 2), (0, 4)]
    assert result.to_json()["standings"][0] == {"seat": 3, "score": 82, "placement": 1}


def test_time_limit_places_survivors_by_score() -> None:
    state = arena(
        (5, 5, "right"), (5, 15, "right"), (5, 25, "right"), (0, 40, "left"),
        play_ticks=PLAY_TICKS - 2 * MOVE_EVERY,
    )  # fmt: skip
    move(state)  # seat 3 crashes; the others go on
    state.cycles[1].score += 5
    assert not GAME.is_over(state)
    move(state)
    assert GAME.is_over(state)
    assert state.play_ticks == PLAY_TICKS
    result = GAME.result(state)
    assert (result.winner, result.reason) == (1, "time limit")
    assert [(s.seat, s.placement) for s in result.standings] == [(1, 1), (0, 2), (2, 2), (3, 4)]


def test_time_limit_with_equal_scores_is_a_draw() -> None:
    state = arena((5, 5, "right"), (5, 15, "right"), play_ticks=PLAY_TICKS - MOVE_EVERY)
    move(state)
    result = GAME.result(state)
    assert (result.winner, result.reason) == (None, "time limit")
    assert GAME.keyframe(state)["phase"] == "over"


def test_result_before_the_end_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="is_over"):
        GAME.result(GAME.new_state(seed=1, seats=seats(2)))


# Input


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("up", "must be an object"),
        (["up"], "must be an object"),
        (None, "must be an object"),
        ({}, 'needs "dir"'),
        ({"dir": "up", "boost": True}, "unknown input field"),
        ({"dir": "north"}, "must be"),
        ({"dir": 1}, "must be"),
        ({"dir": "UP"}, "must be"),
    ],
)
def test_parse_input_explains_bad_input(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        GAME.parse_input(data)


@pytest.mark.parametrize("heading", DIRS)
def test_parse_input_accepts_the_four_directions(heading: str) -> None:
    assert GAME.parse_input({"dir": heading}) == heading


# Leave


def test_leave_crashes_at_once_and_the_next_delta_says_so() -> None:
    state = arena((10, 10, "right"), (10, 20, "right"), (10, 30, "right"))
    GAME.join(state, 1)
    move(state)
    model = roundtrip(GAME.keyframe(state))
    GAME.leave(state, 1)
    me = player(state, 1)
    assert (me["alive"], me["connected"]) == (False, False)
    assert [c.score for c in state.cycles] == [1 + CRASH_BONUS, 1, 1 + CRASH_BONUS]
    assert state.cycles[1].placement == 3
    GAME.tick(state, [])
    delta = GAME.delta(state)
    assert delta["crashed"] == [1] and delta["connected"] == [[1, False]]
    assert apply_delta(model, roundtrip(delta)) == GAME.keyframe(state)


def test_leave_in_a_two_player_countdown_hands_the_other_the_win() -> None:
    state = GAME.new_state(seed=2, seats=seats(2))
    GAME.leave(state, 0)
    assert GAME.is_over(state)
    result = GAME.result(state)
    assert (result.winner, result.reason) == (1, "last cycle standing")
    GAME.leave(state, 1)  # leaving a finished match changes nothing but the connection
    assert GAME.result(state) == result


# Bots


def test_bots_only_think_before_a_move() -> None:
    assert GAME.bot_input(GAME.new_state(seed=4, seats=seats(2, bots=True)), 0) is None
    state = arena((0, 10, "left"), (30, 30, "down"))  # seat 0 faces the wall
    assert GAME.bot_input(state, 0) is None  # the next tick moves nobody
    GAME.tick(state, [])
    choice = GAME.bot_input(state, 0)
    assert choice in ("up", "down")
    GAME.tick(state, [(0, choice)])
    assert state.cycles[0].alive
    assert GAME.bot_input(state, 0) is None


def test_bots_survive_long_on_an_empty_board() -> None:
    lengths = []
    for seed, count in enumerate([2, 2, 4, 4, 8, 8]):
        state = GAME.new_state(seed=seed, seats=seats(count, bots=True))
        run_bots(state)
        assert GAME.is_over(state)
        first_out = min(c.score for c in state.cycles)  # moves made before the first crash
        assert first_out >= 40, (seed, count)  # nobody crashes in the first 4 s
        lengths.append(state.play_ticks / GAME.tick_rate)
    assert statistics.median(lengths) >= 20, lengths


# Determinism, checkpoints and the wire format


def scripted(seed: int, count: int = 4) -> tuple[list[Any], Any]:
    """Run a match of bots and one person who turns on a schedule; every keyframe and result."""
    state = GAME.new_state(seed=seed, seats=[Seat(0, "ann"), *seats(count, bots=True)[1:]])
    frames = []
    while not GAME.is_over(state):
        inputs = [(s, d) for s in range(1, count) if (d := GAME.bot_input(state, s))]
        if state.tick % 17 == 0:
            inputs.append((0, DIRS[state.tick % 4]))
        GAME.tick(state, inputs)
        frames.append(GAME.keyframe(state))
    return frames, GAME.result(state)


def test_same_seed_and_inputs_give_the_same_match_and_other_seeds_differ() -> None:
    assert scripted(11) == scripted(11)
    first = [GAME.keyframe(GAME.new_state(seed=s, seats=seats(4))) for s in range(20)]
    assert len({json.dumps(k) for k in first}) == 20
    assert scripted(11) != scripted(12)


def test_a_restored_checkpoint_carries_on_identically() -> None:
    state = GAME.new_state(seed=21, seats=seats(6, bots=True))
    for _ in range(COUNTDOWN_TICKS + 150):
        GAME.tick(state, [(s, d) for s in range(6) if (d := GAME.bot_input(state, s))])
    copy = GAME.load(roundtrip(GAME.dump(state)))
    assert GAME.delta(copy) == GAME.delta(state)
    while not GAME.is_over(state):
        inputs = [(s, d) for s in range(6) if (d := GAME.bot_input(state, s))]
        copy_inputs = [(s, d) for s in range(6) if (d := GAME.bot_input(copy, s))]
        assert copy_inputs == inputs
        GAME.tick(state, inputs)
        GAME.tick(copy, inputs)
        assert GAME.keyframe(copy) == GAME.keyframe(state)
        assert GAME.delta(copy) == GAME.delta(state)
    assert GAME.is_over(copy) and GAME.result(copy) == GAME.result(state)


def test_keyframes_are_small_json() -> None:
    state = GAME.new_state(seed=8, seats=[Seat(i, f"player{i}") for i in range(4)])
    for _ in range(COUNTDOWN_TICKS + 20):
        GAME.tick(state, [])
    keyframe = GAME.keyframe(state)
    assert roundtrip(keyframe) == keyframe
    assert len(json.dumps(keyframe, separators=(",", ":"))) < 700


EVENT = st.tuples(
    st.integers(0, 6),  # ticks to run before the event
    st.integers(0, 7),  # seat, modulo the seat count
    st.sampled_from([*DIRS, *DIRS, "leave", "join", "checkpoint", "keyframe"]),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(2, 8),
    bot_mask=st.integers(0, 255),
    events=st.lists(EVENT, max_size=120),
)
def test_keyframe_plus_deltas_is_the_next_keyframe(
    seed: int, count: int, bot_mask: int, events: list[tuple[int, int, str]]
) -> None:
    """Checked after every tick, from the first keyframe and from ones taken mid-match."""
    state = GAME.new_state(
        seed=seed, seats=[Seat(i, f"p{i}", bool(bot_mask >> i & 1)) for i in range(count)]
    )
    models = [roundtrip(GAME.keyframe(state))]
    pending: list[tuple[int, str]] = []
    ended_at: list[int] = []

    def tick() -> None:
        bots = [(s, d) for s in range(count) if (d := GAME.bot_input(state, s))]
        GAME.tick(state, pending + bots)
        pending.clear()
        if GAME.is_over(state) and not ended_at:
            ended_at.append(state.tick)
        delta = roundtrip(GAME.delta(state))
        keyframe = GAME.keyframe(state)  # models are parsed JSON: a tuple here would not match
        for model in models:
            assert apply_delta(model, delta) == keyframe

    for gap, seat, action in events:
        for _ in range(gap):
            tick()
        seat %= count
        if action == "leave":
            GAME.leave(state, seat)
        elif action == "join":
            GAME.join(state, seat)
        elif action == "checkpoint":
            state = GAME.load(roundtrip(GAME.dump(state)))
        elif action == "keyframe":
            models.append(roundtrip(GAME.keyframe(state)))
        else:
            pending.append((seat, GAME.parse_input({"dir": action})))
    while not GAME.is_over(state):
        tick()
    tick()  # a finished match still reports changes made between ticks, e.g. a last leave
    assert not ended_at or ended_at[0] <= COUNTDOWN_TICKS + PLAY_TICKS  # else ended by a leave
    result = GAME.result(state)
    assert sorted(s.seat for s in result.standings) == list(range(count))
    assert (result.winner is None) == (sum(s.placement == 1 for s in result.standings) != 1)
