"""Kill the engine that owns a running match: another engine takes it over from its last
checkpoint, the players' sockets keep receiving frames, and the result is written once.

Two seats, so the match ends soon after the takeover has been seen: the person steers until
twenty frames have arrived from the new owner, then rides into a wall and the bot wins."""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis

from tests.matches import steer, stop_tasks
from tests.players import Player
from tests.support import Api, wait_for

pytestmark = pytest.mark.timeout(120)


async def test_a_killed_engine_s_match_is_finished_by_another(redis_url, stack_factory):
    stack = stack_factory(redis_url, GAMESERVER_LEASE_TTL="2", GAMESERVER_CHECKPOINT_EVERY="10")
    engines = [stack.engine("engine-a"), stack.engine("engine-b")]
    web = stack.web()
    api = Api(web)
    api.post("/api/guest", {"name": "carol"})
    seat = api.post("/api/matches", {"game": "lightcycles", "private": False, "seats": 2})
    match_id = seat["match"]["id"]
    player = Player(api.ws_url(), seat, web)
    await player.connect()
    reader = asyncio.create_task(player.run())
    steering = asyncio.create_task(steer(player))
    await player.wait_until(player.playing, 30, "the match to start")

    prefix = stack.env["GAMESERVER_REDIS_PREFIX"]
    owner = redis.Redis.from_url(redis_url).get(f"{prefix}:lease:{match_id}").decode().split()[0]
    victim = next(e for e in engines if owner in e.output())
    survivor = next(e for e in engines if e is not victim)
    frames_before = len(player.frames)
    victim.stop(signal.SIGKILL)

    await player.wait_until(
        lambda: len(player.frames) > frames_before + 20 or player.over is not None,
        30,
        "frames from the engine that took the match over",
    )
    assert len(player.frames) > frames_before + 20, "frames resumed after the takeover"
    await stop_tasks(steering)
    await asyncio.wait_for(reader, 60)
    assert player.over is not None and player.close_code == 1000
    assert f"now running match {match_id}" in survivor.output()
    match = wait_for(
        lambda: (m := api.get(f"/api/matches/{match_id}")["match"])["status"] == "finished" and m,
        10,
        "the result in the database",
    )
    assert match["result"] == player.over["result"]
    assert sorted(p["placement"] is not None for p in match["players"]) == [True] * 2
