"""MatchRuntime bookkeeping that the engine host relies on."""

from __future__ import annotations

from games.engine.runtime import MatchRuntime
from games.rules import get_game


def runtime() -> MatchRuntime:
    return MatchRuntime(
        match_id="abc", game=get_game("bench"), seats=2, seed=1, tick_rate=20, fill_after=5
    )


def test_hubs_that_stop_asking_for_frames_are_forgotten():
    match = runtime()
    match.watchers = {"hub.alive": 100.0, "hub.dead": 80.0}
    match.forget_silent_watchers(now=101.0, ttl=15)
    assert list(match.watchers) == ["hub.alive"]


def test_a_match_starts_when_every_seat_is_connected_or_after_the_fill_wait():
    match = runtime()
    assert not match.should_start(now=0)
    match.connect(0)
    assert not match.should_start(now=match.first_join + 1)
    assert match.should_start(now=match.first_join + 5)
    match.connect(1)
    assert match.should_start(now=match.first_join)
