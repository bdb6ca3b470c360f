"""Statistics of the load generator: fixed-bucket histograms and reporting windows.

Every worker process counts into its own window; the controller merges the windows of all
workers. Histograms have fixed buckets so that merging is exact (add the counts) and the
percentiles of the merged window are the percentiles of all frames, not an average of
per-process percentiles.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from typing import Any

LATE_MS = 100.0  # a frame that took longer than this from the engine's send to us is late
# Histogram layouts, in ms: (fine resolution, fine limit, coarse resolution, coarse limit).
# Past the fine limit a value still lands in a coarse bucket, so an overloaded server's
# percentiles stay numbers (to 10 ms) instead of all collapsing into the overflow bucket.
LATENCY_LAYOUT = (0.1, 1_000.0, 10.0, 120_000.0)
JOIN_LAYOUT = (1.0, 10_000.0, 100.0, 300_000.0)
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999}

# Counters of a window, summed when windows are merged.
COUNTERS = (
    "frames",  # frames received
    "keyframes",
    "expected",  # ticks spanned by the frames of each player, summed over players
    "lost",  # ticks missing between two frames of one player
    "late",  # frames with latency > LATE_MS
    "reordered",  # frames whose tick was not after the previous one (should stay 0)
    "bytes",
    "inputs",  # input messages sent
    "inputs_skipped",  # inputs not sent because the socket's write buffer was backed up
    "joins_failed",
    "closed",  # sockets the server closed (or that dropped) in the window
)


class Histogram:
    """Counts of values (ms) in fixed buckets: fine ones from 0 to a limit, coarse ones past
    it up to a second limit, then one overflow bucket.

    A bucket is reported by its upper edge, so a percentile is at most one bucket width above
    the true value, and never above the largest value recorded.
    """

    __slots__ = ("layout", "counts", "overflow", "total", "max", "_scale", "_fine")

    def __init__(self, layout: tuple[float, float, float, float]):
        resolution, limit, coarse_resolution, coarse_limit = layout
        self.layout = tuple(layout)
        self._scale = 1.0 / resolution
        self._fine = round(limit / resolution)
        self.counts = [0] * (self._fine + round((coarse_limit - limit) / coarse_resolution))
        self.overflow = 0
        self.total = 0.0  # sum of values, for the mean
        self.max = 0.0

    @classmethod
    def for_latency(cls) -> Histogram:
        return cls(LATENCY_LAYOUT)

    @classmethod
    def for_joins(cls) -> Histogram:
        return cls(JOIN_LAYOUT)

    def record(self, value: float) -> None:
        index = int(value * self._scale)
        if index < 0:  # clock granularity can put a value a hair below zero
            index = 0
        elif index >= self._fine:
            _, limit, coarse_resolution, _ = self.layout
            index = self._fine + int((value - limit) / coarse_resolution)
        if index < len(self.counts):
            self.counts[index] += 1
        else:
            self.overflow += 1
        self.total += value
        if value > self.max:
            self.max = value

    def upper_edge(self, index: int) -> float:
        resolution, limit, coarse_resolution, _ = self.layout
        if index < self._fine:
            return round((index + 1) * resolution, 6)
        return round(limit + (index - self._fine + 1) * coarse_resolution, 6)

    @property
    def count(self) -> int:
        return sum(self.counts) + self.overflow

    def merge(self, other: Histogram) -> None:
        if other.layout != self.layout:
            raise ValueError(f"cannot merge histograms of layouts {other.layout}, {self.layout}")
        for index, n in enumerate(other.counts):
            if n:
                self.counts[index] += n
        self.overflow += other.overflow
        self.total += other.total
        self.max = max(self.max, other.max)

    def percentiles(self, quantiles: dict[str, float] = QUANTILES) -> dict[str, float | None]:
        """Nearest-rank percentiles, in one pass over the buckets."""
        count = self.count
        if not count:
            return dict.fromkeys(quantiles)
        wanted = sorted((max(1, math.ceil(q * count)), name) for name, q in quantiles.items())
        found: dict[str, float | None] = {}
        seen = 0
        position = 0
        for index, n in enumerate(self.counts):
            if not n:
                continue
            seen += n
            while position < len(wanted) and wanted[position][0] <= seen:
                found[wanted[position][1]] = min(self.upper_edge(index), self.max)
                position += 1
            if position == len(wanted):
                break
        for _, name in wanted[position:]:
            found[name] = self.max  # in the overflow bucket: the largest value is all we know
        return {name: found[name] for name in quantiles}

    def summary(self) -> dict[str, Any]:
        count = self.count
        return {
            "count": count,
            "mean": round(self.total / count, 3) if count else None,
            **{k: None if v is None else round(v, 3) for k, v in self.percentiles().items()},
            "max": round(self.max, 3) if count else None,
        }

    def to_json(self) -> dict[str, Any]:
        """Sparse: [bucket, count] pairs of the non-empty buckets."""
        return {
            "layout": list(self.layout),
            "buckets": [[i, n] for i, n in enumerate(self.counts) if n],
            "overflow": self.overflow,
            "sum": self.total,
            "max": self.max,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        histogram = cls(tuple(data["layout"]))
        for index, n in data["buckets"]:
            histogram.counts[index] += n
        histogram.overflow = data["overflow"]
        histogram.total = data["sum"]
        histogram.max = data["max"]
        return histogram


class Recorder:
    """The counters of one worker's current window, shared by all its bots: plain attributes,
    because the frame path bumps them for every frame."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.cpu_started = os.times()
        for name in COUNTERS:
            setattr(self, name, 0)
        self.close_codes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.latency = Histogram.for_latency()
        self.joins = Histogram.for_joins()

    def take(self, *, players: int, stalled: int, expected: int) -> dict[str, Any]:
        """The window so far in its raw form (see empty_window); a new one starts."""
        cpu, started = os.times(), self.cpu_started
        window = {
            "window_s": round(time.monotonic() - self.started, 6),
            "players": players,
            "stalled": stalled,
            "cpu_seconds": round(cpu.user + cpu.system - started.user - started.system, 6),
            "cpu_system_seconds": round(cpu.system - started.system, 6),
            **{name: getattr(self, name) for name in COUNTERS},
            "expected": expected,
            "close_codes": dict(self.close_codes),
            "errors": dict(self.errors),
            "latency_hist": self.latency.to_json(),
            "join_hist": self.joins.to_json(),
        }
        self.reset()
        return window


def empty_window() -> dict[str, Any]:
    """The raw form of a window, as a worker sends it: counters, tallies and histograms."""
    return {
        "window_s": 0.0,
        "players": 0,
        "stalled": 0,
        "cpu_seconds": 0.0,
        "cpu_system_seconds": 0.0,  # in the kernel: on loopback a send pays for delivery too
        **dict.fromkeys(COUNTERS, 0),
        "close_codes": {},
        "errors": {},
        "latency_hist": Histogram.for_latency().to_json(),
        "join_hist": Histogram.for_joins().to_json(),
    }


def merge_windows(windows: list[dict[str, Any]], *, parallel: bool) -> dict[str, Any]:
    """One window from several: of parallel workers (same time span: players and CPU add up,
    the span is the longest), or of one run's consecutive windows (spans add up, players is
    the last count, CPU adds up)."""
    merged = empty_window()
    latency = Histogram.for_latency()
    joins = Histogram.for_joins()
    close_codes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for window in windows:
        for name in COUNTERS:
            merged[name] += window[name]
        merged["cpu_seconds"] += window["cpu_seconds"]
        merged["cpu_system_seconds"] += window["cpu_system_seconds"]
        close_codes.update(window["close_codes"])
        errors.update(window["errors"])
        latency.merge(Histogram.from_json(window["latency_hist"]))
        joins.merge(Histogram.from_json(window["join_hist"]))
        if parallel:
            merged["window_s"] = max(merged["window_s"], window["window_s"])
            merged["players"] += window["players"]
            merged["stalled"] += window["stalled"]
        else:
            merged["window_s"] += window["window_s"]
            merged["players"] = window["players"]
            merged["stalled"] = window["stalled"]
    merged["close_codes"] = dict(sorted(close_codes.items()))
    merged["errors"] = dict(sorted(errors.items()))
    merged["latency_hist"] = latency.to_json()
    merged["join_hist"] = joins.to_json()
    return merged


def summarize(window: dict[str, Any]) -> dict[str, Any]:
    """The raw window plus what people read: rates, delivery, percentiles, CPU per frame."""
    frames, lost, span = window["frames"], window["lost"], window["window_s"]
    latency = Histogram.from_json(window["latency_hist"]).summary()
    joins = Histogram.from_json(window["join_hist"]).summary()
    return {
        **window,
        "frames_per_s": round(frames / span, 1) if span else None,
        "delivery": round(frames / (frames + lost), 6) if frames + lost else None,
        "latency_ms": latency,
        "join_ms": joins,
        "cpu_us_per_frame": round(window["cpu_seconds"] * 1e6 / frames, 2) if frames else None,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def joined_line(added: dict[str, Any]) -> str:
    join = added["join_ms"]
    failures = f"; failures: {added['failures']}" if added["failures"] else ""
    return (
        f"joined {added['connected']}/{added['requested']} in {added['seconds']:.1f} s"
        f" (join p50 {_ms(join['p50'])} ms, p99 {_ms(join['p99'])} ms){failures}"
    )


def progress_line(report: dict[str, Any], elapsed: float) -> str:
    latency = report["latency_ms"]
    delivery = report["delivery"]
    return (
        f"{elapsed:6.1f}s  players {report['players']:5d}"
        f"  frames/s {report['frames_per_s'] or 0:8.0f}"
        f"  p50 {_ms(latency['p50']):>6} ms  p99 {_ms(latency['p99']):>6} ms"
        f"  delivery {'-' if delivery is None else f'{delivery:.2%}':>7}"
        f"  lost {report['lost']}  late {report['late']}"
        + (f"  stalled {report['stalled']}" if report["stalled"] else "")
    )


def summary_table(summary: dict[str, Any]) -> str:
    """The end-of-run table: one row per figure, aligned."""
    latency, joins = summary["latency_ms"], summary["join_ms"]
    delivery = summary["delivery"]
    rows = [
        ("players connected", f"{summary['players']}"),
        ("joins ok / failed", f"{joins['count']} / {summary['joins_failed']}"),
        (
            "join ms p50 / p99 / max",
            f"{_ms(joins['p50'])} / {_ms(joins['p99'])} / {_ms(joins['max'])}",
        ),
        ("measured seconds", f"{summary['window_s']:.1f}"),
        ("frames received", f"{summary['frames']} ({summary['frames_per_s'] or 0:.0f}/s)"),
        ("frames expected", f"{summary['expected']}"),
        ("frames lost / late", f"{summary['lost']} / {summary['late']} (> {LATE_MS:.0f} ms)"),
        ("delivery", "-" if delivery is None else f"{delivery:.4%}"),
        (
            "latency ms p50 / p90 / p99",
            f"{_ms(latency['p50'])} / {_ms(latency['p90'])} / {_ms(latency['p99'])}",
        ),
        ("latency ms p99.9 / max", f"{_ms(latency['p999'])} / {_ms(latency['max'])}"),
        ("inputs sent / skipped", f"{summary['inputs']} / {summary['inputs_skipped']}"),
        ("players stalled at the end", f"{summary['stalled']} (no frame for a second)"),
        ("sockets closed", f"{summary['closed']} {summary['close_codes'] or ''}".rstrip()),
        ("errors", f"{summary['errors'] or 'none'}"),
        (
            "load generator CPU",
            f"{summary['cpu_seconds']:.2f} s ({summary['cpu_system_seconds']:.2f} s in the kernel),"
            f" {summary['cpu_us_per_frame'] or 0:.1f} µs per frame",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)
