"""A short run of bench/spectate.py: socket and SSE spectators of two matches get frames, the
report has every figure the docs quote, and nothing it started is left running. It asserts
what the benchmark produced, never how fast anything was."""

from __future__ import annotations

import json

import psutil
import pytest

from bench.spectate import main

pytestmark = pytest.mark.timeout(180)

ROW_FIELDS = {"phase", "seconds", "cpu_s", "web_cores", "server_cores", "players", "spectators",
              "web_us_per_player_frame", "web_us_per_delivered_frame"}  # fmt: skip
AUDIENCE_FIELDS = {"connected", "frames", "frames_per_s", "rate_fraction", "lost", "delivery",
                   "p50_ms", "p99_ms", "errors", "closed"}  # fmt: skip


def test_spectators_of_both_transports_get_frames_and_the_report_adds_up(tmp_path):
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    out = tmp_path / "spectate.json"
    report = main(["--matches", "2", "--spectators", "3", "--phase-seconds", "2",
                   "--rounds", "1", "--warmup", "1", "--out", str(out)])  # fmt: skip
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    phases = report["phases"]
    assert [row["phase"] for row in phases] == ["players", "ws", "players", "sse", "players"]
    for row in phases:
        assert set(row) >= ROW_FIELDS, row
        assert set(row["cpu_s"]) == {"redis", "engine", "web"}
        assert row["players"]["connected"] == 8 and row["players"]["frames"] > 0, row["players"]
        assert set(row["players"]) >= AUDIENCE_FIELDS
    for row in phases[1], phases[3]:
        watched = row["spectators"]
        assert set(watched) >= AUDIENCE_FIELDS, watched
        assert row["spectators_joined"]["connected"] == 3, row["spectators_joined"]
        assert watched["connected"] == 3 and watched["frames"] > 0, (row["phase"], watched)
        assert watched["errors"] == {} and watched["closed"] == 0, (row["phase"], watched)
        assert "marginal_web_us_per_spectator_frame" in row
    summary = report["summary"]
    assert summary["web_us_per_player_frame"] > 0
    for kind in ("ws", "sse"):
        assert len(summary[kind]["each_phase_web_us"]) == 1
        assert summary[kind]["rate_fraction"][0] > 0
    left = {c.pid for c in psutil.Process().children(recursive=True)} - before
    assert not left, f"the run left processes behind: {left}"
