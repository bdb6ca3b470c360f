"""MatchRuntime bookkeeping that the engine host relies on."""

from __future__ import annotations

import json

import pytest

from games.engine.runtime import PLAYING, Connection, MatchRuntime, SeatGone
from games.rules import get_game
from games.rules.base import IllegalMove, Seat

ALICE = Connection("hub.one", "1")
ALICE_AGAIN = Connection("hub.two", "7")
BOB = Connection("hub.one", "2")


def runtime(game: str = "bench") -> MatchRuntime:
    return MatchRuntime(
        match_id="abc", game=get_game(game), seats=2, seed=1, tick_rate=20, fill_after=5, grace=20
    )


def playing(game: str = "lightcycles") -> MatchRuntime:
    match = runtime(game)
    match.connect(0, ALICE)
    match.connect(1, BOB)
    match.start([Seat(index=0, name="alice", bot=False), Seat(index=1, name="bob", bot=False)])
    return match


def connected(match: MatchRuntime, seat: int) -> bool:
    return match.game.keyframe(match.state)["players"][seat]["connected"]


def test_a_silent_hub_is_sent_nothing_and_its_seats_drop():
    match = playing()
    bob_elsewhere = Connection("hub.three", "9")
    match.connect(1, bob_elsewhere)
    match.watchers = {ALICE.hub: 100.0, bob_elsewhere.hub: 98.5}
    assert match.silent_hubs(now=101.0, timeout=3) == []
    assert match.silent_hubs(now=101.0, timeout=2) == [bob_elsewhere.hub]
    match.drop_hub(bob_elsewhere.hub, now=101.0)
    assert list(match.watchers) == [ALICE.hub]
    assert connected(match, 0) and not connected(match, 1)
    assert match.absent == {1: 101.0}  # its grace runs: a bot steers, then it leaves


def test_a_match_starts_when_every_seat_is_connected_or_after_the_fill_wait():
    match = runtime()
    assert not match.should_start(now=0)
    match.connect(0, ALICE)
    assert not match.should_start(now=match.first_join + 1)
    assert match.should_start(now=match.first_join + 5)
    match.connect(1, BOB)
    assert match.should_start(now=match.first_join)


def test_a_dropped_seat_is_kept_through_the_grace_and_a_bot_steers_it():
    match = playing()
    match.disconnect(0, ALICE, now=100.0)
    match.disconnect(1, BOB, now=100.0)
    assert match.absent == {0: 100.0, 1: 100.0} and not connected(match, 0)
    assert match.expire_absent(now=119.9) == []
    for _ in range(200):  # ten seconds: a cycle left going straight would have hit a wall
        match.step()
    assert all(p["alive"] for p in match.game.keyframe(match.state)["players"])
    assert match.connect(0, ALICE_AGAIN) is None
    assert match.absent == {1: 100.0} and connected(match, 0)
    # The returning socket gets a keyframe of its own; the others keep their deltas.
    tick, text, _ = match.joiner_keyframe()
    assert not match.keyframe_due and json.loads(text)["state"]["players"][0]["connected"]
    assert tick == match.state.tick and json.loads(text)["key"] is True


def test_after_the_grace_the_seat_is_gone_and_the_rules_make_its_player_leave():
    match = playing()
    match.disconnect(0, ALICE, now=100.0)
    assert match.expire_absent(now=120.0) == [0]
    assert match.left == {0}
    assert not match.game.keyframe(match.state)["players"][0]["alive"]
    with pytest.raises(SeatGone):
        match.connect(0, ALICE_AGAIN)
    restored = runtime("lightcycles")
    restored.restore(match.dump())
    with pytest.raises(SeatGone):  # another engine that takes the match over refuses it too
        restored.connect(0, ALICE_AGAIN)


def test_a_second_socket_replaces_the_first_whose_late_drop_changes_nothing():
    match = playing()
    assert match.connect(0, ALICE_AGAIN) == ALICE
    match.disconnect(0, ALICE, now=100.0)  # the replaced socket closing
    assert match.absent == {} and match.connections[0] == ALICE_AGAIN and connected(match, 0)
    assert match.connect(0, ALICE_AGAIN) is None  # a hub re-registering the same socket


def test_a_person_who_dropped_while_waiting_is_absent_from_the_start():
    match = runtime("lightcycles")
    match.connect(0, ALICE)
    match.connect(1, BOB)
    match.disconnect(1, BOB, now=1.0)
    assert match.absent == {}
    match.start([Seat(index=0, name="alice", bot=False), Seat(index=1, name="bob", bot=False)])
    assert match.phase == PLAYING and list(match.absent) == [1] and not connected(match, 1)


def test_a_taken_over_match_waits_a_grace_for_every_person_to_come_back():
    match = playing()
    restored = runtime("lightcycles")
    restored.restore(match.dump())
    assert sorted(restored.absent) == [0, 1]
    restored.connect(0, ALICE)
    assert list(restored.absent) == [1] and connected(restored, 0)


def test_a_waiting_match_shows_who_is_here_on_each_change_and_once_a_second():
    match = runtime("lightcycles")
    assert match.lobby(now=0.0) is None  # nobody yet
    match.connect(0, ALICE, "alice")
    first = match.first_join
    lobby = match.lobby(now=first)
    assert lobby == {"type": "lobby", "seats": 2, "players": [{"seat": 0, "name": "alice"}],
                     "bots_in": 5.0}  # fmt: skip
    assert match.lobby(now=first + 0.5) is None  # nothing new
    match.connect(1, BOB, "bob")
    assert [p["name"] for p in match.lobby(now=first + 0.6)["players"]] == ["alice", "bob"]
    assert match.lobby(now=first + 1.7)["bots_in"] == 3.3  # the countdown, once a second
    match.start([Seat(index=0, name="alice", bot=False), Seat(index=1, name="bob", bot=False)])
    assert match.lobby(now=first + 3) is None  # playing: frames say the rest


def test_a_waiting_match_nobody_connected_to_is_abandoned_after_the_timeout():
    match = runtime()
    assert not match.is_stale(now=match.created + 59, timeout=60)
    assert match.is_stale(now=match.created + 60, timeout=60)


def test_a_waiting_match_everyone_left_is_abandoned_after_the_grace_never_played_by_bots():
    match = runtime()
    match.connect(0, ALICE)
    match.disconnect(0, ALICE, now=match.first_join + 1)
    later = match.first_join + match.fill_after + 1  # bots would have filled the seats
    assert not match.should_start(now=later), "bots never play a match alone"
    assert not match.is_stale(now=match.first_join + 20, timeout=60)  # the grace: 20 s
    assert match.is_stale(now=match.first_join + 21, timeout=60)
    match.connect(0, ALICE_AGAIN)  # back in time: the room is alive again
    assert not match.is_stale(now=match.first_join + 100, timeout=60)
    assert match.should_start(now=later)


@pytest.mark.parametrize("game", ["lightcycles", "bench"])
def test_staff_ending_a_match_makes_its_next_tick_the_last_with_the_staff_reason(game):
    match = playing(game)
    for _ in range(80):  # past Light Cycles' countdown: cycles moved, scores differ from 0
        match.step()
    before = match.state.tick
    match.stop("ended by staff: cheating reported")
    (frame,) = match.step()
    assert frame.tick == before + 1, "the last frame is a new tick, so hubs do not drop it"
    assert frame.over is not None and match.phase == "over"
    result = json.loads(frame.over)["result"]
    assert result["reason"] == "ended by staff: cheating reported"
    assert sorted(s["seat"] for s in result["standings"]) == [0, 1]
    assert all(s["placement"] in (1, 2) for s in result["standings"])


def test_staff_ending_survives_a_checkpoint():
    match = playing("bench")
    match.step()
    match.stop("ended by staff")
    copy = runtime("bench")
    copy.restore(json.loads(json.dumps(match.dump())))
    (frame,) = copy.step()
    assert frame.over is not None
    assert json.loads(frame.over)["result"]["reason"] == "ended by staff"


@pytest.mark.parametrize("to_bot", [True, False])
def test_a_kicked_seat_is_closed_refused_and_given_to_a_bot_or_left(to_bot):
    match = playing()
    assert match.remove(1, to_bot=to_bot) == BOB, "the socket to close"
    assert 1 not in match.connections and 1 in match.left
    with pytest.raises(SeatGone):
        match.connect(1, Connection("hub.one", "3"))
    match.add_input(1, {"dir": "up"})
    assert match.inputs == [], "the kicked person's inputs are not taken"
    assert match.roster[1].bot is to_bot
    cycle = match.game.keyframe(match.state)["players"][1]
    assert cycle["alive"] is to_bot, "leave crashes a Light Cycle; a bot rides it on"
    restored = runtime("lightcycles")
    restored.restore(json.loads(json.dumps(match.dump())))
    assert restored.roster[1].bot is to_bot and 1 in restored.left


class NoDownhill(type(get_game("bench"))):
    """Bench Arena with a check: a ticking game may refuse a move when it arrives."""

    def check(self, state, seat, move):
        if move == "down":
            raise IllegalMove("no going down in this arena")


def test_a_ticking_game_s_check_refuses_a_move_to_its_mover_before_the_tick():
    match = MatchRuntime(match_id="abc", game=NoDownhill(), seats=2, seed=1, tick_rate=20,
                         fill_after=5, grace=20)  # fmt: skip
    match.connect(0, ALICE)
    match.connect(1, BOB)
    match.start([Seat(index=0, name="alice"), Seat(index=1, name="bob")])
    assert match.add_input(0, "down") == "no going down in this arena"
    assert match.add_input(1, "left") is None
    assert match.inputs == [(1, "left")], "only the allowed move waits for the tick"
