"""An event-driven match in the engine's runtime (Battleship): a frame per step and none in
between, one encoding per view, refusals for the mover, alarms at deadlines and bot moves,
and match time that survives a checkpoint."""

from __future__ import annotations

import json

from games.engine.runtime import OVER, Connection, MatchRuntime
from games.protocol import VIEW_SEAT, VIEW_SPECTATORS
from games.rules import get_game
from games.rules.base import Seat, parse_options

ANN = Connection("hub.one", "1")
BOB = Connection("hub.two", "2")
FLEET_AT_TOP = {"place": [[0, 0, "h"], [0, 1, "h"], [0, 2, "h"], [0, 3, "h"], [0, 4, "h"]]}


def runtime(**options) -> MatchRuntime:
    game = get_game("battleship")
    return MatchRuntime(match_id="bs1", game=game, seats=2, seed=7, tick_rate=1, fill_after=5,
                        options=parse_options(game, options), bot_think=0.5)  # fmt: skip


def started(bot: bool = False, **options) -> MatchRuntime:
    match = runtime(**options)
    match.connect(0, ANN, "ann")
    if not bot:
        match.connect(1, BOB, "bob")
    match.start([Seat(0, "ann"), Seat(1, "bob" if not bot else "bot", bot=bot)])
    return match


def take(match: MatchRuntime) -> list:
    frames, match.outbox = match.outbox, []
    return frames


def bodies(frames: list) -> dict[int, dict]:
    return {frame.view: json.loads(frame.text) for frame in frames}


def test_the_start_sends_each_seat_its_own_keyframe_and_spectators_theirs():
    match = started()
    frames = take(match)
    assert [f.view for f in frames] == [VIEW_SPECTATORS, VIEW_SEAT, VIEW_SEAT + 1]
    views = bodies(frames)
    assert all(body["key"] and body["tick"] == 1 for body in views.values())
    assert views[VIEW_SEAT]["state"]["you"] == 0 and views[VIEW_SEAT + 1]["state"]["you"] == 1
    assert views[VIEW_SPECTATORS]["state"]["you"] is None
    assert 0 <= views[VIEW_SEAT]["now"] < 1, "frames carry match time for the clock"


def test_a_move_is_one_step_and_nothing_is_sent_between_steps():
    match = started()
    take(match)
    assert match.add_input(0, FLEET_AT_TOP) is None
    frames = take(match)
    assert {f.tick for f in frames} == {2} and not any(f.key for f in frames)
    mine, theirs = bodies(frames)[VIEW_SEAT]["delta"], bodies(frames)[VIEW_SEAT + 1]["delta"]
    assert mine["ships"] and "ships" not in theirs, "the other seat never sees my fleet"
    assert match.next_wake() > 50, "no bot to move: only the placement deadline is waited for"
    assert take(match) == []


def test_an_illegal_move_is_refused_with_the_game_s_reason_and_changes_nothing():
    match = started()
    take(match)
    before = json.dumps(match.dump())
    assert match.add_input(0, {"fire": [1, 1]}) == "ships are still being placed"
    assert take(match) == [] and json.dumps(match.dump()) == before


def test_a_bot_to_move_moves_after_its_think_time_and_the_deadline_expires_a_turn():
    match = started(bot=True, turn_seconds=5)
    take(match)
    assert abs(match.next_wake() - 0.5) < 0.05, "the bot places after its think time"
    match.origin -= 1  # a second of match time went by
    match.wake()
    match.add_input(0, FLEET_AT_TOP)
    take(match)
    assert match.state.phase == "firing"
    # Whoever is to move: the bot moves, the person's clock runs to its deadline.
    if match.state.turn == 1:
        match.next_wake()  # the host sets the alarm after every step: the bot's think starts
        match.origin -= 1
        match.wake()
        take(match)
    assert match.state.turn == 0
    deadline = match.game.deadline(match.state)
    assert abs(match.next_wake() - (deadline - match.now())) < 0.05
    match.origin -= deadline - match.now() + 0.01
    match.wake()
    frames = take(match)
    assert bodies(frames)[VIEW_SEAT]["delta"]["turn"] == 1, "the turn ran out and passed"


def test_the_clock_of_a_person_away_waits_for_the_grace():
    match = started(bot=True)
    take(match)
    match.disconnect(0, ANN, now=1.0)
    assert match.next_wake() is not None, "the bot still places"
    match.bot_due = None
    assert match._deadline() is None, "while the person to move is away, no deadline runs"


def test_match_time_and_step_numbers_survive_a_checkpoint():
    match = started()
    match.add_input(0, FLEET_AT_TOP)
    take(match)
    match.origin -= 30
    copy = runtime()
    copy.restore(json.loads(json.dumps(match.dump())))
    assert copy.seq == match.seq and abs(copy.now() - match.now()) < 0.1
    assert copy.game.deadline(copy.state) == match.game.deadline(match.state)
    copy.resume_above(match.seq + 5)  # a hub has seen steps the checkpoint missed
    frames = take(copy)
    assert all(f.key and f.tick == match.seq + 6 for f in frames)


def test_staff_ending_an_event_driven_match_ends_it_at_once():
    match = started()
    take(match)
    match.stop("ended by staff")
    frames = take(match)
    assert match.phase == OVER and frames[-1].over is not None
    assert json.loads(frames[-1].over)["result"]["reason"] == "ended by staff"
    assert sum(f.over is not None for f in frames) == 1, "one `over`, on the last frame"
