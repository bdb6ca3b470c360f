"""A fixed-timestep clock on the event loop's clock, with the numbers an operator needs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from games.metrics import TickMetrics

# Past this many ticks behind, skip ahead instead of running a burst of catch-up ticks that
# would flood every player with stale frames.
MAX_CATCH_UP_TICKS = 5
DURATION_SAMPLES = 1200


@dataclass
class TickStats:
    """Tick durations (seconds) since the last report, and how often the loop ran late.

    `durations` is the tick's own work (stepping every match, encoding frames); `walls` runs
    from the tick's start until its frames were handed to the channel layer.
    """

    durations: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    overruns: int = 0  # ticks that took longer than one period, wall clock
    skipped: int = 0  # ticks dropped because the loop fell too far behind
    ticks: int = 0

    def record(self, duration: float, period: float, wall: float | None = None) -> None:
        wall = duration if wall is None else wall
        self.ticks += 1
        if wall > period:
            self.overruns += 1
        self.durations.append(duration)
        self.walls.append(wall)
        if len(self.durations) > DURATION_SAMPLES:
            del self.durations[: DURATION_SAMPLES // 2]
            del self.walls[: DURATION_SAMPLES // 2]

    def percentile(self, q: float, samples: list[float] | None = None) -> float:
        samples = self.durations if samples is None else samples
        if not samples:
            return 0.0
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def report(self) -> dict[str, float]:
        """Counts so far and duration percentiles of the window since the last report."""
        window = {
            "ticks": self.ticks,
            "overruns": self.overruns,
            "skipped": self.skipped,
            "p50_ms": round(self.percentile(0.5) * 1000, 3),
            "p99_ms": round(self.percentile(0.99) * 1000, 3),
            "max_ms": round(max(self.durations, default=0.0) * 1000, 3),
            "wall_p99_ms": round(self.percentile(0.99, self.walls) * 1000, 3),
        }
        self.durations = []
        self.walls = []
        return window


class TickClock:
    """Tick n is due at start + n·period: a late tick does not push back every later one."""

    def __init__(self, rate: int, metrics: TickMetrics | None = None):
        self.period = 1.0 / rate
        self.metrics = metrics  # Prometheus children of this clock's tick rate, if any
        self.loop = asyncio.get_running_loop()
        self.start = self.loop.time()
        self.n = 0
        self.late = 0.0  # seconds the current tick started after it was due
        self.stats = TickStats()

    async def next_tick(self) -> None:
        self.n += 1
        due = self.start + self.n * self.period
        now = self.loop.time()
        self.late = max(0.0, now - due)
        if now < due:
            await asyncio.sleep(due - now)
        elif now - due > MAX_CATCH_UP_TICKS * self.period:
            behind = int((now - due) / self.period)
            self.stats.skipped += behind
            self.n += behind
            if self.metrics is not None:
                self.metrics.skipped.inc(behind)

    def record(self, work: float, wall: float) -> None:
        self.stats.record(work, self.period, wall)
        if self.metrics is not None:
            self.metrics.work.observe(work)
            self.metrics.wall.observe(wall)
            if wall > self.period:
                self.metrics.overruns.inc()
