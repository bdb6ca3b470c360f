"""Redis restarted mid-match with its state lost, on the Procfile's stack (two uvicorn web
processes, two engines): persistence is off, so leases, fencing counters, checkpoints, tickets
and the queue are all gone when it answers again. Nothing is restarted by hand. The matches
that were running finish with one result each; within 5 s of Redis answering, a new quick
play on each web process streams frames; and takeover works again: kill -9 of the engine
running a match afterwards, and the other engine finishes that match."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest

from tests.faults.checks import agreed_result, assert_database, owner_engine
from tests.faults.scenes import cross_web_match, heard_again, procfile_stack, seconds
from tests.matches import close_all, guest, start, steer, stop_tasks
from tests.players import Player
from tests.support import Api

pytestmark = pytest.mark.timeout(150)

DOWN = 3  # seconds Redis is away: the "3-second Redis restart"
RECOVERY = 5  # seconds from Redis answering to a new quick play's first frame (the bound)
MEASURE = 15  # seconds we keep watching past a bound, so a slow recovery is measured, not cut
LEASE_TTL = 2  # a short lease: the takeover after the kill -9 comes within seconds
TAKEOVER = LEASE_TTL + 5  # lease expiry, the takeover poll, loading the checkpoint; with slack
SETTINGS = {"GAMESERVER_LEASE_TTL": str(LEASE_TTL), "GAMESERVER_CHECKPOINT_EVERY": "10"}


async def quickplay_streams(
    api: Api, since: float, opened: list[tuple[Player, asyncio.Task]]
) -> tuple[float | None, Counter]:
    """Quick play as a client would, from `since` on: retry a refusal (503) or a socket closed
    before its first frame (1013) until one streams frames. Returns the seconds from `since`
    to that first frame (None if none came within MEASURE s) and what the attempts met."""
    attempts: Counter = Counter()
    deadline = since + MEASURE
    while time.monotonic() < deadline:
        try:
            status, answer = await asyncio.to_thread(
                api.request, "POST", "/api/quickplay", {"game": "lightcycles"}
            )
        except Exception as error:  # a 500 HTML page is not JSON; a hung call times out
            attempts[f"quick play raised {type(error).__name__}: {error}"[:160]] += 1
            await asyncio.sleep(0.2)
            continue
        if status != 200:
            attempts[f"quick play answered {status} {answer}"[:160]] += 1
            await asyncio.sleep(0.2)
            continue
        player = Player(api.ws_url(), answer, api.base)
        try:
            await player.connect()
        except Exception as error:
            attempts[f"socket refused: {type(error).__name__}: {error}"[:160]] += 1
            await asyncio.sleep(0.2)
            continue
        reader = asyncio.create_task(player.run())
        opened.append((player, reader))
        while time.monotonic() < deadline and not player.frames and not reader.done():
            await asyncio.sleep(0.02)
        if player.frames:
            return player.frames[0][0] - since, attempts
        if reader.done():
            codes = [e.get("code") for e in player.errors]
            attempts[f"socket closed {player.close_code} before a frame, errors {codes}"] += 1
    attempts["no frame within the measuring window"] += 1
    return None, attempts


async def test_a_redis_restart_that_loses_its_state_loses_no_match(
    restartable_redis, stack_factory
):
    redis_server = restartable_redis
    stack = stack_factory(redis_server.url, **SETTINGS)
    engines, webs = procfile_stack(stack)
    readers: dict[Player, asyncio.Task] = {}  # the people of the matches that must finish
    players: list[Player] = []
    steering: dict[Player, asyncio.Task] = {}
    quick_opened: list[tuple[Player, asyncio.Task]] = []

    async def play(match_players: list[Player]) -> None:
        for player in match_players:
            players.append(player)
            readers[player] = await start(player)
            steering[player] = asyncio.create_task(steer(player))
        for player in match_players:
            await player.wait_until(player.playing, 30, "the match to start")

    try:
        # Two running matches, each with a player on each web process.
        running = dict([cross_web_match(webs, ("alice", "bob")),
                        cross_web_match(webs, ("carol", "dave"))])  # fmt: skip
        for match_players in running.values():
            await play(match_players)
        quick = [guest(web, f"quick-{n}") for n, web in enumerate(webs, 1)]  # before the fault
        await asyncio.sleep(1)

        stopped, answering = await asyncio.to_thread(redis_server.restart, DOWN, signal.SIGKILL)
        print(f"\nredis-server killed, back and answering {answering - stopped:.2f} s later")
        measured = await asyncio.gather(
            *(quickplay_streams(api, answering, quick_opened) for api in quick),
            *(heard_again(player, answering, MEASURE) for player in players),
        )
        quick_results, heard = measured[: len(quick)], measured[len(quick) :]
        for web, (took, _) in zip(webs, quick_results, strict=True):
            print(f"quick play on {web}: first frame {seconds(took)} after Redis answered")
        for player, took in zip(players, heard, strict=True):
            print(f"seat {player.seat} of a running match: heard again after {seconds(took)}")
        for web, (took, attempts) in zip(webs, quick_results, strict=True):
            assert took is not None and took <= RECOVERY, (
                f"a quick play on {web} streamed frames {seconds(took)} after Redis answered "
                f"(bound {RECOVERY} s); its attempts: {dict(attempts)}"
            )
        for player, took in zip(players, heard, strict=True):
            assert took is not None and took <= RECOVERY, (
                f"seat {player.seat} of {player.welcome['match']['id']} got no frame nor `over` "
                f"until {seconds(took)} after Redis answered (bound {RECOVERY} s): "
                f"close code {player.close_code}, errors {player.errors[-3:]}"
            )

        # Takeover works again: kill -9 the owner of a match that started after the restart.
        match_id, pair = await asyncio.to_thread(cross_web_match, webs, ("erin", "frank"))
        running[match_id] = pair
        await play(pair)
        await asyncio.sleep(1)
        victim = await asyncio.to_thread(owner_engine, stack, match_id)
        survivor = next(e for e in engines if e is not victim)
        killed = time.monotonic()
        victim.stop(signal.SIGKILL)
        await asyncio.sleep(0.3)  # frames already on their way count for nothing
        sockets = {**readers, **dict(quick_opened)}
        still = [p for p, reader in sockets.items() if not reader.done() and p.frames]
        ticks = {p: max(frame["tick"] for _, frame in p.frames) for p in still}
        took_over = await asyncio.gather(
            *(heard_again(p, killed, MEASURE, above=ticks[p]) for p in still)
        )
        for player, took in zip(still, took_over, strict=True):
            print(f"kill -9 of {victim.name}: seat {player.seat} of "
                  f"{player.welcome['match']['id']} resumed after {seconds(took)}")  # fmt: skip
        for player, took in zip(still, took_over, strict=True):
            assert took is not None and took <= TAKEOVER, (
                f"after kill -9 of {victim.name}, seat {player.seat} of "
                f"{player.welcome['match']['id']} got no frame past tick {ticks[player]} for "
                f"{seconds(took)} (bound {TAKEOVER} s); {survivor.name} alive: {survivor.alive()}"
            )

        # The people stop steering: each cycle rides into a wall, every match here ends.
        await stop_tasks(*steering.values())
        for player in players:
            await player.wait_until(lambda p=player: p.over is not None, 30, "`over`")
        for player in players:
            await asyncio.wait_for(readers[player], 5)
            assert player.close_code == 1000, f"seat {player.seat}: closed {player.close_code}"
        seen = {match_id: agreed_result(pair) for match_id, pair in running.items()}
        await asyncio.to_thread(assert_database, stack, seen)
        assert survivor.alive() and all(web.alive() for web in stack.webs), (
            "a process died: " + ", ".join(p.name for p in stack.processes if not p.alive())
        )
    finally:
        await stop_tasks(*steering.values())
        sockets = {**readers, **dict(quick_opened)}
        await close_all(list(sockets), list(sockets.values()))
