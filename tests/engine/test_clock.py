"""The tick clock keeps to start + n·period even when a tick's work runs long."""

from __future__ import annotations

import time

from games.engine.clock import MAX_CATCH_UP_TICKS, TickClock, TickStats


async def test_ticks_are_due_at_fixed_points_not_after_fixed_sleeps():
    clock = TickClock(50)  # 20 ms
    for n in range(1, 11):
        await clock.next_tick()
        time.sleep(0.015 if n % 2 else 0.0)  # uneven work must not accumulate into drift
    elapsed = clock.loop.time() - clock.start
    assert clock.n == 10
    # Ten periods and the last tick's work; sleeping a period after each tick would take
    # at least 10 × 20 ms + 5 × 15 ms = 275 ms.
    assert 0.2 <= elapsed < 0.26


async def test_a_loop_far_behind_skips_ahead_and_counts_it():
    clock = TickClock(100)  # 10 ms
    await clock.next_tick()
    time.sleep(0.01 * (MAX_CATCH_UP_TICKS + 5))
    await clock.next_tick()
    assert clock.stats.skipped >= 5
    assert clock.start + clock.n * clock.period >= clock.loop.time() - 2 * clock.period


def test_stats_count_overruns_and_give_percentiles():
    stats = TickStats()
    for duration in [0.001] * 98 + [0.06, 0.07]:
        stats.record(duration, period=0.05)
    assert stats.ticks == 100 and stats.overruns == 2
    assert stats.percentile(0.5) == 0.001
    assert stats.percentile(0.99) == 0.07


def test_a_report_covers_the_window_since_the_last_one():
    stats = TickStats()
    for duration in (0.001, 0.002, 0.003):
        stats.record(duration, period=0.05)
    first = stats.report()
    assert first["ticks"] == 3 and first["max_ms"] == 3.0
    stats.record(0.01, period=0.05)
    second = stats.report()
    assert second["ticks"] == 4 and second["p50_ms"] == second["max_ms"] == 10.0
