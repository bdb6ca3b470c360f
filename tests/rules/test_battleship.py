"""Battleship rules: placing, firing, timers, the end, hidden views, the bot and determinism.

Pure Python: no database, no Django settings needed.
"""

from __future__ import annotations

import json
import random
import re
import statistics
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from games.rules.base import EVENTS, IllegalMove, InvalidInput, Seat, Standing
from games.rules.battleship import FLEET, Battleship, BattleshipState, apply_delta
from games.rules.battleship.board import fleet_problem, random_fleet, ship_cells
from games.rules.battleship.bot import choose_target

GAME = Battleship()
# Ships of 5, 4, 3, 3, 2 along rows 0 to 4 from the left edge: every cell with x >= 5 is water.
ROWS = [[0, y, "h"] for y in range(len(FLEET))]
ROW_SHIPS = [[0, y, "h", length] for y, length in enumerate(FLEET)]  # as the rules keep them
ROW_CELLS = [(x, y) for y, length in enumerate(FLEET) for x in range(length)]
WATER = [(x, y) for y in range(10) for x in range(5, 10)]


def roundtrip(data: Any) -> Any:
    return json.loads(json.dumps(data))


def new(seed: int = 0, *, bots: bool = False, **options: Any) -> BattleshipState:
    seats = [Seat(0, "ann", bots), Seat(1, "bob", bots)]
    return GAME.new_state(seed=seed, seats=seats, options=options)


def place(state: BattleshipState, seat: int, ships: list[list[Any]] = ROWS, now: float = 0) -> None:
    GAME.move(state, seat, GAME.parse_input({"place": ships}), now)


def fire(state: BattleshipState, seat: int, x: int, y: int, now: float = 1) -> None:
    GAME.move(state, seat, GAME.parse_input({"fire": [x, y]}), now)


def firing(first: int = 0, **options: Any) -> BattleshipState:
    """Both fleets along the rows, `first` to fire; arranged through dump/load like a restore."""
    data = GAME.dump(new(**options))
    data["first"] = first
    state = GAME.load(data)
    place(state, 0)
    place(state, 1)
    return state


def views(state: BattleshipState) -> list[Any]:
    return [*(GAME.seat_keyframe(state, seat) for seat in (0, 1)), GAME.spectator_keyframe(state)]


def deltas(state: BattleshipState) -> list[Any]:
    return [GAME.seat_delta(state, 0), GAME.seat_delta(state, 1), GAME.spectator_delta(state)]


def refused(state: BattleshipState, seat: int, move: Any, message: str) -> None:
    """The move is refused with exactly `message`, and the state is left as it was."""
    before = GAME.dump(state)
    with pytest.raises(IllegalMove) as refusal:
        GAME.move(state, seat, GAME.parse_input(move), 5)
    assert str(refusal.value) == message
    assert GAME.dump(state) == before


def play_bots(state: BattleshipState, now: float = 0) -> int:
    """Every move the bots ask for, to the end; the number of shots fired."""
    shots = 0
    while not GAME.is_over(state):
        for seat in GAME.to_move(state):
            if state.phase == "firing":
                assert GAME.bot_input(state, 1 - seat) is None  # not its turn
            move = GAME.bot_input(state, seat)
            assert GAME.parse_input(move) == move  # the engine takes a bot's move unparsed
            GAME.move(state, seat, move, now)  # raises if it were illegal
            shots += "fire" in move
            now += 1
    return shots


# The game's declaration and the start


def test_the_game_declares_an_event_game_for_two() -> None:
    assert (GAME.name, GAME.title, GAME.listed, GAME.kind, GAME.tick_rate) == (
        "battleship", "Battleship", True, EVENTS, 1
    )  # fmt: skip
    assert (GAME.min_seats, GAME.max_seats, GAME.default_seats) == (2, 2, 2)
    assert (GAME.bot_plays_absent, GAME.clock_waits_for_grace, GAME.bots) == (False, True, True)
    assert [o.to_json() for o in GAME.options] == [
        {"name": "size", "label": "Board size", "default": 10, "type": "int", "min": 8, "max": 12},
        {"name": "turn_seconds", "label": "Seconds per turn", "default": 30, "type": "int",
         "min": 5, "max": 120},
        {"name": "placement_seconds", "label": "Seconds to place ships", "default": 60,
         "type": "int", "min": 10, "max": 180},
    ]  # fmt: skip


@pytest.mark.parametrize(("options", "size"), [(None, 10), ({}, 10), ({"size": 9}, 9)])
def test_missing_options_take_their_defaults(options: dict[str, Any] | None, size: int) -> None:
    state = GAME.new_state(seed=1, seats=[Seat(0, "a"), Seat(1, "b")], options=options)
    keyframe = GAME.spectator_keyframe(state)
    assert (keyframe["size"], keyframe["deadline"], state.turn_seconds) == (size, 60, 30)


def test_new_state_is_placing_with_the_placement_deadline() -> None:
    state = GAME.new_state(
        seed=3,
        seats=[Seat(1, "bot", bot=True), Seat(0, "ann")],
        options={"size": 8, "turn_seconds": 5, "placement_seconds": 15},
    )
    keyframe = GAME.seat_keyframe(state, 0)
    assert keyframe == {
        "phase": "placing", "size": 8, "fleet": [5, 4, 3, 3, 2], "turn": None, "deadline": 15,
        "you": 0,
        "players": [
            {"seat": 0, "name": "ann", "bot": False, "connected": False, "ready": False,
             "hits": 0, "timeouts": 0},
            {"seat": 1, "name": "bot", "bot": True, "connected": True, "ready": False,
             "hits": 0, "timeouts": 0},
        ],
        "ships": [], "shots": [[], []], "sunk": [[], []], "winner": None, "reason": None,
    }  # fmt: skip
    assert GAME.spectator_keyframe(state) == {**keyframe, "you": None}
    assert GAME.to_move(state) == (0, 1)
    assert GAME.deadline(state) == 15


@pytest.mark.parametrize(
    "bad", [[Seat(0, "a")], [Seat(0, "a"), Seat(2, "b")], [Seat(i, "x") for i in range(3)]]
)
def test_new_state_refuses_other_seats(bad: list[Seat]) -> None:
    with pytest.raises(ValueError, match="seats 0 and 1"):
        GAME.new_state(seed=1, seats=bad, options=None)


# Placing


def test_placing_makes_a_seat_ready_and_only_it_sees_its_ships() -> None:
    state = new()
    place(state, 0, now=4)
    assert deltas(state) == [{"ready": [0], "ships": ROW_SHIPS}, {"ready": [0]}, {"ready": [0]}]
    mine, theirs, watching = views(state)
    assert mine["ships"] == ROW_SHIPS and theirs["ships"] == [] and watching["ships"] == []
    assert [p["ready"] for p in theirs["players"]] == [True, False]
    assert (mine["phase"], GAME.to_move(state), GAME.deadline(state)) == ("placing", (1,), 60)


def test_firing_starts_when_both_are_ready() -> None:
    state = new()
    place(state, 1, now=3)
    place(state, 0, now=12.5)
    first = state.first
    assert GAME.spectator_delta(state) == {
        "ready": [0], "phase": "firing", "turn": first, "deadline": 42.5
    }  # fmt: skip
    assert GAME.to_move(state) == (first,)
    assert GAME.deadline(state) == 42.5


def test_the_first_firer_is_drawn_from_the_seed() -> None:
    def first(seed: int) -> int:
        state = new(seed)
        place(state, 0)
        place(state, 1)
        return GAME.spectator_keyframe(state)["turn"]

    firsts = [first(seed) for seed in range(30)]
    assert firsts == [first(seed) for seed in range(30)]
    assert set(firsts) == {0, 1}


@pytest.mark.parametrize(
    ("ships", "size", "message"),
    [
        ([*ROWS[:2], [8, 2, "h"], *ROWS[3:]], 10, "ship 3 (length 3) runs off the 10×10 board"),
        ([[0, 7, "v"], *ROWS[1:]], 10, "ship 1 (length 5) runs off the 10×10 board"),
        ([*ROWS[:4], [31, 31, "v"]], 12, "ship 5 (length 2) runs off the 12×12 board"),
        ([*ROWS[:2], [6, 2, "h"], *ROWS[3:]], 8, "ship 3 (length 3) runs off the 8×8 board"),
        ([ROWS[0], [4, 0, "v"], *ROWS[2:]], 10, "ships 1 and 2 overlap at (4, 0)"),
        ([*ROWS[:3], [1, 2, "v"], ROWS[4]], 10, "ships 3 and 4 overlap at (1, 2)"),
    ],
)
def test_a_fleet_off_the_board_or_overlapping_is_refused(
    ships: list[list[Any]], size: int, message: str
) -> None:
    refused(new(size=size), 0, {"place": ships}, message)


def test_placing_twice_or_after_the_end_is_refused() -> None:
    state = new()
    place(state, 0)
    refused(state, 0, {"place": ROWS}, "your fleet is placed already")
    place(state, 1)
    refused(state, 1, {"place": ROWS}, "your fleet is placed already")
    GAME.leave(state, 0)
    refused(state, 1, {"place": ROWS}, "the match is over")
    refused(new(), 0, {"place": [[0, y, "v"] for y in range(5)]}, "ships 1 and 2 overlap at (0, 1)")


# Firing


def test_a_hit_and_a_miss_and_the_turns_alternate() -> None:
    state = firing(first=0)
    fire(state, 0, 0, 0, now=7)
    hit = {"shot": [0, 0, 0, True], "players": [[0, "hits", 1]], "turn": 1, "deadline": 37}
    assert deltas(state) == [hit, hit, hit]
    assert GAME.to_move(state) == (1,)
    fire(state, 1, 9, 9, now=8.5)
    assert GAME.spectator_delta(state) == {"shot": [1, 9, 9, False], "turn": 0, "deadline": 38.5}
    keyframe = GAME.seat_keyframe(state, 1)
    assert keyframe["shots"] == [[[0, 0, True]], [[9, 9, False]]]
    assert [p["hits"] for p in keyframe["players"]] == [1, 0]
    assert keyframe["sunk"] == [[], []]


def test_sinking_a_ship_reveals_it_in_every_view() -> None:
    state = firing(first=0)
    fire(state, 0, 0, 4)
    fire(state, 1, 9, 9)
    assert all(view["sunk"] == [[], []] for view in views(state))
    fire(state, 0, 1, 4)
    assert all(delta["sunk"] == [1, 0, 4, "h", 2] for delta in deltas(state))
    assert all(view["sunk"] == [[], [[0, 4, "h", 2]]] for view in views(state))
    assert GAME.to_move(state) == (1,)


def test_sinking_the_whole_fleet_wins() -> None:
    state = firing(first=0)
    for (x, y), (wx, wy) in zip(ROW_CELLS, WATER, strict=False):
        fire(state, 0, x, y)
        if not GAME.is_over(state):
            fire(state, 1, wx, wy)
    assert GAME.is_over(state) and GAME.to_move(state) == () and GAME.deadline(state) is None
    result = GAME.result(state)
    assert (result.winner, result.reason) == (0, "fleet sunk")
    assert result.standings == (Standing(0, 17, 1), Standing(1, 0, 2))
    keyframe = GAME.spectator_keyframe(state)
    assert (keyframe["phase"], keyframe["turn"], keyframe["winner"]) == ("over", None, 0)
    assert keyframe["sunk"] == [[], ROW_SHIPS]  # in the order they sank


def test_refused_shots_say_why() -> None:
    state = new()
    refused(state, 0, {"fire": [1, 1]}, "ships are still being placed")
    state = firing(first=0)
    refused(state, 1, {"fire": [1, 1]}, "it is not your turn")
    refused(state, 0, {"fire": [10, 3]}, "(10, 3) is off the 10×10 board")
    refused(state, 0, {"fire": [3, 31]}, "(3, 31) is off the 10×10 board")
    fire(state, 0, 5, 5)
    fire(state, 1, 5, 5)  # the same cell of the other board is fine
    refused(state, 0, {"fire": [5, 5]}, "you already fired at (5, 5)")
    GAME.stop(state, "ended by staff")
    refused(state, 1, {"fire": [2, 2]}, "the match is over")


def test_result_before_the_end_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="is_over"):
        GAME.result(new())


# Timers


def test_the_placement_deadline_gives_whoever_is_not_ready_a_random_fleet() -> None:
    state = new(7)
    place(state, 0, now=5)
    GAME.expire(state, 60)
    assert state.players[0].ships == ROW_SHIPS
    theirs = state.players[1].ships
    assert [ship[3] for ship in theirs] == list(FLEET) and fleet_problem(theirs, 10) is None
    mine, their_delta, watching = deltas(state)
    assert their_delta == {**mine, "ships": theirs} and "ships" not in mine
    assert watching == mine == {"ready": [1], "phase": "firing", "turn": state.first,
                                "deadline": 90}  # fmt: skip


def test_nobody_placing_gets_two_random_fleets_drawn_from_the_seed() -> None:
    def fleets(seed: int) -> list[Any]:
        state = new(seed, size=8)
        GAME.expire(state, 60)
        assert GAME.spectator_delta(state)["ready"] == [0, 1]
        assert all(fleet_problem(p.ships, 8) is None for p in state.players)
        return [p.ships for p in state.players]

    assert fleets(4) == fleets(4)
    assert fleets(4)[0] != fleets(4)[1]
    assert len({json.dumps(fleets(seed)) for seed in range(10)}) == 10


def test_a_turn_that_runs_out_passes_and_counts() -> None:
    state = firing(first=1)
    GAME.expire(state, 30)
    assert GAME.spectator_delta(state) == {
        "players": [[1, "timeouts", 1]], "turn": 0, "deadline": 60
    }  # fmt: skip
    assert GAME.to_move(state) == (0,) and GAME.deadline(state) == 60


def test_three_time_outs_in_a_row_forfeit() -> None:
    state = firing(first=0)
    for count in (1, 2):
        now = GAME.deadline(state)
        GAME.expire(state, now)
        assert state.players[0].timeouts == count
        fire(state, 1, 9, count, now=now + 1)
    GAME.expire(state, GAME.deadline(state))
    assert GAME.spectator_delta(state) == {
        "players": [[0, "timeouts", 3]], "phase": "over", "turn": None, "deadline": None,
        "winner": 1, "reason": "out of time",
    }  # fmt: skip
    assert GAME.deadline(state) is None and GAME.to_move(state) == ()
    assert GAME.result(state).standings == (Standing(1, 0, 1), Standing(0, 0, 2))


def test_a_shot_resets_the_time_outs() -> None:
    state = firing(first=0)
    GAME.expire(state, 30)
    fire(state, 1, 9, 9, now=31)
    GAME.expire(state, 61)
    fire(state, 1, 9, 8, now=62)
    fire(state, 0, 9, 9, now=63)
    assert GAME.spectator_delta(state)["players"] == [[0, "timeouts", 0]]
    for _ in range(4):  # both let two turns each run out: seat 0 is at 2, not 4
        GAME.expire(state, GAME.deadline(state))
    assert [p.timeouts for p in state.players] == [2, 2]
    assert not GAME.is_over(state)


# Presence and the end


def test_join_and_drop_set_the_connection_and_an_empty_step_is_empty() -> None:
    state = new(bots=False)
    GAME.join(state, 1)
    assert deltas(state) == [{"players": [[1, "connected", True]]}] * 3
    GAME.join(state, 1)
    assert deltas(state) == [{}, {}, {}]
    GAME.drop(state, 1)
    assert GAME.seat_keyframe(state, 0)["players"][1]["connected"] is False
    assert [p["connected"] for p in GAME.spectator_keyframe(new(bots=True))["players"]] == [
        True, True
    ]  # fmt: skip


@pytest.mark.parametrize("placing", [True, False])
def test_leaving_hands_the_other_the_win(placing: bool) -> None:
    state = new() if placing else firing(first=1)
    GAME.join(state, 0)
    GAME.leave(state, 0)
    result = GAME.result(state)
    assert (result.winner, result.reason) == (1, "opponent left")
    assert GAME.spectator_delta(state)["players"] == [[0, "connected", False]]
    GAME.leave(state, 1)
    assert GAME.result(state) == result


def test_stop_with_equal_hits_is_a_tie() -> None:
    state = firing(first=0)
    fire(state, 0, 0, 0)
    fire(state, 1, 1, 0)
    GAME.stop(state, "ended by staff")
    result = GAME.result(state)
    assert (result.winner, result.reason) == (None, "ended by staff")
    assert result.standings == (Standing(0, 1, 1), Standing(1, 1, 1))
    assert GAME.deadline(state) is None


def test_stop_places_by_hits_landed() -> None:
    state = firing(first=0)
    fire(state, 0, 9, 0)
    fire(state, 1, 1, 0)
    GAME.stop(state, "ended by staff: server restart")
    result = GAME.result(state)
    assert (result.winner, result.reason) == (1, "ended by staff: server restart")
    assert result.standings == (Standing(1, 1, 1), Standing(0, 0, 2))
    GAME.stop(state, "again")
    assert GAME.result(state) == result and GAME.spectator_delta(state) == {}


# Input


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("fire", 'a move is an object with one field, "place" or "fire"'),
        (None, "; got None"),
        ({}, "a move is an object with one field"),
        ({"shoot": [1, 2]}, "got {'shoot': [1, 2]}"),
        ({"fire": [1, 2], "place": ROWS}, "a move is an object with one field"),
        ({"fire": [1]}, '"fire" must be [x, y], x and y whole numbers 0 to 31, like [3, 4]'),
        ({"fire": [1, 2, 3]}, '"fire" must be [x, y]'),
        ({"fire": "b4"}, "got 'b4'"),
        ({"fire": [1.0, 2]}, '"fire" must be [x, y]'),
        ({"fire": [True, 2]}, '"fire" must be [x, y]'),
        ({"fire": [-1, 2]}, '"fire" must be [x, y]'),
        ({"fire": [3, 32]}, '"fire" must be [x, y]'),
        ({"place": ROWS[:4]}, '"place" must list 5 ships [x, y, "h" or "v"], one for each length '
                              "5, 4, 3, 3, 2 in that order"),
        ({"place": {"ships": ROWS}}, '"place" must list 5 ships'),
        ({"place": [*ROWS[:4], [0, 4, "d"]]}, '"place" ship 5 must be [x, y, "h" or "v"]'),
        ({"place": [*ROWS[:4], [0, 4, "hv"]]}, '"place" ship 5 must be'),
        ({"place": [*ROWS[:4], [0, 4, ""]]}, '"place" ship 5 must be'),
        ({"place": [[0, 0], *ROWS[1:]]}, '"place" ship 1 must be'),
        ({"place": [ROWS[0], [0, 1, "h", 4], *ROWS[2:]]}, '"place" ship 2 must be'),
        ({"place": [ROWS[0], [0, 40, "h"], *ROWS[2:]]}, "x and y whole numbers 0 to 31"),
        ({"place": [ROWS[0], "0,1,h", *ROWS[2:]]}, "got '0,1,h'"),
    ],
)  # fmt: skip
def test_parse_input_explains_bad_shapes(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        GAME.parse_input(data)


@pytest.mark.parametrize("move", [{"fire": [3, 4]}, {"fire": [31, 0]}, {"place": ROWS}])
def test_parse_input_returns_good_moves_as_fresh_json(move: dict[str, Any]) -> None:
    parsed = GAME.parse_input(move)
    assert parsed == move == roundtrip(parsed)
    assert parsed[next(iter(move))] is not move[next(iter(move))]


# The bot


def test_bots_play_each_other_to_a_sunk_fleet() -> None:
    for seed in range(30):
        size = 8 + seed % 5
        state = new(seed, bots=True, size=size)
        assert GAME.bot_input(state, 0) == GAME.bot_input(state, 0)  # a question, not a step
        shots = play_bots(state)
        assert GAME.result(state).reason == "fleet sunk", seed
        assert shots <= 2 * size * size, (seed, shots)
        assert all(GAME.bot_input(state, seat) is None for seat in (0, 1))


def test_asking_a_bot_changes_nothing() -> None:
    state = firing(first=0)
    before = GAME.dump(state)
    assert GAME.bot_input(state, 1) is None and GAME.bot_input(state, 0) is not None
    assert GAME.dump(state) == before
    place_state = new()
    place(place_state, 0)
    assert GAME.bot_input(place_state, 0) is None and "place" in GAME.bot_input(place_state, 1)


def shots_to_sink(seed: int, aim: str) -> int:
    """Shots one shooter needs to sink a random 10×10 fleet, aiming by the bot or at random."""
    rng = random.Random(seed)
    fleet = random_fleet(rng, 10)
    owner = {cell: i for i, ship in enumerate(fleet) for cell in ship_cells(ship)}
    shots: list[list[Any]] = []
    sunk: list[list[Any]] = []
    while len(sunk) < len(fleet):
        if aim == "bot":
            x, y = choose_target(shots, sunk, 10, rng)
        else:
            fired = {(sx, sy) for sx, sy, _ in shots}
            x, y = rng.choice([(x, y) for y in range(10) for x in range(10) if (x, y) not in fired])
        shots.append([x, y, (x, y) in owner])
        fired = {(sx, sy) for sx, sy, _ in shots}
        if (x, y) in owner and fired.issuperset(ship_cells(fleet[owner[x, y]])):
            sunk.append(fleet[owner[x, y]])
    return len(shots)


def test_hunt_and_target_beats_firing_at_random() -> None:
    bot = statistics.mean(shots_to_sink(seed, "bot") for seed in range(30))
    blind = statistics.mean(shots_to_sink(seed, "random") for seed in range(30))
    assert bot < 0.8 * blind, (bot, blind)


@pytest.mark.parametrize(
    ("shots", "sunk", "allowed"),
    [
        ([[5, 5, True]], [], {(4, 5), (6, 5), (5, 4), (5, 6)}),
        ([[0, 0, True]], [], {(1, 0), (0, 1)}),
        ([[5, 5, True], [6, 5, True]], [], {(4, 5), (7, 5)}),
        ([[5, 5, True], [5, 6, True], [5, 7, True], [5, 4, False]], [], {(5, 8)}),
        (
            [[5, 5, True], [6, 5, True], [4, 5, False], [7, 5, False]], [],
            {(5, 4), (5, 6), (6, 4), (6, 6)},
        ),
        (
            [[5, 5, True], [6, 5, True], [2, 2, True]], [[5, 5, "h", 2]],
            {(1, 2), (3, 2), (2, 1), (2, 3)},
        ),
    ],
)  # fmt: skip
def test_the_bot_probes_hits_follows_lines_and_forgets_sunk_ships(
    shots: list[list[Any]], sunk: list[list[Any]], allowed: set[tuple[int, int]]
) -> None:
    for seed in range(20):
        assert tuple(choose_target(shots, sunk, 10, random.Random(seed))) in allowed


def test_the_bot_hunts_on_the_checkerboard_until_it_is_used_up() -> None:
    rng = random.Random(1)
    sunk = [[5, 5, "h", 2]]
    shots = [[5, 5, True], [6, 5, True]]
    for _ in range(20):
        x, y = choose_target(shots, sunk, 10, rng)
        assert (x + y) % 2 == 0 and [x, y] not in [s[:2] for s in shots]
        shots.append([x, y, False])
    parity = [[x, y, False] for y in range(8) for x in range(8) if (x + y) % 2 == 0]
    x, y = choose_target(parity, [], 8, rng)
    assert (x + y) % 2 == 1


# Determinism, checkpoints and the views


def apply(state: BattleshipState, entry: list[Any]) -> None:
    """One logged call: [call, seat, move, now]."""
    call, seat, move, now = entry
    if call == "move":
        GAME.move(state, seat, move, now)
    elif call == "expire":
        GAME.expire(state, now)
    else:
        getattr(GAME, call)(state, seat)


def person_and_bot(seed: int) -> BattleshipState:
    return GAME.new_state(seed=seed, seats=[Seat(0, "ann"), Seat(1, "bot", bot=True)], options={})


def play_logged(seed: int) -> tuple[list[Any], list[Any]]:
    """A person (seat 0, who never places and lets every fifth turn run out) against a bot.

    Returns the log of calls and the dump after each.
    """
    state = person_and_bot(seed)
    log: list[Any] = []
    dumps: list[Any] = []

    def step(call: str, seat: int | None = None, move: Any = None, now: float = 0) -> None:
        log.append([call, seat, move, now])
        apply(state, log[-1])
        dumps.append(roundtrip(GAME.dump(state)))

    step("join", 0)
    step("move", 1, GAME.bot_input(state, 1), 3)
    step("expire", now=60)
    now, turns = 60.0, 0
    while not GAME.is_over(state):
        now += 1.5
        if state.turn == 0:
            turns += 1
            if turns % 5 == 0:
                now = GAME.deadline(state)
                step("expire", now=now)
                continue
            if turns == 7:
                step("drop", 0)
                step("join", 0)
        step("move", state.turn, GAME.bot_input(state, state.turn), now)
    return log, dumps


def test_the_same_seed_and_log_give_the_same_match() -> None:
    log, dumps = play_logged(11)
    assert GAME.load(dumps[-1]).reason == "fleet sunk" and len(log) > 60
    assert play_logged(11) == (log, dumps)
    state = person_and_bot(11)
    replayed = []
    for entry in roundtrip(log):  # a replay asks no bot: the bot's answers are in the log
        apply(state, entry)
        replayed.append(roundtrip(GAME.dump(state)))
    assert replayed == dumps
    assert play_logged(12)[1] != dumps


@pytest.mark.parametrize("steps", [2, 40])  # mid-placement (one fleet placed), mid-firing
def test_a_restored_checkpoint_carries_on_identically(steps: int) -> None:
    log, _ = play_logged(5)
    state = person_and_bot(5)
    for entry in log[:steps]:
        apply(state, entry)
    assert state.phase == ("placing" if steps == 2 else "firing")
    data = GAME.dump(state)
    copy = GAME.load(json.loads(json.dumps(data)))
    assert GAME.dump(copy) == data
    for entry in log[steps:]:
        assert [GAME.bot_input(copy, s) for s in (0, 1)] == [
            GAME.bot_input(state, s) for s in (0, 1)
        ]
        apply(state, entry)
        apply(copy, entry)
        assert GAME.dump(copy) == GAME.dump(state)
        assert views(copy) == views(state) and deltas(copy) == deltas(state)
    assert GAME.is_over(copy) and GAME.result(copy) == GAME.result(state)


def test_dump_and_load_share_no_lists() -> None:
    state = firing(first=0)
    fire(state, 0, 0, 0)
    data = GAME.dump(state)
    kept = roundtrip(data)
    copy = GAME.load(data)
    for match in (state, copy):
        fire(match, 1, 3, 3)
    assert data == kept  # neither state wrote into the dump
    data["players"][0]["shots"].append([9, 9, False])
    data["changes"]["shot"][1] = 7
    assert GAME.dump(copy) == GAME.dump(state)


def assert_hides(state: BattleshipState, viewer: int | None, keyframe: Any, delta: Any) -> None:
    """A view shows the ships on a board only once sunk, unless it is the viewer's own board.

    The boards share coordinates, so what matters is whose ship a view shows: "ships" must be
    the viewer's own fleet (none for a spectator) and every "sunk" entry a ship sunk on its
    owner's board.
    """
    own = [] if viewer is None else state.players[viewer].ships
    assert keyframe["ships"] == own
    assert delta.get("ships", own) == own
    if viewer is None:
        assert "ships" not in delta
    shown = [(owner, ship) for owner, ships in enumerate(keyframe["sunk"]) for ship in ships]
    if "sunk" in delta:
        shown.append((delta["sunk"][0], delta["sunk"][1:]))
    for owner, ship in shown:
        player = state.players[owner]
        assert ship in [player.ships[i] for i in player.sunk]


ACTIONS = ["bots"] * 6 + ["random"] * 4 + ["expire"] * 2 + ["drop", "join", "checkpoint"]
STEPS = st.tuples(
    st.sampled_from(ACTIONS), st.integers(0, 1), st.integers(0, 40), st.integers(0, 40)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    bots=st.tuples(st.booleans(), st.booleans()),
    size=st.integers(8, 12),
    actions=st.lists(STEPS, min_size=10, max_size=80),
    end_at=st.integers(0, 150),
    end=st.sampled_from(["leave", "stop"]),
)
def test_every_view_follows_its_keyframe_and_hides_ships_afloat(
    seed: int,
    bots: tuple[bool, bool],
    size: int,
    actions: list[tuple[str, int, int, int]],
    end_at: int,
    end: str,
) -> None:
    """After every step, each view's keyframe + deltas is the next keyframe; refusals are no-ops.

    "bots" plays a run of up to 30 bot moves; at action `end_at`, if the match lasts that long,
    a seat leaves or staff stop it instead.
    """
    state = GAME.new_state(
        seed=seed,
        seats=[Seat(i, f"p{i}", bot) for i, bot in enumerate(bots)],
        options={"size": size},
    )
    models = [roundtrip(frame) for frame in views(state)]
    now = 0.0

    def check_step() -> None:
        for model, viewer, keyframe, delta in zip(
            models, (0, 1, None), views(state), deltas(state), strict=True
        ):
            assert_hides(state, viewer, keyframe, delta)
            assert apply_delta(model, roundtrip(delta)) == keyframe

    for index, (action, seat, a, b) in enumerate(actions):
        if state.deadline is not None:
            now = min(now + 1, state.deadline)
        if index == end_at:
            GAME.leave(state, seat) if end == "leave" else GAME.stop(state, "ended by staff")
        elif action == "bots":
            for _ in range(a % 30 + 1):
                waiting = GAME.to_move(state)
                if not waiting:
                    break
                mover = waiting[seat % len(waiting)]
                move = GAME.bot_input(state, mover)
                GAME.move(state, mover, GAME.parse_input(move), now)  # always legal
                check_step()
            continue
        elif action == "random":
            ships = [[(a + 7 * i) % 13, (b + 3 * i) % 13, "hv"[(a + i) % 2]] for i in range(5)]
            move = GAME.parse_input({"place": ships} if a % 3 == 0 else {"fire": [a % 13, b % 13]})
            before = GAME.dump(state)
            try:
                GAME.move(state, seat, move, now)
            except IllegalMove:
                assert GAME.dump(state) == before
                continue
        elif action == "expire":
            if state.deadline is None:
                continue
            now = state.deadline
            GAME.expire(state, now)
        elif action == "checkpoint":
            state = GAME.load(roundtrip(GAME.dump(state)))  # a takeover: not a step
            assert [roundtrip(frame) for frame in views(state)] == models
            continue
        else:
            getattr(GAME, action)(state, seat)
        check_step()
    if GAME.is_over(state):
        result = GAME.result(state)
        assert sorted(s.seat for s in result.standings) == [0, 1]
        placements = [s.placement for s in result.standings]
        assert (result.winner is None) == (placements == [1, 1])
