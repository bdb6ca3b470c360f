"""Four in a Row rules: drops and wins, refusals, the turn clock, presence, the bot.

Pure Python: no database, no Django settings needed.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from games.rules import GAMES
from games.rules.base import EVENTS, IllegalMove, InvalidInput, Seat, Standing, parse_options
from games.rules.fourinarow import ROWS, FourInARow, FourState, apply_delta, choose_column

GAME = FourInARow()


def new(seed: int = 0, bots: bool = False, **options: Any) -> FourState:
    """A match with seat 0 to move (seed 0), the given options over the defaults."""
    seats = [Seat(0, "ann", bots), Seat(1, "bob", bots)]
    return GAME.new_state(seed=seed, seats=seats, options=parse_options(GAME, options))


def drop(state: FourState, *columns: int, now: float = 1.0) -> None:
    """Discs into `columns` in turn, whoever's turn it is."""
    for column in columns:
        GAME.move(state, state.turn, GAME.parse_input({"column": column}), now)


def refused(state: FourState, seat: int, column: int, message: str) -> None:
    """The move is refused with exactly `message`, and the state is left as it was."""
    before = GAME.dump(state)
    with pytest.raises(IllegalMove) as refusal:
        GAME.move(state, seat, GAME.parse_input({"column": column}), 5.0)
    assert str(refusal.value) == message
    assert GAME.dump(state) == before


def test_the_game_is_registered_as_an_event_game_for_two() -> None:
    assert GAMES["fourinarow"].__class__ is FourInARow
    assert (GAME.title, GAME.listed, GAME.kind) == ("Four in a Row", True, EVENTS)
    assert GAME.tick_rate == 1
    assert (GAME.min_seats, GAME.max_seats, GAME.default_seats) == (2, 2, 2)
    assert (GAME.bot_plays_absent, GAME.clock_waits_for_grace, GAME.bots) == (False, True, True)
    assert [o.to_json() for o in GAME.options] == [
        {"name": "columns", "label": "Columns", "default": 7, "type": "int", "min": 5, "max": 9},
        {"name": "turn_seconds", "label": "Seconds per turn", "default": 20, "type": "int",
         "min": 5, "max": 120},
    ]  # fmt: skip


def test_a_new_match_is_an_empty_grid_with_the_first_turns_clock() -> None:
    state = GAME.new_state(
        seed=3, seats=[Seat(1, "bot", bot=True), Seat(0, "ann")],
        options={"columns": 5, "turn_seconds": 9},
    )  # fmt: skip
    assert GAME.keyframe(state) == {
        "columns": 5, "rows": ROWS, "turn": 1, "deadline": 9.0, "phase": "playing",
        "winner": None, "reason": None, "last": None, "grid": [[], [], [], [], []],
        "players": [{"seat": 0, "name": "ann", "bot": False, "connected": False},
                    {"seat": 1, "name": "bot", "bot": True, "connected": True}],
    }  # fmt: skip
    assert (GAME.to_move(state), GAME.deadline(state)) == ((1,), 9.0)
    assert {new(seed).turn for seed in range(4)} == {0, 1}


@pytest.mark.parametrize("seats", [[Seat(0, "a")], [Seat(0, "a"), Seat(2, "b")]])
def test_new_state_refuses_other_seats(seats: list[Seat]) -> None:
    with pytest.raises(ValueError, match="seats 0 and 1"):
        GAME.new_state(seed=0, seats=seats, options=parse_options(GAME, None))


def test_a_drop_lands_on_top_and_passes_the_turn() -> None:
    state = new()
    drop(state, 3, now=4.5)
    assert GAME.delta(state) == {"drop": [0, 3], "turn": 1, "deadline": 24.5}
    drop(state, 3, now=6)
    keyframe = GAME.keyframe(state)
    assert (keyframe["grid"][3], keyframe["last"], keyframe["turn"]) == ([0, 1], [3, 1], 0)
    assert GAME.to_move(state) == (0,)


# Per direction: (seat 0's columns, seat 1's), played in turn from seat 0; the last one wins.
WINS = {
    "across": ([0, 1, 2, 3], [0, 1, 2]),
    "down": ([4, 4, 4, 4], [5, 5, 5]),
    "rising diagonal": ([0, 1, 2, 3, 2, 3, 3], [1, 2, 6, 3, 6, 6]),
    "falling diagonal": ([6, 5, 4, 3, 4, 3, 3], [5, 4, 0, 3, 0, 0]),
}


@pytest.mark.parametrize("direction", sorted(WINS))
def test_four_in_each_direction_wins(direction: str) -> None:
    mine, theirs = WINS[direction]
    state = new()
    for turn in range(len(mine) + len(theirs)):
        assert state.phase == "playing", f"won early, at drop {turn}"
        drop(state, (theirs if turn % 2 else mine)[turn // 2])
    assert (state.phase, state.winner, state.reason) == ("over", 0, "four in a row")
    assert GAME.delta(state) == {
        "drop": [0, mine[-1]], "phase": "over", "winner": 0, "reason": "four in a row",
        "deadline": None,
    }  # fmt: skip
    assert (GAME.is_over(state), GAME.to_move(state), GAME.deadline(state)) == (True, (), None)
    assert GAME.result(state).standings == (Standing(0, 1, 1), Standing(1, 0, 2))
    refused(state, 1, 0, "the match is over")


def test_three_in_a_row_or_four_broken_by_the_other_does_not_win() -> None:
    state = new()
    drop(state, 0, 0, 1, 1, 2, 3, 4)  # seat 0: 0, 1, 2, 4 along the bottom; seat 1 took 3
    assert state.phase == "playing"


def test_a_full_grid_is_a_draw() -> None:
    # Fills the grid as ((column // 2) + row) % 2: no line of one seat is longer than two.
    order = [4, *[3] * 6, *[2] * 6, *[4] * 5, *[1] * 6, *[5] * 6, *[0] * 5, *[6] * 6, 0]
    state = new()
    drop(state, *order[:-1])
    assert state.phase == "playing"
    drop(state, order[-1])
    assert (state.phase, state.winner, state.reason) == ("over", None, "draw")
    assert state.grid == [[(c // 2 + r) % 2 for r in range(ROWS)] for c in range(7)]
    assert GAME.result(state).standings == (Standing(0, 1, 1), Standing(1, 1, 1))


def test_refusals_say_why_and_change_nothing() -> None:
    state = new(columns=5)
    refused(state, 1, 0, "it is not your turn")
    refused(state, 0, 5, "there are only 5 columns")
    drop(state, *[2] * ROWS)
    refused(state, state.turn, 2, "column 3 is full")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, 'a move is {"column": n}, the column to drop a disc into'),
        ([3], 'a move is {"column": n}, the column to drop a disc into'),
        ({}, 'a move is {"column": n}, the column to drop a disc into'),
        ({"column": 1, "row": 2}, 'a move is {"column": n}, the column to drop a disc into'),
        ({"column": "3"}, "\"column\" must be a whole number 0 to 15, got '3'"),
        ({"column": True}, '"column" must be a whole number 0 to 15, got True'),
        ({"column": 2.0}, '"column" must be a whole number 0 to 15, got 2.0'),
        ({"column": -1}, '"column" must be a whole number 0 to 15, got -1'),
        ({"column": 16}, '"column" must be a whole number 0 to 15, got 16'),
    ],
)
def test_parse_input_refuses_every_other_shape(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        GAME.parse_input(data)
    assert str(refusal.value) == message


def test_a_turn_that_runs_out_passes_with_a_new_clock() -> None:
    state = new(turn_seconds=10)
    assert GAME.deadline(state) == 10.0
    GAME.expire(state, 10.0)
    assert GAME.delta(state) == {"turn": 1, "deadline": 20.0}
    assert (GAME.to_move(state), GAME.deadline(state)) == ((1,), 20.0)
    GAME.expire(state, 20.25)
    assert (state.turn, state.deadline, state.grid) == (0, 30.25, [[] for _ in range(7)])


def test_presence_is_a_step_that_names_changed_flags_only() -> None:
    state = new()
    GAME.join(state, 0)
    assert GAME.delta(state) == {"connected": [[0, True]]}
    GAME.join(state, 0)
    assert GAME.delta(state) == {}
    GAME.drop(state, 0)
    assert GAME.delta(state) == {"connected": [[0, False]]}
    assert state.phase == "playing"


def test_leaving_loses_and_stop_ends_as_a_draw() -> None:
    state = new()
    GAME.join(state, 1)
    GAME.leave(state, 1)
    assert GAME.delta(state) == {
        "connected": [[1, False]], "phase": "over", "winner": 0, "reason": "opponent left",
        "deadline": None,
    }  # fmt: skip
    assert GAME.result(state).winner == 0
    GAME.leave(state, 0)  # after the end: only the flag
    assert (state.winner, state.reason) == (0, "opponent left")

    stopped = new()
    drop(stopped, 3)
    GAME.stop(stopped, "ended by staff")
    assert GAME.delta(stopped) == {
        "phase": "over", "winner": None, "reason": "ended by staff", "deadline": None
    }  # fmt: skip
    result = GAME.result(stopped)
    assert (result.winner, result.reason) == (None, "ended by staff")
    assert result.standings == (Standing(0, 1, 1), Standing(1, 1, 1))


def test_keyframe_and_deltas_stay_in_step_through_a_dump_and_load() -> None:
    state = new(seed=1)
    model = json.loads(json.dumps(GAME.keyframe(state)))
    steps = [
        lambda s: GAME.join(s, 0),
        lambda s: drop(s, 3),
        lambda s: GAME.expire(s, 30.0),
        lambda s: drop(s, 4),
        lambda s: GAME.drop(s, 1),
    ]
    for step in steps:
        state = GAME.load(json.loads(json.dumps(GAME.dump(state))))
        step(state)
        apply_delta(model, json.loads(json.dumps(GAME.delta(state))))
        assert model == GAME.keyframe(state)


def test_the_bot_takes_a_win_before_blocking() -> None:
    grid = [[1, 1, 1], [0, 0, 0], [], [], [], [], []]
    assert choose_column(grid, 7, 1) == 0
    assert choose_column(grid, 7, 0) == 1
    assert grid == [[1, 1, 1], [0, 0, 0], [], [], [], [], []]  # asking changes nothing


def test_the_bot_blocks_a_four_and_otherwise_keeps_to_the_middle() -> None:
    assert choose_column([[0], [0], [0], [], [], [], []], 7, 1) == 3
    assert choose_column([[] for _ in range(7)], 7, 0) == 3
    assert choose_column([[] for _ in range(6)], 6, 0) == 2
    full = [[0, 1] * 3 for _ in range(7)]
    full[5] = []
    assert choose_column(full, 7, 1) == 5


def test_the_bot_does_not_drop_under_the_others_win() -> None:
    # Seat 0 has columns 0 to 2 of row 1: a disc in the middle column 3 would let it win on top.
    grid = [[1, 0], [0, 0], [1, 0], [], [], [], []]
    assert choose_column(grid, 7, 1) == 2


def test_bot_input_is_asked_only_of_the_seat_to_move_and_is_legal() -> None:
    state = new(bots=True)
    assert GAME.bot_input(state, 1) is None
    move = GAME.bot_input(state, 0)
    assert GAME.parse_input(move) == move
    before = GAME.dump(state)
    assert GAME.bot_input(state, 0) == move and GAME.dump(state) == before


def test_the_bot_beats_a_player_who_drops_at_random() -> None:
    wins = 0
    for seed in range(40):
        state, rng, bot = new(seed), random.Random(seed), seed % 2
        now = 0.0
        while not GAME.is_over(state):
            now += 1
            if state.turn == bot:
                move = GAME.bot_input(state, bot)
            else:
                move = {"column": rng.choice([c for c in range(7) if len(state.grid[c]) < ROWS])}
            GAME.move(state, state.turn, move, now)
        wins += state.winner == bot
    assert wins >= 38, f"the bot won {wins} of 40"
