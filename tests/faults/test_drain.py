"""SIGTERM of the engine running a match (a deploy drains it): it checkpoints, releases the
match and tells the other engines at once, so the players' frames pause for well under half a
second, not until the next takeover poll; it exits with 0; the match ends with one result."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from itertools import pairwise

import pytest

from tests.faults.checks import agreed_result, assert_database, owner_engine
from tests.matches import close_all, private_match, start, steer, stop_tasks
from tests.players import Player
from tests.support import Process, Stack

pytestmark = pytest.mark.timeout(120)

FREEZE_LIMIT = 0.5  # seconds between two frames at a client around the hand-over
WATCH_AFTER = 3.0  # seconds of frames looked at after the SIGTERM
EXIT_WITHIN = 10  # seconds for the drained engine to exit


def longest_gap(player: Player, since: float, until: float) -> float:
    """The longest wait between frames arriving in [since, until], its ends included."""
    times = [since, *(at for at, _ in player.frames if since <= at <= until), until]
    return max(b - a for a, b in pairwise(times))


async def drain_owner(stack: Stack, match_id: str, players: list[Player]) -> tuple[str, float]:
    """SIGTERM the match's engine without blocking the players' loop; the freeze they saw."""
    owner: Process = await asyncio.to_thread(owner_engine, stack, match_id)
    signalled = time.monotonic()
    os.killpg(owner.proc.pid, signal.SIGTERM)
    while owner.proc.poll() is None:
        assert time.monotonic() - signalled < EXIT_WITHIN, f"{owner.name} did not exit"
        await asyncio.sleep(0.05)
    assert owner.proc.returncode == 0, f"{owner.name} exited {owner.proc.returncode}"
    await asyncio.sleep(max(0.0, signalled + WATCH_AFTER - time.monotonic()))
    freeze = max(longest_gap(p, signalled - 0.5, time.monotonic()) for p in players)
    return owner.name, freeze


async def test_a_drained_engine_hands_over_without_a_freeze(redis_url, stack_factory):
    stack = stack_factory(redis_url)
    stack.engine("engine-a")
    stack.engine("engine-b")
    web = stack.web(server="uvicorn")
    match_id, apis, seats = private_match(web, ["alice", "bob"], seats=2)
    players = [Player(apis[name].ws_url(), seats[name], web) for name in apis]
    readers = [await start(player) for player in players]
    steering = [asyncio.create_task(steer(player)) for player in players]
    try:
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(1)
        # Twice, so that a hand-over that waits for a poll cannot pass by landing just before it.
        freezes = [await drain_owner(stack, match_id, players)]
        await asyncio.to_thread(stack.engine, "engine-c")  # a thread: the players keep steering
        freezes.append(await drain_owner(stack, match_id, players))
        shown = ", ".join(f"{name} drained {freeze * 1000:.0f} ms" for name, freeze in freezes)
        print(f"\nhand-over freeze at the clients: {shown}")
        assert all(freeze < FREEZE_LIMIT for _, freeze in freezes), freezes

        await stop_tasks(*steering)  # both ride into walls: the match ends
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        for player in players:
            assert player.over is not None and player.close_code == 1000, player.close_code
        await asyncio.to_thread(assert_database, stack, {match_id: agreed_result(players)})
    finally:
        await stop_tasks(*steering)
        await close_all(players, readers)
