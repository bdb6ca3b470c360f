"""A whole match on real processes: HTTP API, tickets, sockets, engine, database."""

from __future__ import annotations

import asyncio

import pytest

from tests.players import PERPENDICULAR, Player
from tests.support import Api

pytestmark = pytest.mark.timeout(120)


async def play_two_player_match(alice_api: Api, bob_api: Api) -> tuple[Player, Player, str]:
    alice_api.post("/api/guest", {"name": "alice"})
    bob_api.post("/api/guest", {"name": "bob"})
    created = alice_api.post("/api/matches", {"game": "lightcycles", "private": True, "seats": 2})
    code = created["match"]["code"]
    joined = bob_api.post("/api/join-by-code", {"code": code})
    match_id = created["match"]["id"]
    assert joined["match"]["id"] == match_id and joined["seat"] != created["seat"]

    alice = Player(alice_api.ws_url(), created, alice_api.base)
    bob = Player(bob_api.ws_url(), joined, bob_api.base)
    await alice.connect()
    await bob.connect()
    readers = [asyncio.create_task(p.run()) for p in (alice, bob)]

    # Each turns once the match is under way; each must see the other's new heading.
    for player in (alice, bob):
        await player.wait_until(player.playing, 30, "the match to start")
    for mover, watcher in ((alice, bob), (bob, alice)):
        heading = PERPENDICULAR[mover.me()["dir"]]
        await mover.send_input({"dir": heading})
        await watcher.wait_until(
            lambda w=watcher, m=mover, h=heading: (
                w.model["players"][m.seat]["dir"] == h or w.over is not None
            ),
            5,
            f"seat {mover.seat}'s turn to {heading}",
        )
        assert watcher.model["players"][mover.seat]["dir"] == heading
    await asyncio.wait_for(asyncio.gather(*readers), 60)
    return alice, bob, match_id


def assert_steady_frames(player: Player, tick_rate: int) -> None:
    """Every tick arrives, in order, at about the tick rate."""
    ticks = [frame["tick"] for _, frame in player.frames]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), "ticks missing or out of order"
    assert len(ticks) > 3 * tick_rate  # the countdown alone is 3 s
    seconds = player.frames[-1][0] - player.frames[0][0]
    rate = (len(ticks) - 1) / seconds
    assert 0.8 * tick_rate < rate < 1.2 * tick_rate, f"{rate:.1f} frames/s"


def assert_finished(api: Api, match_id: str, alice: Player, bob: Player) -> None:
    for player in (alice, bob):
        assert player.over is not None
        assert player.close_code == 1000
        assert player.frames[0][1]["key"], "the first frame a client gets is a keyframe"
    match = api.get(f"/api/matches/{match_id}")["match"]
    assert match["status"] == "finished"
    assert match["result"] == alice.over["result"] == bob.over["result"]
    names = {p["name"]: p for p in match["players"]}
    assert set(names) == {"alice", "bob"}
    assert all(p["placement"] in (1, 2) and p["score"] is not None for p in names.values())


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_players_on_two_web_processes_share_a_match_run_by_an_engine(
    redis_url, stack_factory, server
):
    stack = stack_factory(redis_url)
    stack.engine()
    web1, web2 = stack.web("web1", server=server), stack.web("web2", server=server)
    alice, bob, match_id = await play_two_player_match(Api(web1), Api(web2))
    assert_finished(Api(web1), match_id, alice, bob)
    for player in (alice, bob):
        assert_steady_frames(player, 20)


async def test_the_embedded_default_plays_a_match_in_one_process(stack_factory):
    stack = stack_factory()
    web = stack.web()
    alice, bob, match_id = await play_two_player_match(Api(web), Api(web))
    assert_finished(Api(web), match_id, alice, bob)
    for player in (alice, bob):
        assert_steady_frames(player, 20)
