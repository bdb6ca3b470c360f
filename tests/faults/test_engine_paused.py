"""SIGSTOP of the engine running a match, for longer than its lease: the other engine takes the
match over from its checkpoint; after SIGCONT the paused engine may send what it had due before
it notices its lease is gone, and hubs drop it (the fencing token is older). No player is ever
sent a tick lower than one it already has, and the match ends with the result they saw."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from itertools import pairwise

import pytest

from tests.faults.checks import agreed_result, assert_database, owner_engine
from tests.matches import close_all, private_match, start, steer, stop_tasks
from tests.players import Player

pytestmark = pytest.mark.timeout(120)

LEASE_TTL = 2
PAUSE = 4.5  # seconds stopped: past the lease, and the other engine's next look for orphans
AFTER_WAKE = 2.0  # seconds watched after SIGCONT, while the woken engine finds out


def regressions(player: Player) -> list[tuple[float, int, int]]:
    """(arrival, newest tick so far, the lower tick that came then), in arrival order."""
    found, newest = [], -1
    for at, frame in player.frames:
        if frame["tick"] < newest:
            found.append((at, newest, frame["tick"]))
        newest = max(newest, frame["tick"])
    return found


async def test_a_paused_engine_never_sends_an_old_tick(redis_url, stack_factory):
    stack = stack_factory(redis_url, GAMESERVER_LEASE_TTL=str(LEASE_TTL))
    engines = [stack.engine("engine-a"), stack.engine("engine-b")]
    web = stack.web(server="uvicorn")
    match_id, apis, seats = private_match(web, ["alice", "bob"], seats=2)
    players = [Player(apis[name].ws_url(), seats[name], web) for name in apis]
    readers = [await start(player) for player in players]
    steering = [asyncio.create_task(steer(player)) for player in players]
    paused = None
    try:
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(1.5)  # past the first checkpoints
        paused = await asyncio.to_thread(owner_engine, stack, match_id)
        other = next(e for e in engines if e is not paused)
        os.killpg(paused.proc.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        await asyncio.sleep(PAUSE)
        assert f"now running match {match_id}" in other.output(), "no takeover while paused"
        os.killpg(paused.proc.pid, signal.SIGCONT)
        woke = time.monotonic()
        await asyncio.sleep(AFTER_WAKE)

        for player in players:
            since = [f["tick"] for at, f in player.frames if at > stopped]
            assert len(since) > 20, (
                f"seat {player.seat}: frames did not resume: {since}; closed {player.close_code}, "
                f"errors {player.errors[-3:]}, newest before the pause "
                f"{max((f['tick'] for at, f in player.frames if at <= stopped), default=None)}\n"
                f"{paused.name}:\n{paused.output()[-3000:]}\n{other.name}:\n{other.output()[-3000:]}"
                f"\nweb:\n{stack.webs[0].output()[-3000:]}"
            )
            gap = max(b - a for (a, _), (b, _) in pairwise(player.frames))
            print(f"\nseat {player.seat}: longest gap {gap:.2f} s (paused {PAUSE} s)")
            lower = regressions(player)
            early = [f"{then} after {newest}" for at, newest, then in lower if at <= woke]
            late = [f"{then} after {newest}" for at, newest, then in lower if at > woke]
            assert not lower, (
                f"seat {player.seat} was sent lower ticks: {len(early)} before SIGCONT (the "
                f"takeover's replay) {early[:3]}, {len(late)} after it {late[:3]}"
            )

        await stop_tasks(*steering)  # both ride into walls: the match ends
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        for player in players:
            assert player.over is not None and player.close_code == 1000, player.close_code
            assert not regressions(player), f"seat {player.seat}: a lower tick before the end"
        await asyncio.to_thread(assert_database, stack, {match_id: agreed_result(players)})
    finally:
        if paused is not None:
            with contextlib.suppress(ProcessLookupError):  # a stopped process ignores SIGTERM
                os.killpg(paused.proc.pid, signal.SIGCONT)
        await stop_tasks(*steering)
        await close_all(players, readers)
