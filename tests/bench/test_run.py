"""A short smoke run of the benchmark: the harness works end to end and cleans up after
itself. It asserts what the harness produced, never how fast anything was."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import psutil
import pytest

from games.loadtest.stack import PYTHON, ROOT

pytestmark = pytest.mark.timeout(240)


def processes_marked(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("BENCH_RUN_ID") == marker:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_a_smoke_run_measures_both_targets_writes_its_report_and_stops_everything(tmp_path):
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["BENCH_RUN_ID"] = marker
    done = subprocess.run(
        [PYTHON, "-m", "bench.run", "--steps", "8,20", "--step-seconds", "3", "--warmup", "1",
         "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ours, raw = report["results"].values()
    for rows in (ours, raw):
        assert [r["players"] for r in rows] == [8, 20]
        for row in rows:
            assert row["connected"] == row["players"]
            assert row["frames"] > row["players"] * 20 * 1.5  # ~20 frames/s each for ~3 s
            assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
            assert 0 < row["delivery"] <= 1
            assert row["server_cpu_us_per_frame"] > 0
    assert ours[-1]["tick_rate"] and ours[-1]["tick_p99_ms"] > 0
    assert set(report["cpu_ratio_to_baseline"][next(iter(report["results"]))]) == {"8", "20"}
    assert "raw websockets baseline" in done.stdout
    assert processes_marked(marker) == [], "the run left processes behind"
