"""Redis loses everything and the only engine dies before it can re-assert anything: the
database is the truth. The reconciler abandons the running match that nobody can resume (no
owner, no checkpoint) with a result that says it was lost, and its players are told; the
waiting match is queued again, claimed by a new engine, and its player sees the lobby again."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import redis

from tests.faults.checks import assert_database, matches
from tests.faults.scenes import keep_pinging
from tests.matches import close_all, private_match, start, steer, stop_tasks
from tests.players import Player

pytestmark = pytest.mark.timeout(120)

ORPHAN_SECONDS = 2
NEW_MATCH_SECONDS = 5.5  # games/engine/reconciler.py leaves younger waiting matches alone
TOLD_WITHIN = 15  # seconds from the new engine's start to the players' 4404


def lose_redis_state(redis_url: str, prefix: str) -> int:
    """Delete every key of this stack (the shared test Redis keeps other tests' keys)."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    return len(keys)


async def test_a_match_lost_with_its_engine_and_state_is_abandoned_and_its_players_told(
    redis_url, stack_factory
):
    stack = stack_factory(
        redis_url,
        GAMESERVER_ORPHAN_SECONDS=str(ORPHAN_SECONDS),
        GAMESERVER_RECONCILE_SECONDS="0.5",
        GAMESERVER_PRIVATE_BOT_FILL_SECONDS="120",  # the waiting match waits for a friend
    )
    first = stack.engine("engine-a")
    web = stack.web(server="uvicorn")
    waiting_id, carol_api, carol_seat = private_match(web, ["carol"], seats=3)
    carol = Player(carol_api["carol"].ws_url(), carol_seat["carol"], web)
    readers = [await start(carol)]
    players: list[Player] = []
    steering = [asyncio.create_task(keep_pinging(carol))]  # a waiting socket sends no acks
    try:
        await carol.wait_until(lambda: _lobbies(carol) > 0, 10, "the lobby")
        await asyncio.sleep(NEW_MATCH_SECONDS)  # older than a match still on its way to the queue
        running_id, apis, seats = private_match(web, ["alice", "bob"], seats=2)
        players = [Player(apis[n].ws_url(), seats[n], web) for n in ("alice", "bob")]
        readers += [await start(p) for p in players]
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        steering += [asyncio.create_task(steer(p)) for p in players]
        await asyncio.sleep(0.5)

        first.stop(signal.SIGKILL)
        deleted = lose_redis_state(redis_url, stack.env["GAMESERVER_REDIS_PREFIX"])
        assert deleted > 0, "the stack kept its state in Redis"
        lobbies_before = _lobbies(carol)
        await asyncio.to_thread(stack.engine, "engine-b")
        started = time.monotonic()

        await asyncio.wait(readers[1:], timeout=TOLD_WITHIN)
        told = time.monotonic() - started
        print(f"\nplayers of the lost match told after {told:.1f} s")
        for player in players:
            codes = [e["code"] for e in player.errors]
            assert player.close_code == 4404 and "match_lost" in codes, (
                player.seat, player.close_code, codes,
            )  # fmt: skip
        row = matches(stack)[running_id]
        assert row.status == "abandoned" and row.result["reason"] == "lost", row

        await carol.wait_until(
            lambda: _lobbies(carol) > lobbies_before, 10, "the lobby from the new engine"
        )
        assert matches(stack)[waiting_id].status == "waiting"
        await asyncio.to_thread(assert_database, stack, {})  # the waiting match has an owner
    finally:
        await stop_tasks(*steering)
        await close_all([carol, *players], readers)


def _lobbies(player: Player) -> int:
    return sum(1 for m in player.messages if m["type"] == "lobby")
