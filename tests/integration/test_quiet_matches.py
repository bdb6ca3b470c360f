"""What one client can make the engine do stays small: a reconnect loop costs the other
players no keyframes, and waiting matches cost no work per tick and go away by themselves."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest

from tests.faults.checks import matches
from tests.matches import close_all, guest, private_match, start, steer, stop_tasks
from tests.players import Player

pytestmark = pytest.mark.timeout(120)

RECONNECTS = 6
TICKET_EVERY = 1.1  # tickets for one seat are limited to one a second


def keyframes(player: Player, since: float, until: float) -> int:
    return sum(1 for at, frame in player.frames if since <= at <= until and frame["key"])


async def test_a_reconnect_loop_costs_the_other_players_no_keyframes(stack_factory):
    stack = stack_factory()
    web = stack.web(server="uvicorn")
    match_id, apis, seats = private_match(web, ["alice", "bob"], seats=2)
    alice = Player(apis["alice"].ws_url(), seats["alice"], web)
    bob = Player(apis["bob"].ws_url(), seats["bob"], web)
    readers = [await start(alice), await start(bob)]
    players, steering = [alice, bob], []
    try:
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        steering = [asyncio.create_task(steer(alice)), asyncio.create_task(steer(bob))]
        since = time.monotonic()
        for _ in range(RECONNECTS):
            await asyncio.sleep(TICKET_EVERY)
            ticket = apis["bob"].post(f"/api/matches/{match_id}/ticket")
            again = Player(apis["bob"].ws_url(), ticket, web)
            readers.append(await start(again))
            players.append(again)
            await again.wait_until(lambda p=again: p.frames, 10, "the reconnected socket's frame")
            assert again.frames[0][1]["key"], "a (re)joining socket starts with its own keyframe"
            steering.append(asyncio.create_task(steer(again)))  # bob rides on: no crash, no end
        until = time.monotonic()
        periodic = math.ceil(until - since) + 1  # a keyframe a second, whatever else happens
        got = keyframes(alice, since, until)
        print(f"\nalice got {got} keyframes in {until - since:.1f} s of {RECONNECTS} reconnects")
        assert got <= periodic, f"{got} keyframes for alice, expected at most {periodic}"
    finally:
        await stop_tasks(*steering)
        await close_all(players, readers)


def engine_loads(output: str) -> list[dict]:
    mark = " load {"
    return [
        json.loads(line[line.index(mark) + 6 :]) for line in output.splitlines() if mark in line
    ]


async def test_waiting_matches_cost_no_tick_work_and_are_abandoned_unvisited(
    redis_url, stack_factory
):
    """Matches opened and never connected to: the engine holds them without stepping them
    (its own load report says how many it steps per tick), and lets them go once
    WAITING_TIMEOUT passed; none is ever played by bots alone."""
    stack = stack_factory(redis_url, GAMESERVER_REPORT_SECONDS="1", GAMESERVER_WAITING_TIMEOUT="6")
    engine = stack.engine()
    web = stack.web(server="uvicorn")
    opened = []
    for name in ("ann", "ben", "cat"):
        created = guest(web, name).post(
            "/api/matches", {"game": "lightcycles", "private": False, "seats": 2}
        )
        opened.append(created["match"]["id"])

    def held_waiting() -> dict | None:
        loads = engine_loads(engine.output())
        return next((load for load in reversed(loads) if load["waiting"] == len(opened)), None)

    deadline = time.monotonic() + 15
    while (load := held_waiting()) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert load is not None, engine_loads(engine.output())[-3:]
    assert load["ticking"] == 0 and load["playing"] == 0, load

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = matches(stack)
        if all(rows[m].status == "abandoned" for m in opened):
            break
        await asyncio.sleep(0.3)
    rows = matches(stack)
    assert {rows[m].status for m in opened} == {"abandoned"}, {m: rows[m].status for m in opened}
