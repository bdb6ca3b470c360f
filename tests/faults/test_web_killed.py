"""kill -9 of a web process in mid-match: its hub's heartbeat stops, so within HUB_TIMEOUT the
engine treats its sockets as dropped (the others see the player away, a bot steers), after the
grace the seat is gone for good (left_at, ticket 410), and no more frames go to the dead hub."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import signal
import time

import pytest
import redis.asyncio

from tests.faults.checks import agreed_result, assert_database, prefix, redis_client, seats
from tests.matches import close_all, private_match, start, steer, stop_tasks
from tests.players import Player
from tests.support import Api, Stack

pytestmark = pytest.mark.timeout(120)

HUB_TIMEOUT = 3  # seconds without a heartbeat before an engine drops a hub's sockets
GRACE = 4  # seconds a dropped seat waits for its player
AWAY_WITHIN = HUB_TIMEOUT + 2.5  # + the once-a-second sweep, + slack for a loaded machine
LEFT_WITHIN = HUB_TIMEOUT + GRACE + 2.0  # slack for a loaded two-core machine
SILENT_WITHIN = HUB_TIMEOUT + 2.0  # the last frame sent to the dead hub, after the kill


def same_session(api: Api, base: str) -> Api:
    """The same browser session (cookies) talking to another web process."""
    twin = copy.copy(api)
    twin.base = base
    return twin


def hub_channels(stack: Stack) -> set[str]:
    """The hubs' channel-layer channels: Redis pub/sub channels their processes subscribe to
    (channels-redis RedisPubSubChannelLayer); a killed process's goes as its socket closes."""
    pattern = f"{prefix(stack)}:layer:hub.*"
    return {name.decode() for name in redis_client(stack).pubsub_channels(pattern)}


async def count_arrivals(url: str, channel: str, arrivals: list[float]) -> None:
    """Listen on a dead hub's channel in its place: what engines still send to it arrives."""
    client = redis.asyncio.Redis.from_url(url)
    listener = client.pubsub()
    await listener.subscribe(channel)
    try:
        while True:
            if await listener.get_message(ignore_subscribe_messages=True, timeout=0.5):
                arrivals.append(time.monotonic())
    finally:
        await listener.aclose()
        await client.aclose()


async def test_a_killed_web_process_s_players_are_dropped(redis_url, stack_factory):
    stack = stack_factory(
        redis_url,
        GAMESERVER_HUB_TIMEOUT=str(HUB_TIMEOUT),
        GAMESERVER_RECONNECT_GRACE=str(GRACE),
    )
    stack.engine()
    web_a, web_b = stack.web("web-a", server="uvicorn"), stack.web("web-b", server="uvicorn")
    match_id, apis, tickets = private_match(web_a, ["alice", "bob", "carol"], seats=3)
    alice = Player(apis["alice"].ws_url(), tickets["alice"], web_a)
    bob, carol = (
        Player(same_session(apis[name], web_b).ws_url(), tickets[name], web_b)
        for name in ("bob", "carol")
    )
    players = [alice, bob, carol]
    readers = [await start(player) for player in players]
    steering = {p.seat: asyncio.create_task(steer(p)) for p in players}
    probe: asyncio.Task | None = None
    try:
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(1)
        assert bob.model["players"][alice.seat]["connected"] is True
        hubs = await asyncio.to_thread(hub_channels, stack)
        assert len(hubs) == 2, f"probe: expected the two hubs' channels in Redis, found {hubs}"

        killed = time.monotonic()
        os.killpg(stack.webs[0].proc.pid, signal.SIGKILL)  # web-a; no wait: frames keep coming
        await stop_tasks(steering.pop(alice.seat))
        while len(alive := await asyncio.to_thread(hub_channels, stack)) != 1:
            assert time.monotonic() - killed < 2, f"probe: hub channels {alive} after the kill"
            await asyncio.sleep(0.05)
        arrivals: list[float] = []
        probe = asyncio.create_task(count_arrivals(redis_url, (hubs - alive).pop(), arrivals))

        for player in (bob, carol):
            await player.wait_until(
                lambda p=player: not p.model["players"][alice.seat]["connected"],
                AWAY_WITHIN,
                "Alice shown away after her web process was killed",
            )
        away = time.monotonic() - killed  # her cycle rode unsteered until then: it may crash

        async def left_at() -> object | None:
            return (await asyncio.to_thread(seats, stack, match_id))[alice.seat].left_at

        while await left_at() is None:
            assert time.monotonic() - killed < LEFT_WITHIN, "Alice's seat not marked left in time"
            await asyncio.sleep(0.2)
        left = time.monotonic() - killed
        await bob.wait_until(
            lambda: not bob.model["players"][alice.seat]["alive"], 1, "a left seat's cycle to crash"
        )
        assert bob.over is None, "the match ended too early to tell"
        alice_on_b = same_session(apis["alice"], web_b)
        status, answer = await asyncio.to_thread(
            alice_on_b.request, "POST", f"/api/matches/{match_id}/ticket", {}
        )
        assert (status, answer["error"]["code"]) == (410, "seat_gone"), (status, answer)

        await stop_tasks(probe)
        assert arrivals, "probe: nothing heard on the dead hub's channel, not even at first"
        silent = arrivals[-1] - killed
        print(
            f"\nAlice away after {away:.2f} s, left after {left:.2f} s (grace {GRACE} s); "
            f"last of {len(arrivals)} messages to the dead hub {silent:.2f} s after the kill "
            f"(watched for {time.monotonic() - killed:.1f} s)"
        )
        assert silent <= SILENT_WITHIN, f"frames still sent to the dead hub {silent:.2f} s later"

        await stop_tasks(*steering.values())  # the others ride into walls: the match ends
        await asyncio.wait_for(asyncio.gather(readers[1], readers[2]), 30)
        assert (bob.close_code, carol.close_code) == (1000, 1000)
        await asyncio.to_thread(assert_database, stack, {match_id: agreed_result([bob, carol])})
    finally:
        if probe is not None:
            with contextlib.suppress(Exception):
                await stop_tasks(probe)
        await stop_tasks(*steering.values())
        await close_all(players, readers)
