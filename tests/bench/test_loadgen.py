"""The load generator measures what it claims: real worker processes against a real stack
(daphne, an engine host, Redis), and the histogram arithmetic the merged reports rest on."""

from __future__ import annotations

import math
import os
import random
import signal
import time

import psutil
import pytest

from games.loadtest.loadgen import LoadGenerator, WorkerError
from games.loadtest.stats import Histogram, merge_windows, summarize
from tests.support import free_port

PERCENTILES = ("p50", "p90", "p99", "p999")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_histogram_merge_is_exact_and_percentiles_follow_nearest_rank():
    rng = random.Random(7)
    parts = [[rng.lognormvariate(1.5, 1.2) for _ in range(2000)] for _ in range(3)]
    parts[2] += [1500.0, 4321.0, 250_000.0]  # coarse buckets and the overflow bucket
    histograms = []
    for values in parts:
        histogram = Histogram.for_latency()
        for value in values:
            histogram.record(value)
        histograms.append(Histogram.from_json(histogram.to_json()))  # as a worker sends it

    merged = Histogram.for_latency()
    for histogram in histograms:
        merged.merge(histogram)
    everything = [v for values in parts for v in values]
    direct = Histogram.for_latency()
    for value in everything:
        direct.record(value)

    assert merged.counts == direct.counts and merged.overflow == direct.overflow == 1
    assert merged.count == len(everything)
    assert merged.max == max(everything)
    assert merged.total == pytest.approx(sum(everything))
    found = merged.percentiles()
    for name, q in {"p50": 0.5, "p90": 0.9, "p99": 0.99}.items():
        true = nearest_rank(everything, q)
        assert true <= found[name] <= true + 0.1 + 1e-9, name  # one fine bucket at most
    assert found["p999"] == pytest.approx(nearest_rank(everything, 0.999), abs=10.0)
    summary = merged.summary()
    values = [summary[name] for name in PERCENTILES] + [summary["max"]]
    assert values == sorted(values)

    with pytest.raises(ValueError):
        merged.merge(Histogram.for_joins())
    assert Histogram.for_latency().summary()["p50"] is None


def test_percentile_in_the_overflow_bucket_is_the_largest_value():
    histogram = Histogram.for_latency()
    for value in (1.0, 500_000.0, 600_000.0):
        histogram.record(value)
    # Past the last coarse bucket only the largest value is known, so that is what is said.
    assert histogram.percentiles() == dict.fromkeys(PERCENTILES, 600_000.0)
    assert histogram.percentiles({"p0": 0.0}) == {"p0": 1.1}


def test_windows_merge_in_parallel_and_in_sequence():
    def window(frames: int, lost: int, players: int, latency: float) -> dict:
        hist = Histogram.for_latency()
        for _ in range(frames):
            hist.record(latency)
        return {
            **merge_windows([], parallel=True),
            "window_s": 1.0,
            "players": players,
            "frames": frames,
            "expected": frames + lost,
            "lost": lost,
            "cpu_seconds": 0.5,
            "close_codes": {"1006": 1},
            "latency_hist": hist.to_json(),
        }

    a, b = window(90, 10, 5, 2.0), window(10, 0, 3, 50.0)
    parallel = summarize(merge_windows([a, b], parallel=True))
    assert (parallel["players"], parallel["window_s"], parallel["frames"]) == (8, 1.0, 100)
    assert parallel["delivery"] == pytest.approx(100 / 110)
    assert parallel["close_codes"] == {"1006": 2}
    assert 2.0 <= parallel["latency_ms"]["p50"] <= 2.1  # a bucket reads as its upper edge
    assert parallel["latency_ms"]["p99"] == pytest.approx(50.0)
    assert parallel["cpu_us_per_frame"] == pytest.approx(1e6 / 100)
    sequence = summarize(merge_windows([a, b], parallel=False))
    assert (sequence["players"], sequence["window_s"], sequence["frames"]) == (3, 2.0, 100)
    assert sequence["frames_per_s"] == pytest.approx(50.0)


@pytest.mark.timeout(120)
def test_bots_play_a_real_stack_and_the_report_adds_up(redis_url, stack_factory):
    stack = stack_factory(redis_url)
    stack.engine()
    base = stack.web()

    with LoadGenerator(kind="gameserver", urls=[base], processes=1) as generator:
        pids = generator.pids()
        added = generator.add(8)
        assert (added["connected"], added["failed"], added["players"]) == (8, 0, 8), added
        assert added["join_ms"]["count"] == 8 and added["join_ms"]["p50"] > 0
        generator.report()  # the join phase: matches start as they fill
        time.sleep(3)
        report = generator.report()

    assert report["players"] == 8 and report["workers"] == 1
    per_player = report["frames"] / report["window_s"] / 8
    assert 14 <= per_player <= 26, report  # Bench Arena ticks at 20 Hz
    assert report["latency_ms"]["count"] == report["frames"]
    percentiles = [report["latency_ms"][name] for name in PERCENTILES]
    assert percentiles == sorted(percentiles) and percentiles[-1] <= report["latency_ms"]["max"]
    assert report["expected"] == report["frames"] - report["reordered"] + report["lost"]
    assert report["delivery"] == pytest.approx(
        report["frames"] / (report["frames"] + report["lost"])
    )
    assert report["keyframes"] >= 8 * 2  # a keyframe a second per player
    assert 7 * 8 * report["window_s"] <= report["inputs"] <= 11 * 8 * report["window_s"]
    assert report["errors"] == {} and report["closed"] == 0, report
    assert report["cpu_seconds"] > 0 and report["cpu_us_per_frame"] > 0
    for pid in pids:
        assert gone(pid), f"worker {pid} outlived stop()"


@pytest.mark.timeout(120)
def test_failed_joins_are_counted_and_silent_workers_are_killed():
    nobody = f"ws://127.0.0.1:{free_port()}/"
    generator = LoadGenerator(kind="raw", urls=[nobody], processes=2, reply_timeout=2)
    with generator:
        added = generator.add(3)
        assert (added["connected"], added["failed"], added["players"]) == (0, 3, 0)
        assert sum(added["failures"].values()) == 3
        report = generator.report()
        assert report["joins_failed"] == 3 and report["frames"] == 0
        assert report["delivery"] is None and report["latency_ms"]["p50"] is None

        pids = generator.pids()
        os.kill(pids[0], signal.SIGSTOP)  # a worker that never answers again
        started = time.monotonic()
        with pytest.raises(WorkerError, match="did not answer"):
            generator.report()
        assert time.monotonic() - started < 10
    for pid in pids:
        assert gone(pid), f"worker {pid} outlived stop()"
