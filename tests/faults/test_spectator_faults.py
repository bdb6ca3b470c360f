"""Spectators through faults. The players are on one web process, a spectator's socket and a
spectator's event stream (SSE) on another.

- Redis restarted with its state lost (the Procfile's stack, two engines): both spectators get
  frames again, a keyframe first and never a tick they already passed; the count of watchers
  the players are told heals (the spectators' hub writes its entries again on its heartbeat);
  the match ends with one result, which has no spectator in it.
- kill -9 of the spectators' web process: the players' frames go on at the tick rate, the
  spectators' entries expire (the players are told 0 within their TTL), and a spectator who
  comes back on the other web process with a new ticket gets a keyframe, then frames.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import signal
import time
from typing import Any

import pytest

from tests.faults.checks import agreed_result, assert_database, prefix, redis_client
from tests.faults.scenes import procfile_stack, seconds
from tests.matches import (
    assert_steady,
    clear_ahead,
    close_all,
    guest,
    private_match,
    start,
    steer,
    stop_tasks,
)
from tests.players import Player
from tests.sse import StreamReader, read_in_background, stop
from tests.support import Api, Stack

pytestmark = pytest.mark.timeout(120)

TICK_RATE = 20
DOWN = 2  # seconds Redis is away
# While Redis is away nobody steers: cycles ride straight on (10 cells/s). One person's cycle
# is let go with this much room ahead, so that the match (theirs and a bot's) outlives it.
ROOM = 35
RECOVERY = 6  # seconds from Redis answering to a spectator's next frame
HUB_HEARTBEAT = 1
ENTRY_TTL = 3 * HUB_HEARTBEAT + 2  # games/hub_presence.py entry_ttl()
MARGIN = 2.0  # slack for a loaded two-core machine
TOLD_WITHIN = ENTRY_TTL + HUB_HEARTBEAT + MARGIN  # expiry, then the players' hub's next refresh


def spectator(base: str, answer: dict[str, Any]) -> Player:
    return Player(base.replace("http://", "ws://") + "/ws/play/",
                  {"ticket": answer["ticket"], "seat": -1}, base)  # fmt: skip


def same_session(api: Api, base: str) -> Api:
    """The same browser session (cookies) talking to another web process."""
    twin = copy.copy(api)
    twin.base = base
    return twin


def told_count(player: Player) -> int | None:
    """The newest number of watchers the player was told."""
    told = [m["count"] for m in player.messages if m["type"] == "spectators"]
    return told[-1] if told else None


def watchers_in_store(stack: Stack, match_id: str) -> int:
    """Live entries of the match's watchers in Redis (a sorted set scored by expiry)."""
    return redis_client(stack).zcount(f"{prefix(stack)}:watch:{match_id}", time.time(), "+inf")


def ticks(frames: list[int]) -> None:
    """Never a tick at or below one already had."""
    assert all(b > a for a, b in zip(frames, frames[1:], strict=False)), f"ticks went back {frames}"


async def first_frame_after(frames, since: float, within: float) -> tuple[float, Any] | None:
    """(arrival, frame) of the first frame a spectator got after `since`, if one came."""
    deadline = since + within
    while time.monotonic() < deadline:
        after = [(at, frame) for at, frame in frames() if at >= since]
        if after:
            return after[0]
        await asyncio.sleep(0.02)
    return None


async def watch(web: str, match_id: str, code: str, name: str) -> tuple[Api, Player, StreamReader]:
    """A guest with a spectator's socket and an event stream (a ticket each) on `web`."""
    api = guest(web, name)
    socket_answer = api.post(f"/api/matches/{match_id}/watch", {"code": code})
    stream_answer = api.post(f"/api/matches/{match_id}/watch", {"code": code, "anonymous": True})
    header = {"Authorization": "Ticket " + stream_answer["ticket"]}
    return api, spectator(web, socket_answer), StreamReader(web, match_id, headers=header)


@dataclasses.dataclass
class WatchedMatch:
    match_id: str
    code: str
    apis: dict[str, Api]
    players: list[Player]  # Alice and Bob, on the players' web process, steered
    readers: list[asyncio.Task]
    steering: list[asyncio.Task]
    carol: Api  # on the spectators' web process: a socket and an event stream
    watcher: Player
    stream: StreamReader
    watching: asyncio.Task
    streaming: asyncio.Task


async def watched_match(players_web: str, watchers_web: str, seats: int) -> WatchedMatch:
    match_id, apis, seated = private_match(players_web, ["alice", "bob"], seats=seats)
    code = seated["alice"]["match"]["code"]
    players = [Player(apis[n].ws_url(), seated[n], players_web) for n in apis]
    readers = [await start(p) for p in players]
    steering = [asyncio.create_task(steer(p)) for p in players]
    carol, watcher, stream = await watch(watchers_web, match_id, code, "Carol")
    return WatchedMatch(match_id, code, apis, players, readers, steering, carol, watcher, stream,
                        await start(watcher), await read_in_background(stream))  # fmt: skip


async def all_watching(players: list[Player], watcher: Player, stream: StreamReader) -> None:
    """The match runs, both spectators have frames, and the players know they are watched."""
    for player in players:
        await player.wait_until(player.playing, 30, "the match to start")
    await watcher.wait_until(watcher.playing, 10, "the spectator's first frames")
    await stream.wait_for(lambda: stream.frames(), 10, "the stream's first frames")
    for player in players:
        await player.wait_until(lambda p=player: told_count(p) == 2, 5, "2 watchers told")


async def test_spectators_come_back_after_a_redis_restart_that_loses_its_state(
    restartable_redis, stack_factory
):
    redis_server = restartable_redis
    stack = stack_factory(
        redis_server.url,
        GAMESERVER_LEASE_TTL="2",
        GAMESERVER_CHECKPOINT_EVERY="10",
        GAMESERVER_HUB_HEARTBEAT=str(HUB_HEARTBEAT),
    )
    _, webs = procfile_stack(stack)
    scene = await watched_match(webs[0], webs[1], seats=3)  # Alice, Bob and a bot
    match_id, apis, players, readers, steering = (scene.match_id, scene.apis, scene.players,
                                                  scene.readers, scene.steering)  # fmt: skip
    watcher, stream, watching, streaming = (scene.watcher, scene.stream, scene.watching,
                                            scene.streaming)  # fmt: skip
    try:
        await all_watching(players, watcher, stream)
        await asyncio.sleep(1)

        def room() -> int:
            return max(clear_ahead(p.model, p.seat) for p in players if p.me()["alive"])

        await players[0].wait_until(lambda: room() >= ROOM, 30, f"{ROOM} cells clear ahead")
        await stop_tasks(*steering)
        had_socket = watcher.frames[-1][1]["tick"]
        had_stream = int(stream.frames()[-1].id)
        stopped, answering = await asyncio.to_thread(redis_server.restart, DOWN, signal.SIGKILL)
        steering = [asyncio.create_task(steer(p)) for p in players]
        found = await asyncio.gather(
            first_frame_after(lambda: watcher.frames, answering, RECOVERY + 5),
            first_frame_after(lambda: [(e.at, e.data) for e in stream.frames()], answering,
                              RECOVERY + 5),
        )  # fmt: skip
        socket_back, stream_back = found
        print(
            f"\nRedis away {answering - stopped:.2f} s; the spectator's socket had a frame "
            f"{seconds(socket_back and socket_back[0] - answering)} after it answered, the "
            f"stream {seconds(stream_back and stream_back[0] - answering)} after; the players' "
            f"last frame {seconds(players[0].frames[-1][0] - answering)} after"
        )
        for what, back, had in (("socket", socket_back, had_socket),
                                ("stream", stream_back, had_stream)):  # fmt: skip
            assert back is not None, (
                f"the spectator's {what} got no frame after Redis returned; socket: close "
                f"{watcher.close_code} errors {watcher.errors[-2:]}; stream: {stream.events[-3:]}"
            )
            at, frame = back
            assert at - answering <= RECOVERY, f"{what}: first frame {at - answering:.2f} s late"
            assert frame["key"], f"{what}: frames came back with a delta {frame}"
            assert frame["tick"] > had, f"{what}: tick {frame['tick']} after {had}"
        # The watchers' entries were lost with Redis: the spectators' hub writes them again.
        deadline = time.monotonic() + 2 * HUB_HEARTBEAT + MARGIN
        while (count := await asyncio.to_thread(watchers_in_store, stack, match_id)) != 2:
            assert time.monotonic() < deadline, f"{count} watchers in Redis after the restart"
            await asyncio.sleep(0.1)
        # The players' hub tells them on its next heartbeat pass, which a loaded machine (and
        # the pass's other work after a restart: owners looked up, matches adopted) delays.
        for player in players:
            await player.wait_until(
                lambda p=player: told_count(p) == 2, 2 * HUB_HEARTBEAT + MARGIN, "2 told again"
            )
        assert watcher.close_code is None and not watcher.errors, watcher.errors
        assert not stream.ended and not stream.of("error"), stream.events[-2:]

        await stop_tasks(*steering)  # the people ride into walls: the bot wins
        await asyncio.wait_for(asyncio.gather(*readers, watching, streaming), 30)
        assert watcher.close_code == 1000 and stream.events[-1].kind == "over"
        result = agreed_result([*players, watcher])
        assert stream.events[-1].data["result"] == result
        assert sorted(s["seat"] for s in result["standings"]) == [0, 1, 2], result
        ticks([f["tick"] for _, f in watcher.frames])
        ticks([int(e.id) for e in stream.frames()])
        await asyncio.to_thread(assert_database, stack, {match_id: result})
        stored = apis["alice"].get(f"/api/matches/{match_id}")["match"]
        assert len(stored["players"]) == 3, stored["players"]
    finally:
        await stop_tasks(*steering)
        await stop(streaming)
        await close_all([*players, watcher], [*readers, watching])


async def test_spectators_of_a_killed_web_process_expire_and_can_watch_elsewhere(
    redis_url, stack_factory
):
    stack = stack_factory(
        redis_url,
        GAMESERVER_HUB_HEARTBEAT=str(HUB_HEARTBEAT),
        GAMESERVER_HUB_TIMEOUT="3",
    )
    stack.engine()
    web_a, web_b = stack.web("web-a", server="uvicorn"), stack.web("web-b", server="daphne")
    scene = await watched_match(web_a, web_b, seats=2)
    match_id, code, players, readers, steering = (scene.match_id, scene.code, scene.players,
                                                  scene.readers, scene.steering)  # fmt: skip
    carol, watcher, stream, watching, streaming = (scene.carol, scene.watcher, scene.stream,
                                                   scene.watching, scene.streaming)  # fmt: skip
    again: Player | None = None
    rewatching = None
    try:
        await all_watching(players, watcher, stream)

        killed = time.monotonic()
        os.killpg(stack.webs[1].proc.pid, signal.SIGKILL)
        for player in players:
            await player.wait_until(lambda p=player: told_count(p) == 0, TOLD_WITHIN + 1,
                                    "the killed process's watchers gone")  # fmt: skip
        told = time.monotonic() - killed
        await asyncio.sleep(max(0.0, 1.5 - told))
        assert await asyncio.to_thread(watchers_in_store, stack, match_id) == 0
        for player in players:
            assert player.over is None and player.close_code is None and not player.errors
            assert_steady(player, killed, time.monotonic())

        # Carol comes back on the players' web process with a new ticket.
        answer = same_session(carol, web_a).post(f"/api/matches/{match_id}/watch", {"code": code})
        again = spectator(web_a, answer)
        rewatching = await start(again)
        await again.wait_until(lambda: len(again.frames) > TICK_RATE, 10, "a second of frames")
        print(
            f"\nthe players were told the killed process's watchers left {told:.2f} s after "
            f"the kill (entry TTL {ENTRY_TTL} s); Carol's socket on web-a has frames"
        )
        assert told <= TOLD_WITHIN, f"told {told:.2f} s after the kill"
        assert again.welcome["role"] == "spectator"
        first = again.frames[0][1]
        assert first["key"], "a spectator coming back starts with a keyframe"
        ticks([f["tick"] for _, f in again.frames])
        for player in players:
            await player.wait_until(lambda p=player: told_count(p) == 1, 3 * HUB_HEARTBEAT + 1,
                                    "Carol told as watching again")  # fmt: skip

        await stop_tasks(*steering)
        await asyncio.wait_for(asyncio.gather(*readers, rewatching), 30)
        result = agreed_result([*players, again])
        assert sorted(s["seat"] for s in result["standings"]) == [0, 1], result
        await asyncio.to_thread(assert_database, stack, {match_id: result})
    finally:
        await stop_tasks(*steering)
        await stop(streaming)
        await stop_tasks(watching)
        sockets = [*players] + ([again] if again else [])
        await close_all(sockets, [*readers] + ([rewatching] if rewatching else []))
