"""Spectators for the benchmark: sockets that watch and ack, and Server-Sent Event streams.

Both are bots of games/loadtest/bots.py that take no seat: a socket spectator gets a watch ticket
(`POST /api/matches/<id>/watch`) and sends acks instead of inputs; a stream spectator reads
`GET /api/matches/<id>/stream` over a plain asyncio connection and hands each event's data to
the bot's frame counter, so that frames, gaps and latency are counted alike for players and
both kinds of spectator. They run in processes of their own (`python -m bench.spectators`,
the worker protocol of games/loadtest/worker.py), driven by `SpectatorLoad`, so that their CPU is
never the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import sys
import time
from collections import Counter
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import uvloop
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from games.loadtest.bots import JOIN_TIMEOUT, Bot, JoinError, SharedTransport
from games.loadtest.loadgen import START_TIMEOUT, LoadGenerator, WorkerProcess
from games.loadtest.stats import Histogram, Recorder
from games.loadtest.worker import JOIN_CONCURRENCY, Worker, _failure_reason

TRANSPORTS = ("ws", "sse")
ACK_PERIOD = 0.2  # what the browser does (static/js/net.js): an ack due after 200 ms
ACK_TEMPLATE = '{"type":"ack","ack":%d}'
FRAME_EVENTS = (b"frame", b"keyframe")


class WatchSession:
    """One guest's HTTP session for all the socket spectators of a process: logged in once,
    then one `POST /watch` per spectator ticket."""

    def __init__(self, base: str, name: str):
        self.name = name
        self.client = httpx.AsyncClient(base_url=base, timeout=JOIN_TIMEOUT, trust_env=False)
        self._login = asyncio.Lock()
        self._logged_in = False

    async def ticket(self, bot: Bot, match_id: str) -> str:
        async with self._login:
            if not self._logged_in:
                if (await self.client.get("/api/session")).status_code != 200:
                    raise JoinError("GET /api/session failed")
                await bot._post(self.client, "/api/guest", {"name": self.name})
                self._logged_in = True
        answer = await bot._post(self.client, f"/api/matches/{match_id}/watch", {"anonymous": True})
        return answer["ticket"]


class SocketSpectator(Bot):
    """A spectator's socket (/ws/play/ with a watch ticket); acks like the browser does, or
    flow control would hold its frames."""

    def __init__(self, recorder: Recorder, *, url: str, name: str, match_id: str,
                 session: WatchSession):  # fmt: skip
        super().__init__(recorder, kind="gameserver", url=url, name=name, deflate=False)
        self.match_id = match_id
        self.session = session

    async def _ticket(self, http: SharedTransport | None) -> str:
        return await self.session.ticket(self, self.match_id)

    def _send_input(self, loop: asyncio.AbstractEventLoop) -> None:
        """A spectator sends no inputs: an ack of the newest tick every ACK_PERIOD instead
        (counted as `inputs`), written straight to the transport as a bot's inputs are."""
        ws = self.ws
        if ws.protocol.state is not State.OPEN:
            return
        if self.last_tick >= 0:
            ws.protocol.send_text((ACK_TEMPLATE % self.last_tick).encode())
            for data in ws.protocol.data_to_send():
                ws.transport.write(data)
            self.rec.inputs += 1
        self._timer = loop.call_later(ACK_PERIOD, self._send_input, loop)


class EventStream:
    """One `text/event-stream` response read off a raw connection: HTTP/1.1, chunked or not.
    An HTTP library would cost the load generator more per event than the parsing here."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.chunked = False
        self.pending = b""

    @classmethod
    async def open(cls, base: str, path: str) -> EventStream:
        where = urlsplit(base)
        reader, writer = await asyncio.open_connection(where.hostname, where.port, limit=1 << 20)
        stream = cls(reader, writer)
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {where.netloc}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        )
        writer.write(request.encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = head.split(" ", 2)[1] if " " in head else "?"
        if status != "200":
            await stream.close()
            raise JoinError(f"GET stream {status}")
        stream.chunked = "transfer-encoding: chunked" in head
        return stream

    async def events(self) -> Any:
        """(kind, data) of each event until the response or the connection ends."""
        while True:
            while b"\n\n" not in self.pending:
                body = await self._body()
                if not body:
                    return
                self.pending += body
            *complete, self.pending = self.pending.split(b"\n\n")
            for event in complete:
                kind, data = b"message", b""
                for line in event.split(b"\n"):
                    if line.startswith(b"event: "):
                        kind = line[7:]
                    elif line.startswith(b"data: "):
                        data = line[6:]
                if data:
                    yield kind, data

    async def _body(self) -> bytes:
        try:
            if not self.chunked:
                return await self.reader.read(1 << 16)
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body = await self.reader.readexactly(size + 2)
            return body[:-2]
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            return b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class StreamSpectator(Bot):
    """A spectator's EventSource: each `frame` or `keyframe` event's data goes through the
    bot's frame counter as if it were a text frame, so it is counted as a socket's would be."""

    def __init__(self, recorder: Recorder, *, url: str, name: str, match_id: str):
        super().__init__(recorder, kind="gameserver", url=url, name=name, deflate=False)
        self.match_id = match_id

    async def join(self, http: SharedTransport | None) -> float:
        started = time.perf_counter()
        self.ws = await EventStream.open(self.url, f"/api/matches/{self.match_id}/stream")
        self.connected = True
        self.last_frame_ms = time.time() * 1000.0
        return (time.perf_counter() - started) * 1000.0

    async def run(self, worker: Worker) -> None:
        ended = "eof"
        try:
            async for kind, data in self.ws.events():
                if kind in FRAME_EVENTS:
                    self.on_frame(Frame(Opcode.TEXT, data))
                elif kind in (b"over", b"error"):
                    ended = kind.decode()
                    if kind == b"error":
                        self.rec.errors[f"stream error: {data[:80].decode(errors='replace')}"] += 1
                    break
        finally:
            self.connected = False
            await self.ws.close()
        if not worker.stopping:
            self.rec.closed += 1
            self.rec.close_codes[f"stream {ended}"] += 1


class SpectatorWorker(Worker):
    """A worker process whose bots are spectators of one transport; besides the worker's
    commands it takes `watch`: one spectator for each match id in the list."""

    def __init__(self, *, transport: str, url: str, index: int, answers: TextIO):
        super().__init__(kind="gameserver", urls=[url], index=index, answers=answers)
        self.transport = transport
        self.session = WatchSession(url, f"watcher{index}") if transport == "ws" else None

    async def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        if command.get("cmd") == "watch":
            concurrency = int(command.get("concurrency", JOIN_CONCURRENCY))
            return await self.watch(list(command["matches"]), concurrency=concurrency)
        return await super().handle(command)

    def spectator(self, match_id: str) -> Bot:
        name, url = f"{self.transport}{self.index}-{self.joined}", self.urls[0]
        self.joined += 1
        if self.session is not None:
            return SocketSpectator(self.rec, url=url, name=name, match_id=match_id,
                                   session=self.session)  # fmt: skip
        return StreamSpectator(self.rec, url=url, name=name, match_id=match_id)

    async def watch(self, matches: list[str], *, concurrency: int) -> dict[str, Any]:
        """Connect one spectator per entry of `matches`, `concurrency` at a time."""
        gate = asyncio.Semaphore(max(1, concurrency))
        failures: Counter[str] = Counter()
        joins = Histogram.for_joins()

        async def connect(bot: Bot) -> None:
            async with gate:
                try:
                    joins.record(await asyncio.wait_for(bot.join(None), JOIN_TIMEOUT))
                except Exception as error:
                    failures[_failure_reason(error)] += 1
                    return
            self.bots.append(bot)
            task = asyncio.create_task(bot.run(self))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        await asyncio.gather(*(connect(self.spectator(m)) for m in matches))
        self.rec.joins.merge(joins)
        self.rec.joins_failed += sum(failures.values())
        return {"ok": True, "requested": len(matches), "connected": joins.count,
                "failed": sum(failures.values()), "failures": dict(failures),
                "join_hist": joins.to_json()}  # fmt: skip

    async def stop(self) -> dict[str, Any]:
        answer = await super().stop()
        if self.session is not None:
            await self.session.client.aclose()
        return answer


class SpectatorLoad(LoadGenerator):
    """Processes of spectators of one transport ("ws" or "sse"), driven like the players'
    load generator: `watch` spreads the spectators over the processes, `report` merges."""

    def __init__(self, *, transport: str, url: str, processes: int = 1):
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, not {transport!r}")
        super().__init__(kind="gameserver", urls=[url], processes=processes)
        self.transport = transport

    def start(self) -> None:
        for index in range(self.processes):
            self.workers.append(WorkerProcess([
                sys.executable, "-m", "bench.spectators", "--transport", self.transport,
                "--url", self.urls[0], "--index", str(index),
            ]))  # fmt: skip
        self._collect(self.workers, START_TIMEOUT)

    def watch(self, matches: list[str]) -> dict[str, Any]:
        """One spectator per entry of `matches` (repeat an id for more on that match)."""
        shares = [matches[i :: self.processes] for i in range(self.processes)]
        budget = JOIN_TIMEOUT * math.ceil(max(map(len, shares)) / self.concurrency) + 5
        for worker, share in zip(self.workers, shares, strict=True):
            worker.send({"cmd": "watch", "matches": share, "concurrency": self.concurrency})
        answers = self._collect(self.workers, budget + self.reply_timeout)
        failures: Counter[str] = Counter()
        joins = Histogram.for_joins()
        for answer in answers:
            failures.update(answer["failures"])
            joins.merge(Histogram.from_json(answer["join_hist"]))
        return {"requested": len(matches), "connected": sum(a["connected"] for a in answers),
                "failed": sum(a["failed"] for a in answers), "join_ms": joins.summary(),
                "failures": dict(sorted(failures.items()))}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.spectators",
        description="A spectator worker process, driven by bench/spectate.py.",
    )
    parser.add_argument("--transport", choices=TRANSPORTS, required=True)
    parser.add_argument("--url", required=True, help="the site's base URL")
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args(argv)
    # Answers get the real stdout to themselves; anything else printed goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller decides when to stop
    worker = SpectatorWorker(transport=args.transport, url=args.url, index=args.index,
                             answers=answers)  # fmt: skip
    uvloop.run(worker.serve())


if __name__ == "__main__":
    main()
