"""The engine's tick loops: step the matches, then send each interested hub one message per
tick slot with their frames (docs/ARCHITECTURE.md, the data path)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from games import bus, metrics
from games.engine.clock import TickClock
from games.engine.ownership import PAUSE_SECONDS
from games.engine.runtime import OVER, TICK_SLOTS, MatchRuntime
from games.supervise import supervise

if TYPE_CHECKING:
    from games.engine.host import EngineHost


class Ticking:
    def __init__(self, host: EngineHost):
        self.host = host
        self.clocks: dict[int, TickClock] = {}
        # (tick rate, slot) -> the started matches stepped in that slot
        self.buckets: dict[tuple[int, int], dict[str, MatchRuntime]] = defaultdict(dict)
        metrics.watch_engine(host)  # gameserver_matches{phase} reads host.runtimes

    def clock_for(self, rate: int) -> None:
        """One tick loop per tick rate, running TICK_SLOTS times a tick: each slot steps its
        share of the matches and sends each hub one message with their frames."""
        if rate in self.clocks or self.host.stopping:
            return
        clock = self.clocks[rate] = TickClock(rate * TICK_SLOTS, metrics.tick_metrics(rate))

        async def one_tick() -> None:
            await clock.next_tick()
            if clock.late > PAUSE_SECONDS:
                await self.host.ownership.check_after_pause(clock.late)
            started = time.perf_counter()
            work = await self.tick(rate, clock.n % TICK_SLOTS)
            clock.record(work, time.perf_counter() - started)

        self.host.tasks.append(supervise(f"engine {self.host.name}: tick loop {rate} Hz", one_tick))

    def add(self, runtime: MatchRuntime) -> None:
        """A match that ticks from now on (it started, or was taken over started)."""
        self.buckets[(runtime.tick_rate, runtime.slot)][runtime.match_id] = runtime
        self.clock_for(runtime.tick_rate)

    def remove(self, match_id: str) -> None:
        for bucket in self.buckets.values():
            bucket.pop(match_id, None)

    def ticking(self) -> int:
        return sum(len(bucket) for bucket in self.buckets.values())

    async def tick(self, rate: int, slot: int) -> float:
        """Step the matches of this rate and slot, then send each hub its frames; returns the
        seconds of work before the sends. No yield in between: it is short (150 matches in
        about 2 ms), and the frames leave together anyway. Waiting matches are not here:
        they cost nothing per tick (games/engine/seating.py looks at them once a second)."""
        host = self.host
        started = time.perf_counter()
        batches: dict[str, list[bus.FrameEntry]] = defaultdict(list)
        checkpoint_every = host.config["CHECKPOINT_EVERY"]
        due: list[MatchRuntime] = []
        for runtime in list(self.buckets[(rate, slot)].values()):
            frames = runtime.step()
            if not frames:
                continue
            runtime.add_to(batches, frames)
            if runtime.phase == OVER:
                runtime.final = frames  # sent again to a hub that missed them (Redis away)
                self.remove(runtime.match_id)
                host.spawn(host.finish(runtime))
            elif runtime.tick % checkpoint_every == runtime.keyframe_phase % checkpoint_every:
                due.append(runtime)
        work = time.perf_counter() - started
        if batches:
            await host.send_all([(hub, bus.HubFrames(frames=f)) for hub, f in batches.items()])
        if due:
            host.spawn(self.save(due))
        return work

    async def save(self, due: list[MatchRuntime]) -> None:
        """Checkpoint these matches in one round trip, counted in the metrics."""
        try:
            saved = await self.host.checkpoint(*due)
        except Exception:
            metrics.CHECKPOINT_FAILURES.inc(len(due))
            raise  # the host's spawn logs it
        written = sum(saved)
        metrics.CHECKPOINT_WRITES.inc(written)
        metrics.CHECKPOINT_FAILURES.inc(len(due) - written)

    def stats(self) -> dict[str, dict[str, float]]:
        return {str(rate): clock.stats.report() for rate, clock in self.clocks.items()}
