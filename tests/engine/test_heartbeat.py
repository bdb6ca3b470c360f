"""An engine's heartbeat says what it runs now: its load, and per match the phase, tick, each
seat's state and the last checkpoint; a store that fails does not stop the engine."""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer

from games.engine.host import EngineHost
from games.engine.runtime import Connection, MatchRuntime
from games.memory_store import MemoryStore
from games.rules import get_game
from games.rules.base import Seat


def runtime(match_id: str, seats: int = 3) -> MatchRuntime:
    return MatchRuntime(match_id=match_id, game=get_game("bench"), seats=seats, seed=1,
                        tick_rate=20, fill_after=5)  # fmt: skip


async def test_the_heartbeat_reports_load_and_each_seat(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "ENGINE_HEARTBEAT": 0.05}
    store = MemoryStore()
    host = EngineHost(layer=InMemoryChannelLayer(), store=store, name="beat")
    playing = runtime("p")
    playing.start([Seat(0, "alice"), Seat(1, "bob"), Seat(2, "Bit", bot=True)])
    playing.connect(0, Connection("hub.1", "s1"), "alice")
    playing.connect(1, Connection("hub.1", "s2"), "bob")
    playing.disconnect(1, Connection("hub.1", "s2"), now=0)
    waiting = runtime("w", seats=2)
    waiting.connect(0, Connection("hub.1", "s3"), "carol")
    host.runtimes = {"p": playing, "w": waiting}
    host.leases = {"p": (await store.lease_acquire("p", "engine.x", ttl=5)) or ""}
    assert await host.checkpoint(playing) == [True]
    await host.start()
    try:
        await asyncio.sleep(0.2)
        [engine] = await store.live_engines()
    finally:
        await host.stop()
    assert engine["name"] == "beat" and engine["channel"] == host.channel
    assert engine["silent"] is False and engine["pid"] > 0 and engine["host"]
    assert engine["phases"] == {"playing": 1, "waiting": 1}
    assert engine["players"] == 2
    matches = {m["match"]: m for m in engine["matches"]}
    assert [s["state"] for s in matches["p"]["seats"]] == ["connected", "away", "bot"]
    assert [s["state"] for s in matches["w"]["seats"]] == ["connected", "open"]
    assert matches["p"]["checkpointed_at"] is not None and matches["w"]["checkpointed_at"] is None


async def test_a_failing_store_does_not_stop_the_heartbeat_loop(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "ENGINE_HEARTBEAT": 0.05}
    store = MemoryStore()
    calls = []
    real = store.write_engine_heartbeat

    async def flaky(name: str, info: dict, ttl: float) -> None:
        calls.append(name)
        if len(calls) < 3:
            raise ConnectionError("Redis is away")
        await real(name, info, ttl)

    store.write_engine_heartbeat = flaky
    host = EngineHost(layer=InMemoryChannelLayer(), store=store, name="flaky")
    await host.start()
    try:
        for _ in range(100):
            if await store.live_engines():
                break
            await asyncio.sleep(0.05)
    finally:
        await host.stop()
    assert len(calls) >= 3 and [e["name"] for e in await store.live_engines()] == ["flaky"]
