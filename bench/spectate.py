"""What a spectator costs the web process, next to a player, over WebSocket and over SSE.

    python -m bench.spectate --matches 50 --spectators 200 --phase-seconds 15 --rounds 2

Starts the Procfile's stack (redis-server, one uvicorn web process, so that all the web CPU
is one process's, and one engine), fills `--matches` Bench Arena matches of four bot players
(games/loadtest/loadgen.py), then measures phases of fixed length, interleaved: players
only; players and `--spectators` socket spectators (acking every 200 ms, as the browser
does); players and as many SSE spectators, spread round-robin over the matches. Spectators
run in processes of their own (bench/spectators.py) and are connected anew for each phase.

For each phase: web, engine and Redis CPU (psutil), frames received by players and by
spectators (counted client-side) and their latency, and from those the web CPU per player
frame and the marginal web CPU per spectator frame: the phase's web CPU rate less that of
the players-only phases around it, over the spectators' frame rate. Nothing here asserts a
timing; docs/PERFORMANCE.md has results.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.run import (
    P99_LIMIT_MS,
    RATE_LIMIT,
    TICK_RATE,
    cpu_seconds,
    engine_windows,
    machine,
    settle,
    tick_summary,
)
from bench.spectators import TRANSPORTS, SpectatorLoad
from games.loadtest.loadgen import LoadGenerator
from games.loadtest.stack import Process, Stack, start_redis, wait_for
from games.loadtest.stats import merge_windows, summarize

SEATS = 4  # Bench Arena's default: quickplay fills matches of four
LIVE_LIMIT = 50  # GET /api/live lists at most this many matches


def start_stack(tmp: Path) -> tuple[dict[str, Process], str]:
    """redis-server, one engine, one uvicorn web process; the limits set for one address."""
    redis, redis_url = start_redis(tmp)
    processes = {"redis": redis}
    try:
        stack = Stack(
            tmp, redis_url, GAMESERVER_REPORT_SECONDS="1", GAMESERVER_BOT_FILL_SECONDS="2",
            GAMESERVER_MAX_SOCKETS_PER_IP="100000", GAMESERVER_MAX_SPECTATORS_PER_IP="100000",
            GAMESERVER_HTTP_LIMITS="0", GAMESERVER_LOG_LEVEL="INFO",
        )  # fmt: skip
        processes["engine"] = stack.engine()
        base = stack.web("web", server="uvicorn")
        processes["web"] = stack.webs[0]
    except BaseException:
        for process in reversed(processes.values()):
            process.stop()
        raise
    return processes, base


def live_matches(base: str, count: int) -> list[str]:
    """The ids of the `count` running Bench Arena matches, once all of them run."""

    def running() -> list[str] | None:
        answer = httpx.get(f"{base}/api/live", params={"game": "bench"}, trust_env=False)
        found = [m["id"] for m in answer.json()["matches"]]
        return found if len(found) >= count else None

    return wait_for(running, 60, f"{count} running matches in GET /api/live", interval=0.5)


def settle_all(players: LoadGenerator, watchers: SpectatorLoad | None, warmup: float) -> None:
    """The runner's settle for both sides: the joins' backlog worked off, one second's p99 of
    the players (and spectators) back under the limit, at most SETTLE_SECONDS each."""
    if watchers is not None:
        settle(watchers, warmup)
        warmup = 0
    settle(players, warmup)


def busy_seconds() -> float:
    """CPU seconds the whole machine was not idle, all cores: other people's work included."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def measure(processes: dict[str, Process], players: LoadGenerator,
            watchers: SpectatorLoad | None, seconds: float) -> dict[str, Any]:  # fmt: skip
    """One window of `seconds` read a second at a time: server CPU, what players and
    spectators received, and how busy the rest of the machine was meanwhile."""
    engines = [processes["engine"]]
    offsets = {e.name: len(e.output()) for e in engines}
    sides = [players] if watchers is None else [players, watchers]
    for side in sides:
        side.report()
    before, machine_before, started = cpu_seconds(processes), busy_seconds(), time.monotonic()
    windows: list[list[dict[str, Any]]] = [[] for _ in sides]
    for second in range(1, math.ceil(seconds) + 1):
        time.sleep(max(0.0, started + min(second, seconds) - time.monotonic()))
        for side, taken in zip(sides, windows, strict=True):
            taken.append(side.report())
    elapsed = time.monotonic() - started
    after, machine_busy = cpu_seconds(processes), busy_seconds() - machine_before
    merged = [summarize(merge_windows(taken, parallel=False)) for taken in windows]
    cpu = {name: round(after[name] - before[name], 3) for name in before}
    clients = sum(window["cpu_seconds"] for window in merged)
    row: dict[str, Any] = {
        "seconds": round(elapsed, 2),
        "cpu_s": cpu,
        "web_cores": round(cpu["web"] / elapsed, 4),
        "server_cores": round(sum(cpu.values()) / elapsed, 4),
        "machine_busy_cores": round(machine_busy / elapsed, 3),
        # Neither the server nor our clients: other people's work on the shared machine.
        "other_cores": round((machine_busy - sum(cpu.values()) - clients) / elapsed, 3),
        "players": audience(merged[0]),
        "spectators": audience(merged[1]) if watchers is not None else None,
        # A second at a time: [player frames, player p99 ms, spectator frames, p99 ms].
        "timeline": [
            [value for w in second for value in (w["frames"], w["latency_ms"]["p99"])]
            for second in zip(*windows, strict=True)
        ],
        **tick_summary(engine_windows(engines, offsets), elapsed),
    }
    row["web_us_per_player_frame"] = per_frame(cpu["web"], merged[0]["frames"])
    frames = sum(window["frames"] for window in merged)
    row["web_us_per_delivered_frame"] = per_frame(cpu["web"], frames)
    return row


def audience(window: dict[str, Any]) -> dict[str, Any]:
    """What one side (players or spectators) received in its load generator's window."""
    connected, frames, seconds = window["players"], window["frames"], window["window_s"]
    return {
        "connected": connected,
        "frames": frames,
        "frames_per_s": round(frames / seconds, 1),
        # Of connected × tick rate: a held or dropped socket shows here, a gap in "lost".
        "rate_fraction": round(frames / (connected * TICK_RATE * seconds), 4) if connected else 0,
        "lost": window["lost"],
        "delivery": window["delivery"],
        "stalled": window["stalled"],
        "closed": window["closed"],
        "close_codes": window["close_codes"],
        "errors": window["errors"],
        "p50_ms": window["latency_ms"]["p50"],
        "p99_ms": window["latency_ms"]["p99"],
        "client_cpu_cores": round(window["cpu_seconds"] / seconds, 3),
    }


def per_frame(cpu: float, frames: int) -> float | None:
    return round(cpu * 1e6 / frames, 1) if frames else None


def schedule(rounds: int) -> list[str]:
    """Players-only phases between the spectator phases, and the order of the two kinds
    swapped every round, so that a machine getting busier or quieter shows in both alike."""
    phases = []
    for index in range(rounds):
        kinds = TRANSPORTS if index % 2 == 0 else TRANSPORTS[::-1]
        for kind in kinds:
            phases += ["players", kind]
    return phases + ["players"]


def marginals(rows: list[dict[str, Any]]) -> None:
    """Each spectator phase's web (and server) CPU over the mean of the players-only phases
    just before and after it, per spectator frame; clean if all of those were."""
    for at, row in enumerate(rows):
        row["clean"] = clean(row)
        if row["phase"] == "players":
            continue
        near = [rows[i] for i in (at - 1, at + 1) if 0 <= i < len(rows)]
        near = [r for r in near if r["phase"] == "players"]
        if not near:
            continue
        row["clean"] = row["clean"] and all(clean(r) for r in near)
        rate = row["spectators"]["frames_per_s"]
        for key, cores in (("web", "web_cores"), ("server", "server_cores")):
            base = statistics.fmean(r[cores] for r in near)
            row[f"baseline_{key}_cores"] = round(base, 4)
            extra = (row[cores] - base) * 1e6 / rate if rate else None
            row[f"marginal_{key}_us_per_spectator_frame"] = (
                None if extra is None else round(extra, 1)
            )


def summarize_phases(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(statistics.median(known), 1) if known else None

    players = [r for r in rows if r["phase"] == "players"]
    summary: dict[str, Any] = {
        "web_us_per_player_frame": median([r["web_us_per_player_frame"] for r in players]),
        "web_us_per_player_frame_clean": median(
            [r["web_us_per_player_frame"] for r in players if r["clean"]]),
        "web_cores_players_only": round(statistics.median(r["web_cores"] for r in players), 4),
        "clean_players_phases": sum(r["clean"] for r in players),
    }  # fmt: skip
    for kind in TRANSPORTS:
        mine = [r for r in rows if r["phase"] == kind]
        web = [r.get("marginal_web_us_per_spectator_frame") for r in mine]
        summary[kind] = {
            "marginal_web_us_per_spectator_frame": median(web),
            "marginal_web_us_per_spectator_frame_clean": median(
                [w for w, r in zip(web, mine, strict=True) if r["clean"]]),
            "marginal_server_us_per_spectator_frame": median(
                [r.get("marginal_server_us_per_spectator_frame") for r in mine]),
            "each_phase_web_us": web,
            "each_phase_clean": [r["clean"] for r in mine],
            "rate_fraction": [r["spectators"]["rate_fraction"] for r in mine],
            "lost": [r["spectators"]["lost"] for r in mine],
        }  # fmt: skip
    return summary


def format_row(row: dict[str, Any]) -> str:
    seen, watched = row["players"], row["spectators"]
    text = (
        f"{row['phase']:>8} {row['seconds']:6.1f}s {'clean' if row['clean'] else 'noisy'}"
        f" others {row['other_cores']:.2f} cores  web {row['web_cores']:.3f} cores"
        f"  server {row['server_cores']:.3f}  players {seen['connected']} "
        f"{seen['frames_per_s']:.0f} f/s p99 {seen['p99_ms']} ms"
        f"  web µs/player frame {row['web_us_per_player_frame']}"
    )
    if watched is not None:
        text += (
            f"  | spectators {watched['connected']} {watched['frames_per_s']:.0f} f/s"
            f" ({watched['rate_fraction']:.2%} of the tick rate) p99 {watched['p99_ms']} ms"
            f"  marginal web µs/frame {row['marginal_web_us_per_spectator_frame']}"
        )
    return text


def keep_logs(tmp: Path, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for log in tmp.glob("*.log"):
        shutil.copy(log, folder / log.name)


def clean(row: dict[str, Any]) -> bool:
    """Whether a phase ran undisturbed: every side at the tick rate, with no gap and with
    p99 under the runner's limit (a busy machine shows as seconds of backlog)."""
    sides = [row["players"]] + ([row["spectators"]] if row["spectators"] else [])
    return all(
        side["p99_ms"] is not None and side["p99_ms"] <= P99_LIMIT_MS and side["lost"] == 0
        and side["rate_fraction"] >= RATE_LIMIT for side in sides
    )  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gameserver-spectate-") as tmp, ExitStack() as stop:
        if args.logs is not None:  # runs last: after every process stopped and closed its log
            stop.callback(keep_logs, Path(tmp), args.logs)
        processes, base = start_stack(Path(tmp))
        for process in processes.values():
            stop.callback(process.stop)
        players = stop.enter_context(
            LoadGenerator(kind="gameserver", urls=[base], processes=args.loadgen)
        )
        joined = players.add(args.matches * SEATS)
        print(f"players: {joined['connected']}/{joined['requested']} joined", flush=True)
        matches = live_matches(base, args.matches)
        settle(players, args.warmup)
        audience_of = [matches[i % len(matches)] for i in range(args.spectators)]
        for phase in schedule(args.rounds):
            if phase == "players":
                settle_all(players, None, args.warmup)  # the spectators' closes are done with
                row = measure(processes, players, None, args.phase_seconds)
            else:
                with SpectatorLoad(transport=phase, url=base, processes=args.clients) as watchers:
                    added = watchers.watch(audience_of)
                    settle_all(players, watchers, args.warmup)
                    row = measure(processes, players, watchers, args.phase_seconds)
                row["spectators_joined"] = added
            rows.append({"phase": phase, **row})
            marginals(rows)  # the one after it comes in the next phase: redone at the end
            print(format_row(rows[-1]), flush=True)
    marginals(rows)
    report = {
        "command": " ".join(["python -m bench.spectate", *args.argv]),
        "machine": machine(),
        "config": {
            "matches": args.matches,
            "players": args.matches * SEATS,
            "spectators": args.spectators,
            "phase_seconds": args.phase_seconds,
            "rounds": args.rounds,
            "web": 1,
            "engines": 1,
            "server": "uvicorn",
        },  # fmt: skip
        "phases": rows,
        "summary": summarize_phases(rows),
    }
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=50, help="Bench Arena matches of 4")
    parser.add_argument("--spectators", type=int, default=200, help="per spectator phase")
    parser.add_argument("--phase-seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=2, help="of players/WS/SSE phases")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each window")
    parser.add_argument("--loadgen", type=int, default=1, help="player load processes")
    parser.add_argument("--clients", type=int, default=1, help="spectator processes")
    parser.add_argument("--out", type=Path, help="write the report as JSON")
    parser.add_argument("--logs", type=Path, help="keep the stack's logs in this folder")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if not 1 <= args.matches <= LIVE_LIMIT:
        parser.error(f"--matches: 1 to {LIVE_LIMIT} (GET /api/live lists {LIVE_LIMIT})")
    if args.spectators < 1 or args.rounds < 1 or args.phase_seconds <= 0:
        parser.error("--spectators, --rounds and --phase-seconds must be positive")
    report = run(args)
    print(json.dumps(report["summary"], indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
