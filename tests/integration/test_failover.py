"""Kill the engine that owns a running match: another engine takes it over from its last
checkpoint, the players' sockets keep receiving frames, and the result is written once."""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis

from tests.players import Player
from tests.support import Api, wait_for

pytestmark = pytest.mark.timeout(120)


async def test_a_killed_engine_s_match_is_finished_by_another(redis_url, stack_factory):
    stack = stack_factory(redis_url, GAMESERVER_LEASE_TTL="2", GAMESERVER_CHECKPOINT_EVERY="10")
    engines = [stack.engine("engine-a"), stack.engine("engine-b")]
    web = stack.web()
    api = Api(web)
    api.post("/api/guest", {"name": "carol"})
    seat = api.post("/api/matches", {"game": "lightcycles", "private": False, "seats": 4})
    match_id = seat["match"]["id"]
    player = Player(api.ws_url(), seat, web)
    await player.connect()
    reader = asyncio.create_task(player.run())
    await player.wait_until(player.playing, 30, "the match to start")

    prefix = stack.env["GAMESERVER_REDIS_PREFIX"]
    owner = redis.Redis.from_url(redis_url).get(f"{prefix}:lease:{match_id}").decode().split()[0]
    victim = next(e for e in engines if owner in e.output())
    survivor = next(e for e in engines if e is not victim)
    frames_before = len(player.frames)
    victim.stop(signal.SIGKILL)

    # Bots play the other seats; our own cycle may crash, but the match goes on to its end.
    await asyncio.wait_for(reader, 90)
    assert player.over is not None and player.close_code == 1000
    assert len(player.frames) > frames_before + 20, "frames resumed after the takeover"
    assert f"now running match {match_id}" in survivor.output()
    match = wait_for(
        lambda: (m := api.get(f"/api/matches/{match_id}")["match"])["status"] == "finished" and m,
        10,
        "the result in the database",
    )
    assert match["result"] == player.over["result"]
    assert sorted(p["placement"] is not None for p in match["players"]) == [True] * 4
