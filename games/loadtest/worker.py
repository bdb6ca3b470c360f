"""The worker: a process of many bots on one event loop, commanded over stdin.

The controller (`LoadGenerator` in loadgen.py) starts it as `python -m
games.loadtest.loadgen worker` and sends JSON-line commands (add players, report a window,
stop); the worker answers each with one JSON line on stdout. Spreading bots over such
processes lets the generator use more than one core; each worker counts into one `Recorder`
whose windows merge exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from typing import Any, TextIO

import httpx
import websockets

from games.loadtest.bots import JOIN_TIMEOUT, Bot, JoinError, SharedTransport
from games.loadtest.stats import Histogram, Recorder

JOIN_CONCURRENCY = 20  # joins in flight per worker process
STALL_MS = 1000.0  # a connected player with no frame for this long counts as stalled


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
