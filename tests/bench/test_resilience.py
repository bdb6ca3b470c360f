"""A short run of bench/resilience.py: stalled and silent clients are closed with 4408 and
their seats seen dropping, the data sent to a stalled client stops near the lag allowance,
and a reconnect resumes. Timings are printed by the benchmark, not asserted here."""

from __future__ import annotations

import pytest

from bench.resilience import main

pytestmark = pytest.mark.timeout(180)


def test_stalled_silent_and_returning_clients(tmp_path):
    report = main([
        "--stalled", "4", "--silent", "2", "--rounds", "2", "--out", str(tmp_path / "r.json"),
        "--setting", "GAMESERVER_SILENT_TIMEOUT=6", "--setting", "GAMESERVER_FLOW_LAG=1",
        "--setting", "GAMESERVER_SLOW_CLOSE=2",
    ])  # fmt: skip
    for kind in ("stalled", "silent"):
        measured = report[kind]
        assert measured["dropped"] == measured["clients"], measured
        assert measured["close_codes"] == {"4408": measured["clients"]}, measured
        assert measured["watcher_latency_ms_during"]["frames"] > 0, measured  # control match
    # One second of Bench Arena frames (4 seats) is about 2.4 KB; without flow control a
    # stalled client would be sent every frame until it closed (after 6 s of silence).
    assert report["stalled"]["bytes_sent_per_client"]["max"] < 6_000, report["stalled"]
    assert report["reconnect"]["resume_to_keyframe_s"]["n"] == 2
    assert (tmp_path / "r.json").exists()
