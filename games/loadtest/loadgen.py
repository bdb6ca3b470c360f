"""The load generator's controller and command line: worker processes of bots, driven as one.

`LoadGenerator` starts worker processes (games/loadtest/worker.py, each running many bots from
games/loadtest/bots.py), spreads the players over them and merges their reports, for the ramp runner
(bench/run.py), `manage.py loadtest` and the one-off CLI below. Each worker reports its own
CPU per received frame next to the server's, since the generator shares the machine with it.

    python -m games.loadtest.loadgen --url http://127.0.0.1:8000 --players 200 --duration 30
    python -m games.loadtest.loadgen --kind raw --url ws://127.0.0.1:8765/ --players 200 \
        --duration 30
    python -m games.loadtest.loadgen worker --kind gameserver --url URL [--url URL2 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from games.loadtest.bots import JOIN_TIMEOUT, KINDS
from games.loadtest.stats import (
    Histogram,
    joined_line,
    merge_windows,
    progress_line,
    summarize,
    summary_table,
)
from games.loadtest.worker import JOIN_CONCURRENCY, Worker

ROOT = Path(__file__).resolve().parents[2]
REPLY_TIMEOUT = 20.0  # seconds a worker has to answer a report or a stop
START_TIMEOUT = 30.0


class WorkerError(RuntimeError):
    """A worker process died, failed a command or did not answer in time."""


class WorkerProcess:
    """One `python -m games.loadtest.loadgen worker` child: commands in, an answer line each."""

    def __init__(self, args: list[str]):
        # Its own session: Ctrl-C reaches only the controller, which stops the workers.
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, start_new_session=True
        )
        self._buffer = b""

    def send(self, command: dict[str, Any]) -> None:
        try:
            self.proc.stdin.write(json.dumps(command).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise WorkerError(f"worker {self.proc.pid} is gone: {error}") from None

    def receive(self, deadline: float) -> dict[str, Any]:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerError(f"worker {self.proc.pid} did not answer in time")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise WorkerError(f"worker {self.proc.pid} exited ({self.proc.poll()})")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            answer = json.loads(line)
        except ValueError:
            raise WorkerError(f"worker {self.proc.pid} answered {line[:200]!r}") from None
        if not answer.get("ok"):
            raise WorkerError(f"worker {self.proc.pid}: {answer.get('error')}")
        return answer

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


class LoadGenerator:
    """Worker processes of bots, driven from a plain (synchronous) caller such as the runner.

    Use it as a context manager: its workers are stopped, or killed, however the block ends.
    """

    def __init__(
        self,
        *,
        kind: str,
        urls: list[str],
        processes: int,
        concurrency: int = JOIN_CONCURRENCY,
        deflate: bool = False,
        use_uvloop: bool = True,
        reply_timeout: float = REPLY_TIMEOUT,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if not urls or processes < 1:
            raise ValueError("give at least one URL and one process")
        schemes = ("http://", "https://") if kind == "gameserver" else ("ws://", "wss://")
        for url in urls:
            if not url.startswith(schemes):
                raise ValueError(f"a {kind} URL starts with {' or '.join(schemes)}, not {url!r}")
        self.kind, self.urls, self.processes = kind, list(urls), processes
        self.concurrency, self.deflate, self.use_uvloop = concurrency, deflate, use_uvloop
        self.reply_timeout = reply_timeout
        self.workers: list[WorkerProcess] = []
        self._next = 0  # the worker that gets the first of the next add's players

    def start(self) -> None:
        for index in range(self.processes):
            args = [sys.executable, "-m", "games.loadtest.loadgen", "worker", "--kind", self.kind]
            args += ["--index", str(index)] + [a for url in self.urls for a in ("--url", url)]
            args += ["--deflate"] * self.deflate + ["--no-uvloop"] * (not self.use_uvloop)
            self.workers.append(WorkerProcess(args))
        self._collect(self.workers, START_TIMEOUT)

    def _collect(self, workers: list[WorkerProcess], timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        return [worker.receive(deadline) for worker in workers]

    def add(self, players: int) -> dict[str, Any]:
        """Join `players` more bots spread over the workers; returns once all joined or failed."""
        started = time.monotonic()
        shares = [players // self.processes] * self.processes
        for i in range(players % self.processes):
            shares[(self._next + i) % self.processes] += 1
        self._next = (self._next + players) % self.processes
        # Every worker gets the command, a share of 0 included, so that all count their players.
        budget = JOIN_TIMEOUT * math.ceil(max(shares) / self.concurrency) + 5
        for worker, share in zip(self.workers, shares, strict=True):
            worker.send(
                {"cmd": "add", "players": share, "concurrency": self.concurrency, "timeout": budget}
            )
        answers = self._collect(self.workers, budget + self.reply_timeout)
        joins = Histogram.for_joins()
        failures: Counter[str] = Counter()
        for answer in answers:
            joins.merge(Histogram.from_json(answer["join_hist"]))
            failures.update(answer["failures"])
        return {
            "requested": players,
            "connected": sum(a["connected"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "players": sum(a["players"] for a in answers),
            "seconds": round(time.monotonic() - started, 3),
            "join_ms": joins.summary(),
            "failures": dict(sorted(failures.items())),
        }

    def report(self) -> dict[str, Any]:
        """Merged stats of all workers since the last report; a new window starts."""
        for worker in self.workers:
            worker.send({"cmd": "report"})
        answers = self._collect(self.workers, self.reply_timeout)
        merged = summarize(merge_windows([a["window"] for a in answers], parallel=True))
        return {"t": round(time.time(), 3), "workers": len(self.workers), **merged}

    def stop(self) -> None:
        """Ask every worker to close its sockets and exit; kill any that does not in time."""
        deadline = time.monotonic() + self.reply_timeout
        for worker in self.workers:
            with contextlib.suppress(WorkerError):
                worker.send({"cmd": "stop"})
        for worker in self.workers:
            try:
                worker.receive(deadline)
                worker.proc.wait(max(0.1, deadline - time.monotonic()))
            except (WorkerError, subprocess.TimeoutExpired, ValueError, OSError):
                pass
            finally:
                worker.kill()
        self.workers = []

    def pids(self) -> list[int]:
        return [worker.proc.pid for worker in self.workers]

    def __enter__(self) -> LoadGenerator:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_load(
    *,
    urls: list[str],
    players: int,
    duration: float,
    processes: int = 1,
    kind: str = "gameserver",
    json_path: str | None = None,
    write: Any = print,
) -> dict[str, Any]:
    """Join `players`, measure for `duration` seconds with a progress line a second, then
    write the summary table; the CLI and `manage.py loadtest` both run this."""
    windows: list[dict[str, Any]] = []
    added: dict[str, Any] = {}
    with LoadGenerator(kind=kind, urls=urls, processes=processes) as generator:
        where = ", ".join(urls)
        write(f"joining {players} players ({kind}) on {where} from {processes} process(es)")
        try:
            added = generator.add(players)
            write(joined_line(added))
            if added["connected"]:
                generator.report()  # the join phase is not part of the measurement
                started = time.monotonic()
                for second in range(1, math.ceil(duration) + 1):
                    time.sleep(max(0.0, started + min(second, duration) - time.monotonic()))
                    windows.append(generator.report())
                    write(progress_line(windows[-1], time.monotonic() - started))
        except KeyboardInterrupt:
            write("interrupted: stopping the bots")
    summary = summarize(merge_windows(windows, parallel=False)) if windows else None
    if summary is not None:
        summary.update(join_ms=added["join_ms"], joins_failed=added["failed"])
        write(summary_table(summary))
    if json_path:
        config = {"kind": kind, "urls": urls, "players": players, "duration": duration}
        result = {"config": config | {"processes": processes}, "add": added}
        Path(json_path).write_text(json.dumps(result | {"summary": summary, "windows": windows}))
        write(f"wrote {json_path}")
    return {"add": added, "summary": summary, "windows": windows}


def _worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m games.loadtest.loadgen worker")
    parser.add_argument("--kind", choices=KINDS, default="gameserver")
    parser.add_argument("--url", action="append", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args(argv)
    # Answers get the real stdout to themselves; anything else printed goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    worker = Worker(
        kind=args.kind, urls=args.url, index=args.index, deflate=args.deflate, answers=answers
    )
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller decides when to stop
    if not args.no_uvloop:
        try:
            import uvloop

            uvloop.run(worker.serve())
            return
        except ImportError:
            pass
    asyncio.run(worker.serve())


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        _worker_main(argv[1:])
        return
    parser = argparse.ArgumentParser(
        prog="python -m games.loadtest.loadgen",
        description="Bot players that join and play Bench Arena, measuring every frame. With "
        "--kind gameserver each bot creates a guest user and takes a seat in a bench match on "
        "the target.",
    )
    parser.add_argument(
        "--url",
        action="append",
        required=True,
        help="gameserver: the site's base URL (http://host:port); raw: the ws:// URL; repeat it "
        "to spread the players round-robin",
    )
    parser.add_argument("--players", type=int, required=True)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--processes", type=int, default=1, help="load generator processes")
    parser.add_argument("--kind", choices=KINDS, default="gameserver")
    parser.add_argument("--json", dest="json_path", help="write every window and the summary")
    args = parser.parse_args(argv)
    if args.players < 1 or args.processes < 1 or args.duration <= 0:
        parser.error("--players, --processes and --duration must be positive")
    try:
        LoadGenerator(kind=args.kind, urls=args.url, processes=args.processes)
    except ValueError as error:
        parser.error(str(error))
    run_load(
        urls=args.url,
        players=args.players,
        duration=args.duration,
        processes=args.processes,
        kind=args.kind,
        json_path=args.json_path,
    )


if __name__ == "__main__":
    main()
