"""The load generator: bot players that join, play Bench Arena and measure every frame.

A worker process runs many bots on one event loop and answers JSON-line commands on stdin
(add players, report a window, stop); `LoadGenerator` drives several workers for the ramp
runner (bench/run.py) and the one-off CLI below. The generator shares the machine with the
server under test, so a bot reads only the few fields of a frame it needs (one msgspec
Struct) and reports its own CPU per received frame next to the server's.

    python -m bench.loadgen --url http://127.0.0.1:8000 --players 200 --duration 30
    python -m bench.loadgen --kind raw --url ws://127.0.0.1:8765/ --players 200 --duration 30
    python -m bench.loadgen worker --kind gameserver --url URL [--url URL2 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from bench.stats import (
    LATE_MS,
    Histogram,
    Recorder,
    joined_line,
    merge_windows,
    progress_line,
    summarize,
    summary_table,
)
from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("gameserver", "raw")
GAME = "bench"
HEADINGS = ("up", "down", "left", "right")
INPUT_PERIOD = 0.1  # seconds: 10 inputs a second
MAX_WRITE_BACKLOG = 64 * 1024  # bytes unsent to a socket past which a bot skips an input
DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
JOIN_TIMEOUT = 30.0  # seconds for one player's HTTP join and handshake
JOIN_CONCURRENCY = 20  # joins in flight per worker process
STALL_MS = 1000.0  # a connected player with no frame for this long counts as stalled
REPLY_TIMEOUT = 20.0  # seconds a worker has to answer a report or a stop
START_TIMEOUT = 30.0
INPUT_TEMPLATE = '{"type":"input","ack":%d,"data":{"dir":"%s"}}'


class FrameHead(msgspec.Struct):
    """The fields of a server message a bot needs; msgspec skips the rest unparsed."""

    type: str
    tick: int = -1
    sent: float = 0.0
    key: bool = False
    code: str = ""


_decode_head = msgspec.json.Decoder(FrameHead).decode


class BotConnection(ClientConnection):
    """A client connection that hands each data frame to its bot as it is parsed, instead of
    queueing it for `recv()`: that saves a future, a task wake-up and a queue per frame."""

    def __init__(self, protocol: ClientProtocol, *, on_frame: Any, **kwargs: Any):
        super().__init__(protocol, **kwargs)
        self.on_frame = on_frame

    def process_event(self, event: Any) -> None:
        if self.response is not None and isinstance(event, Frame) and event.opcode in DATA:
            self.on_frame(event)
        else:
            super().process_event(event)  # the handshake response, close, ping, pong


class JoinError(Exception):
    """A join step the server refused; the message is the tally key."""


class SharedTransport(httpx.AsyncBaseTransport):
    """Lets every bot's client (own cookie jar: own session) share one connection pool;
    closing a bot's client leaves the pool open."""

    def __init__(self, inner: httpx.AsyncHTTPTransport):
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass


class Bot:
    """One player: joins like a browser would, reads every message, sends inputs at 10 Hz."""

    def __init__(self, recorder: Recorder, *, kind: str, url: str, name: str, deflate: bool):
        self.rec = recorder
        self.kind = kind
        self.url = url.rstrip("/") if kind == "gameserver" else url
        self.name = name
        self.deflate = deflate
        self.ws: Any = None
        self.connected = False
        self.last_tick = -1
        self.base_tick = -1  # last tick counted as expected in an earlier window
        self.last_frame_ms = 0.0

    async def join(self, http: SharedTransport | None) -> float:
        """HTTP join (gameserver) and WebSocket handshake; returns how long it took in ms."""
        started = time.perf_counter()
        if self.kind == "gameserver":
            ticket = await self._ticket(http)
            uri = self.url.replace("http", "ws", 1) + "/ws/play/"
            subprotocols, origin = [SUBPROTOCOL_JSON, TICKET_PREFIX + ticket], self.url
        else:
            uri, subprotocols, origin = self.url, [SUBPROTOCOL_JSON], None
        self.ws = await websockets.connect(
            uri,
            subprotocols=subprotocols,
            origin=origin,
            compression="deflate" if self.deflate else None,
            proxy=None,  # never through an HTTP proxy from the environment
            ping_interval=None,  # the server pings; a busy generator must not drop sockets
            open_timeout=JOIN_TIMEOUT,
            close_timeout=2,
            create_connection=lambda protocol, **kw: BotConnection(
                protocol, on_frame=self.on_frame, **kw
            ),
        )
        self.connected = True
        self.last_frame_ms = time.time() * 1000.0
        return (time.perf_counter() - started) * 1000.0

    async def _ticket(self, http: SharedTransport | None) -> str:
        async with httpx.AsyncClient(
            base_url=self.url, transport=http, timeout=JOIN_TIMEOUT, trust_env=False
        ) as client:
            response = await client.get("/api/session")
            if response.status_code != 200:
                raise JoinError(f"GET /api/session {response.status_code}")
            await self._post(client, "/api/guest", {"name": self.name})
            seat = await self._post(client, "/api/quickplay", {"game": GAME})
            return seat["ticket"]

    async def _post(self, client: httpx.AsyncClient, path: str, body: dict) -> dict:
        # Logging in rotates the CSRF cookie: read it again before every POST.
        headers = {
            "X-CSRFToken": client.cookies.get("csrftoken") or "",
            "Origin": self.url,
            "Referer": self.url + "/",
        }
        response = await client.post(path, json=body, headers=headers)
        if response.status_code >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = ""
            raise JoinError(f"POST {path} {response.status_code} {code}".rstrip())
        return response.json()

    def on_frame(self, frame: Frame) -> None:
        """Called from the connection's data_received for every data frame: the hot path of
        the whole generator, so no task wake-up, no message queue, one small decode."""
        now = time.time() * 1000.0
        rec = self.rec
        if frame.opcode is not Opcode.TEXT or not frame.fin:
            rec.errors["unexpected binary or fragmented frame"] += 1
            return
        raw = frame.data
        try:
            head = _decode_head(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            rec.errors[f"bad message: {type(error).__name__}"] += 1
            return
        rec.bytes += len(raw)
        if head.type != "frame":
            if head.type == "error":
                rec.errors[f"error {head.code}"] += 1
            return
        rec.frames += 1
        latency = now - head.sent
        rec.latency.record(latency)
        if latency > LATE_MS:
            rec.late += 1
        if head.key:
            rec.keyframes += 1
        tick, last = head.tick, self.last_tick
        if tick > last:
            if last < 0:
                self.base_tick = tick - 1
            else:
                rec.lost += tick - last - 1
            self.last_tick = tick
        else:
            rec.reordered += 1
        self.last_frame_ms = now

    async def run(self, worker: Worker) -> None:
        """Send inputs until the socket closes; frames arrive through on_frame meanwhile."""
        loop = asyncio.get_running_loop()
        self._next_input = loop.time() + random.random() * INPUT_PERIOD
        self._timer = loop.call_at(self._next_input, self._send_input, loop)
        try:
            await self.ws.wait_closed()
        finally:
            self.connected = False
            self._timer.cancel()
        if not worker.stopping:
            self.rec.closed += 1
            close = self.ws.protocol.close_rcvd
            self.rec.close_codes[str(close.code if close else 1006)] += 1

    def _send_input(self, loop: asyncio.AbstractEventLoop) -> None:
        """One input, then the next one on the 10 Hz grid of this bot's phase; a missed slot
        is skipped, not sent late in a burst. Written straight to the transport (Sans-I/O
        API): an `await ws.send()` per input cost more than reading the frames."""
        ws = self.ws
        if ws.protocol.state is not State.OPEN:
            return
        if ws.transport.get_write_buffer_size() > MAX_WRITE_BACKLOG:
            self.rec.inputs_skipped += 1
        else:
            message = INPUT_TEMPLATE % (self.last_tick, random.choice(HEADINGS))
            ws.protocol.send_text(message.encode())
            for data in ws.protocol.data_to_send():
                if data:
                    ws.transport.write(data)
            self.rec.inputs += 1
        next_at = self._next_input + INPUT_PERIOD
        behind = loop.time() - next_at
        if behind > 0:
            next_at += (behind // INPUT_PERIOD + 1) * INPUT_PERIOD
        self._next_input = next_at
        self._timer = loop.call_at(next_at, self._send_input, loop)

    def expected_since_last_report(self) -> int:
        if self.last_tick < 0:
            return 0
        spanned = self.last_tick - self.base_tick
        self.base_tick = self.last_tick
        return spanned


class Worker:
    """A process of bots; answers one JSON line on stdout per command line on stdin."""

    def __init__(
        self,
        *,
        kind: str,
        urls: list[str],
        index: int = 0,
        deflate: bool = False,
        answers: TextIO = sys.stdout,
    ):
        self.kind = kind
        self.answers = answers
        self.urls = urls
        self.index = index
        self.deflate = deflate
        self.rec = Recorder()
        self.bots: list[Bot] = []
        self.tasks: set[asyncio.Task] = set()
        self.joined = 0
        self.stopping = False
        self.pools: dict[str, SharedTransport] = {}

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        loop_name = type(loop).__module__.split(".")[0]
        self._answer({"ok": True, "ready": True, "pid": os.getpid(), "loop": loop_name})
        while True:
            line = await reader.readline()
            if not line:  # the controller is gone: do not outlive it
                await self.stop()
                return
            command: dict[str, Any] = {}
            try:
                command = json.loads(line)
                answer = await self.handle(command)
            except Exception as error:  # an answer is owed whatever happened
                answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            self._answer(answer)
            if command.get("cmd") == "stop":
                return

    def _answer(self, answer: dict[str, Any]) -> None:
        self.answers.write(json.dumps(answer) + "\n")
        self.answers.flush()

    async def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        cmd = command.get("cmd")
        if cmd == "add":
            return await self.add(
                int(command["players"]),
                concurrency=int(command.get("concurrency", JOIN_CONCURRENCY)),
                timeout=float(command.get("timeout", 0)) or None,
            )
        if cmd == "report":
            return {"ok": True, "window": self.report()}
        if cmd == "stop":
            return await self.stop()
        raise ValueError(f"unknown command {cmd!r}: use add, report or stop")

    def _pool(self, url: str) -> SharedTransport | None:
        if self.kind != "gameserver":
            return None
        if url not in self.pools:
            limits = httpx.Limits(max_connections=JOIN_CONCURRENCY * 2)
            self.pools[url] = SharedTransport(httpx.AsyncHTTPTransport(limits=limits))
        return self.pools[url]

    async def add(
        self, players: int, *, concurrency: int = JOIN_CONCURRENCY, timeout: float | None = None
    ) -> dict[str, Any]:
        """Join `players` more bots, at most `concurrency` at once; answer when each is
        connected or failed (joins still running at `timeout` count as failed)."""
        gate = asyncio.Semaphore(max(1, concurrency))
        joins = Histogram.for_joins()
        failures: Counter[str] = Counter()
        started = time.monotonic()

        async def join_one(bot: Bot) -> None:
            async with gate:
                try:
                    elapsed = await asyncio.wait_for(bot.join(self._pool(bot.url)), JOIN_TIMEOUT)
                except asyncio.CancelledError:
                    failures["add timed out"] += 1
                    raise
                except Exception as error:
                    failures[_failure_reason(error)] += 1
                    return
            joins.record(elapsed)
            self.rec.joins.record(elapsed)
            self.bots.append(bot)
            task = asyncio.create_task(bot.run(self))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        bots = []
        for _ in range(players):
            url = self.urls[(self.index + self.joined) % len(self.urls)]
            name = f"bot{self.index}-{self.joined}"
            bots.append(Bot(self.rec, kind=self.kind, url=url, name=name, deflate=self.deflate))
            self.joined += 1
        pending = [asyncio.create_task(join_one(bot)) for bot in bots]
        if pending:
            _, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        failed = sum(failures.values())
        self.rec.joins_failed += failed
        self.rec.errors.update({f"join: {k}": n for k, n in failures.items()})
        return {
            "ok": True,
            "requested": players,
            "connected": players - failed,
            "failed": failed,
            "players": sum(bot.connected for bot in self.bots),
            "seconds": round(time.monotonic() - started, 3),
            "failures": dict(failures),
            "join_hist": joins.to_json(),
        }

    def report(self) -> dict[str, Any]:
        """The window since the last report (raw, mergeable); a new window starts."""
        now_ms = time.time() * 1000.0
        expected = sum(bot.expected_since_last_report() for bot in self.bots)
        live = [bot for bot in self.bots if bot.connected]
        stalled = sum(now_ms - bot.last_frame_ms > STALL_MS for bot in live)
        self.bots = live  # the closed ones have had their expected frames counted
        return self.rec.take(players=len(live), stalled=stalled, expected=expected)

    async def stop(self) -> dict[str, Any]:
        self.stopping = True
        open_bots = [bot for bot in self.bots if bot.connected]
        closing = [asyncio.create_task(bot.ws.close()) for bot in open_bots]
        if closing:
            await asyncio.wait(closing, timeout=10)
        for task in [*closing, *self.tasks]:
            task.cancel()
        await asyncio.gather(*closing, *self.tasks, return_exceptions=True)
        for pool in self.pools.values():
            await pool.inner.aclose()
        return {"ok": True, "stopped": True, "closed": len(open_bots)}


def _failure_reason(error: BaseException) -> str:
    if isinstance(error, JoinError):
        return str(error)
    if isinstance(error, websockets.InvalidStatus):
        return f"handshake {error.response.status_code}"
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"[:120]


class WorkerError(RuntimeError):
    """A worker process died, failed a command or did not answer in time."""


class WorkerProcess:
    """One `python -m bench.loadgen worker` child: commands in, one answer line each out."""

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
            args = [sys.executable, "-m", "bench.loadgen", "worker", "--kind", self.kind]
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
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen worker")
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
        prog="python -m bench.loadgen",
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
