"""The benchmark runner: starts the whole stack itself, ramps bot players in steps until p99
latency passes 50 ms or delivery falls under 99.9 %, then does the same against the raw
`websockets` baseline, and writes a table, JSON and a plot. docs/PERFORMANCE.md has results.

    python -m bench.run --steps 100,200,400,600,800 --step-seconds 15

Everything it starts (redis-server, web and engine processes, the baseline, load workers) is
stopped when it ends, also on errors and Ctrl-C. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from games.loadtest.loadgen import LoadGenerator
from games.loadtest.stack import PYTHON, Process, Stack, start_redis, wait_for

P99_LIMIT_MS = 50.0
DELIVERY_LIMIT = 0.999
SETTLE_SECONDS = 20
TICK_RATE = 20  # Bench Arena's
RATE_LIMIT = 0.98  # frames/s under 98 % of players × tick rate: the server fell behind
ENGINE_LOAD_MARK = " load {"


@dataclass
class Target:
    """The processes under test and how the load generator reaches them."""

    name: str
    kind: str  # "gameserver" or "raw": how bots join
    urls: list[str]
    processes: dict[str, Process]  # every server-side process, by role name
    engines: list[Process] = field(default_factory=list)
    web: list[Process] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()


def start_gameserver(tmp: Path, server: str, webs: int, engines: int) -> Target:
    redis, url = start_redis(tmp)
    processes = {"redis": redis}
    try:
        stack = Stack(
            tmp,
            url,
            GAMESERVER_REPORT_SECONDS="1",
            GAMESERVER_BOT_FILL_SECONDS="2",  # a match left short by racing joins starts soon
            GAMESERVER_MAX_SOCKETS_PER_IP="100000",  # every bot comes from 127.0.0.1
            GAMESERVER_HTTP_LIMITS="0",  # and so do all their guests and joins
            GAMESERVER_LOG_LEVEL="INFO",
        )
        for i in range(engines):
            processes[f"engine{i + 1}"] = stack.engine(f"engine{i + 1}")
        urls = [stack.web(f"web{i + 1}", server=server) for i in range(webs)]
        processes.update({p.name: p for p in stack.webs})
    except BaseException:
        for process in processes.values():
            process.stop()
        raise
    return Target(
        name=f"gameserver ({server}, {webs} web, {engines} engine)",
        kind="gameserver",
        urls=urls,
        processes=processes,
        engines=stack.engines,
        web=stack.webs,
    )


def start_raw(tmp: Path) -> Target:
    from games.loadtest.stack import free_port

    port = free_port()
    args = [PYTHON, "-m", "bench.raw_server", "--port", str(port)]
    process = Process("raw", args, dict(os.environ), tmp)
    wait_for(lambda: "ready" in process.output() or not process.alive(), 30, "the raw server")
    if not process.alive():
        raise RuntimeError(f"raw server exited:\n{process.output()}")
    return Target(
        name="raw websockets baseline",
        kind="raw",
        urls=[f"ws://127.0.0.1:{port}/"],
        processes={"raw": process},
        web=[process],
    )


def cpu_seconds(processes: dict[str, Process]) -> dict[str, float]:
    out = {}
    for name, process in processes.items():
        try:
            times = psutil.Process(process.proc.pid).cpu_times()
            out[name] = times.user + times.system
        except psutil.Error:
            out[name] = 0.0
    return out


def rss_bytes(processes: list[Process]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):  # it died: the run reports that elsewhere
            total += psutil.Process(process.proc.pid).memory_info().rss
    return total


def engine_windows(engines: list[Process], offsets: dict[str, int]) -> list[dict[str, Any]]:
    """The per-second load reports engines logged since `offsets` (log length per engine)."""
    reports = []
    for engine in engines:
        text = engine.output()[offsets.get(engine.name, 0) :]
        for line in text.splitlines():
            if ENGINE_LOAD_MARK in line:
                reports.append(json.loads(line[line.index(ENGINE_LOAD_MARK) + 6 :]))
    return reports


def tick_summary(reports: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    windows = [w for r in reports for w in r["ticks"].values() if r["playing"]]
    if not windows:
        return {}
    by_count = sorted(windows, key=lambda w: w["ticks"])
    return {
        "tick_p50_ms": sorted(w["p50_ms"] for w in windows)[len(windows) // 2],
        "tick_p99_ms": max(w["p99_ms"] for w in windows),  # worst second of the window
        "tick_max_ms": max(w["max_ms"] for w in windows),
        "tick_wall_p99_ms": max(w.get("wall_p99_ms", 0) for w in windows),
        "overruns": by_count[-1]["overruns"] - by_count[0]["overruns"],
        "skipped": by_count[-1]["skipped"] - by_count[0]["skipped"],
        "tick_rate": round(
            (by_count[-1]["ticks"] - by_count[0]["ticks"])
            / reports[0].get("slots", 1)
            / max(seconds - 1, 1),
            2,
        )
        if len(reports) > 1
        else None,
    }


def settle(load: LoadGenerator, warmup: float) -> None:
    """Wait out the joins' backlog: at least `warmup` s, then until every player gets frames
    and one second's p99 is back under the limit (at most SETTLE_SECONDS), so that a window
    measures the steady state."""
    time.sleep(warmup)
    load.report()
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(1)
        window = load.report()
        p99 = window["latency_ms"]["p99"]
        if not window["stalled"] and p99 is not None and p99 <= P99_LIMIT_MS:
            return


def ramp(target: Target, steps: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    idle_rss = rss_bytes(target.web)
    with LoadGenerator(kind=target.kind, urls=target.urls, processes=args.loadgen) as load:
        connected = 0
        for players in steps:
            joined = load.add(players - connected)
            connected = players
            settle(load, args.warmup)
            offsets = {e.name: len(e.output()) for e in target.engines}
            cpu_before, started = cpu_seconds(target.processes), time.monotonic()
            time.sleep(args.step_seconds)
            window = load.report()
            seconds = time.monotonic() - started
            cpu_after = cpu_seconds(target.processes)
            cpu = {k: round(cpu_after[k] - cpu_before[k], 3) for k in cpu_before}
            frames = window["frames"]
            latency = {
                k: v if v is not None else float("inf") for k, v in window["latency_ms"].items()
            }
            row = {
                "players": players,
                "connected": window["players"],
                "join_failures": joined.get("failed", 0),
                "seconds": round(seconds, 2),
                "frames": frames,
                "frames_per_s": round(frames / seconds, 1),
                "lost": window["lost"],
                "closed": window.get("closed", 0),
                "close_codes": window.get("close_codes", {}),
                "late": window["late"],
                "delivery": window["delivery"] or 0.0,
                # Frames per player per second against the tick rate: a server that falls
                # behind sends fewer ticks, which no tick-number gap shows.
                "rate_ratio": round(frames / seconds / (players * TICK_RATE), 4),
                "p50_ms": latency["p50"],
                "p90_ms": latency["p90"],
                "p99_ms": latency["p99"],
                "max_ms": latency["max"],
                "server_cpu_s": cpu,
                "server_cpu_us_per_frame": round(sum(cpu.values()) / max(frames, 1) * 1e6, 1),
                "server_cpu_cores": round(sum(cpu.values()) / seconds, 3),
                "loadgen_cpu_cores": round(window.get("cpu_seconds", 0) / seconds, 3),
                "web_rss_mib": round(rss_bytes(target.web) / 2**20, 1),
                "web_rss_kib_per_player": round(
                    (rss_bytes(target.web) - idle_rss) / players / 1024, 1
                ),
                **tick_summary(engine_windows(target.engines, offsets), seconds),
            }
            rows.append(row)
            print(format_row(target.name, row), flush=True)
            if (
                row["p99_ms"] > P99_LIMIT_MS
                or row["delivery"] < DELIVERY_LIMIT
                or row["rate_ratio"] < RATE_LIMIT
            ):
                break
    return rows


HEADER = (
    f"{'target':38} {'players':>7} {'frames/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'delivery':>9} {'µs/frame':>9} {'cores':>6} {'tick p99':>8} {'KiB/conn':>8}"
)


def format_row(name: str, row: dict[str, Any]) -> str:
    tick = row.get("tick_p99_ms")
    return (
        f"{name[:38]:38} {row['players']:>7} {row['frames_per_s']:>9.0f} {row['p50_ms']:>7.1f} "
        f"{row['p99_ms']:>7.1f} {row['delivery'] * 100:>8.2f}% "
        f"{row['server_cpu_us_per_frame']:>9.1f} {row['server_cpu_cores']:>6.2f} "
        f"{'-' if tick is None else f'{tick:.2f}':>8} {row['web_rss_kib_per_player']:>8.1f}"
    )


def plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, dlv, cpu) = plt.subplots(1, 3, figsize=(15, 4.5))
    for (name, rows), style in zip(results.items(), ("-o", "--s", ":^"), strict=False):
        players = [r["players"] for r in rows]
        lat.plot(players, [r["p50_ms"] for r in rows], style, label=f"{name} p50")
        lat.plot(players, [r["p99_ms"] for r in rows], style, label=f"{name} p99")
        delivered = [min(r["delivery"], r.get("rate_ratio", 1)) * 100 for r in rows]
        dlv.plot(players, delivered, style, label=name)
        cpu.plot(players, [r["server_cpu_us_per_frame"] for r in rows], style, label=name)
    lat.axhline(P99_LIMIT_MS, color="grey", linewidth=0.8)
    dlv.axhline(DELIVERY_LIMIT * 100, color="grey", linewidth=0.8)
    lat.set(title="frame latency", xlabel="players", ylabel="ms")
    dlv.set(
        title="frames delivered (of ticks, and of players × tick rate)",
        xlabel="players",
        ylabel="%",
    )
    cpu.set(title="server CPU per delivered frame", xlabel="players", ylabel="µs")
    for axis in (lat, dlv, cpu):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ratios(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[int, float]]:
    """Server CPU per delivered frame of each target over the baseline's, at equal players."""
    base = next((rows for name, rows in results.items() if "raw" in name), [])
    per_frame = {r["players"]: r["server_cpu_us_per_frame"] for r in base}
    return {
        name: {
            r["players"]: round(r["server_cpu_us_per_frame"] / per_frame[r["players"]], 2)
            for r in rows
            if per_frame.get(r["players"])
        }
        for name, rows in results.items()
        if rows is not base
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="100,200,400,600,800",
                        help="players at each step, comma-separated")  # fmt: skip
    parser.add_argument("--step-seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each window")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], action="append",
                        help="web servers to measure; default: uvicorn")  # fmt: skip
    parser.add_argument("--web", type=int, default=1, help="web processes")
    parser.add_argument("--engines", type=int, default=1, help="engine processes")
    parser.add_argument("--loadgen", type=int, default=1, help="load generator processes")
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw baseline")
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest"))
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {}
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="gameserver-bench-") as tmp:
        plans = [("gameserver", server) for server in args.server or ["uvicorn"]]
        if not args.no_baseline:
            plans.append(("raw", ""))
        for kind, server in plans:
            work = Path(tmp) / (server or kind)
            work.mkdir()
            if kind == "raw":
                target = start_raw(work)
            else:
                target = start_gameserver(work, server, args.web, args.engines)
            try:
                results[target.name] = ramp(target, steps, args)
            finally:
                target.stop()
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": machine(),
        "limits": {"p99_ms": P99_LIMIT_MS, "delivery": DELIVERY_LIMIT},
        "results": results,
        "cpu_ratio_to_baseline": ratios(results),
    }
    for name, by_players in report["cpu_ratio_to_baseline"].items():
        print(f"{name}: CPU per frame / raw baseline: {by_players}")
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    plot(results, args.out / "plot.png")
    print(f"wrote {args.out / 'report.json'} and {args.out / 'plot.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
