"""What an engine tells operators about itself: every ENGINE_HEARTBEAT seconds it writes its
load and a short summary of each match it runs to the store, where the admin's Engines and
match pages and /readyz read it. A failed write is retried by its supervised loop and never
touches the tick loops."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from games.engine.runtime import MatchRuntime

if TYPE_CHECKING:
    from games.engine.host import EngineHost


def seat_states(runtime: MatchRuntime) -> list[dict[str, Any]]:
    """Each seat as an operator sees it: connected, away (grace running), bot, left or open."""
    seats = []
    for index in range(runtime.seats):
        seat = runtime.roster[index] if index < len(runtime.roster) else None
        if index in runtime.left:
            state = "left"
        elif seat is not None and seat.bot:
            state = "bot"
        elif index in runtime.connections:
            state = "connected"
        elif index in runtime.absent or seat is not None:
            state = "away"
        else:
            state = "open"
        name = runtime.names.get(index) or (seat.name if seat is not None else "")
        seats.append({"seat": index, "name": name, "state": state})
    return seats


class Heartbeat:
    """The engine's heartbeat; the host records checkpoint times here as it saves them."""

    def __init__(self, host: EngineHost):
        self.host = host
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = time.time()
        self.checkpointed_at: dict[str, float] = {}  # match -> unix time of its last checkpoint

    async def one_pass(self) -> None:
        config = self.host.config
        await self.host.store.write_engine_heartbeat(
            self.host.channel, self.info(), config["ENGINE_FORGET"]
        )
        await asyncio.sleep(config["ENGINE_HEARTBEAT"])

    def info(self) -> dict[str, Any]:
        host = self.host
        runtimes = list(host.runtimes.values())
        return {
            "name": host.name,
            "host": self.hostname,
            "pid": self.pid,
            "started_at": self.started_at,
            "channel": host.channel,
            "phases": dict(Counter(r.phase for r in runtimes)),
            "players": sum(len(r.connections) for r in runtimes),
            "ticks": self.tick_stats(),
            "matches": [self.summary(r) for r in runtimes],
        }

    def tick_stats(self) -> dict[str, dict[str, float]]:
        """Per tick rate, read without resetting the window the 30 s load line reports.
        Counts are per tick slot: a 20 Hz loop runs 80 slot ticks a second."""
        stats = {}
        for rate, clock in self.host.ticking.clocks.items():
            s = clock.stats
            stats[str(rate)] = {
                "ticks": s.ticks,
                "overruns": s.overruns,
                "skipped": s.skipped,
                "p50_ms": round(s.percentile(0.5) * 1000, 3),
                "p99_ms": round(s.percentile(0.99) * 1000, 3),
            }
        return stats

    def summary(self, runtime: MatchRuntime) -> dict[str, Any]:
        return {
            "match": runtime.match_id,
            "phase": runtime.phase,
            "tick": getattr(runtime.state, "tick", 0) if runtime.state is not None else 0,
            "seats": seat_states(runtime),
            "checkpointed_at": self.checkpointed_at.get(runtime.match_id),
        }
