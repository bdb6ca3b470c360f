"""A Redis restart that loses its state, under a running event-driven match (Battleship): the
match keeps its turn clock and its moves, shots are taken again within seconds of Redis
answering, and the match ends with one result that both players were sent."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.faults.checks import agreed_result, assert_database
from tests.integration.test_battleship import next_target, place_both, seated

pytestmark = pytest.mark.timeout(150)

DOWN = 3  # seconds Redis is away, as in test_redis_restart.py
RECOVERY = 5  # seconds from Redis answering to a shot taken and seen by both players


async def shoot(players, timeout: float) -> None:
    """The player to move fires at the next open cell; both see the shot."""
    turn = players[0].model["turn"]
    shooter = players[turn]
    before = len(shooter.model["shots"][turn])
    await shooter.send_input({"fire": next_target(shooter)})
    for player in players:
        await player.wait_until(
            lambda p=player: len(p.model["shots"][turn]) > before or p.over, timeout, "the shot"
        )


async def test_a_battleship_match_plays_on_through_a_redis_restart(
    restartable_redis, stack_factory
):
    redis_server = restartable_redis
    stack = stack_factory(redis_server.url, GAMESERVER_LEASE_TTL="2")
    stack.engine()
    web = stack.web(server="uvicorn")
    _, players, readers, match_id = await seated(web, turn_seconds=60)
    await place_both(players)
    await shoot(players, 5)
    deadline = players[0].model["deadline"]

    _, answering = await asyncio.to_thread(redis_server.restart, DOWN, signal.SIGKILL)
    # The player to move fires as soon as the match answers again (a refused or lost move is
    # sent again, as a person clicks again).
    while True:
        assert time.monotonic() - answering < RECOVERY, "no shot was taken after Redis came back"
        try:
            await shoot(players, 1)
            break
        except AssertionError:
            continue
    print(f"\nshots again {time.monotonic() - answering:.2f} s after Redis answered")
    assert players[0].model["deadline"] > deadline, "the clock of the next turn runs"

    while players[0].over is None:
        await shoot(players, 5)
    await asyncio.wait_for(asyncio.gather(*readers), 10)
    assert all(p.close_code == 1000 for p in players)
    await asyncio.to_thread(assert_database, stack, {match_id: agreed_result(players)})
