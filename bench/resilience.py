"""Slow, dead and returning clients against the real stack: what a stalled socket costs the
web process, how long a silent peer takes to be noticed, how long a reconnect takes.

    python -m bench.resilience [--stalled 49] [--silent 7] [--rounds 10] [--out FILE]

Starts redis-server, one uvicorn web process and one engine (the Procfile's stack) with the
default flow-control and liveness settings, fills Bench Arena matches (8 seats each; one
watcher per match that reads and acks like the browser does) beside a control match of two
well-behaved players whose frame latency is measured before and during each trouble, then:

1. stalled clients: finish the handshake with a 4 KiB receive buffer, then never read or send.
   Measured: the web process's RSS over time, when the watcher sees each seat drop, and,
   reading the socket afterwards, the bytes the server had sent it and its close code.
2. silent clients: read and throw away everything but never send, like a peer behind a dead
   NAT whose TCP still answers. Measured: when the watcher sees each seat drop.
3. reconnects: a player closes its socket and comes back (new ticket over HTTP, handshake,
   welcome, keyframe). Measured: drop seen by the others, and the time to the keyframe.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import struct
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

from games.loadtest.raw_websocket import upgrade_request, websocket_frames
from games.loadtest.stack import Stack, start_redis
from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX

SEATS = 8  # Bench Arena seats per match: one watcher and seven measured clients
STALLED_RCVBUF = 4096  # a small receive window, so the server side holds what is unread
ACK_EVERY = 0.25


class Session:
    """One player's HTTP session: a guest, CSRF, and seats with tickets."""

    def __init__(self, base: str, name: str):
        self.base = base
        self.name = name
        self.http = httpx.AsyncClient(base_url=base, timeout=20, trust_env=False)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if "csrftoken" not in self.http.cookies:
            await self.http.get("/api/session")
        headers = {"X-CSRFToken": self.http.cookies.get("csrftoken") or "", "Origin": self.base,
                   "Referer": self.base + "/"}  # fmt: skip
        response = await self.http.post(path, json=body or {}, headers=headers)
        response.raise_for_status()
        return response.json()

    async def login(self) -> None:
        await self.post("/api/guest", {"name": self.name})


class Watcher:
    """Reads every frame of its match, acks four times a second, and notes when each seat's
    `connected` flag changes."""

    def __init__(self, base: str, ticket: str):
        self.base = base
        self.ticket = ticket
        self.players: list[dict[str, Any]] = []
        self.changes: list[tuple[float, int, bool]] = []  # (monotonic time, seat, connected)
        self.latencies: list[tuple[float, float]] = []  # (monotonic time, ms since sent)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.ws = await websockets.connect(
            ws_url(self.base), subprotocols=[SUBPROTOCOL_JSON, TICKET_PREFIX + self.ticket],
            origin=self.base, ping_interval=None, max_queue=None,
        )  # fmt: skip
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        acked = 0.0
        async for raw in self.ws:
            message = json.loads(raw)
            if message["type"] != "frame":
                continue
            self.latencies.append((time.monotonic(), time.time() * 1000 - message["sent"]))
            if message["key"]:
                flags = [p["connected"] for p in message["state"]["players"]]
                self._note(enumerate(flags))
            else:
                self._note(message["delta"].get("connected", ()))
            if time.monotonic() - acked >= ACK_EVERY:
                acked = time.monotonic()
                await self.ws.send(json.dumps({"type": "ack", "ack": message["tick"]}))

    def _note(self, flags: Any) -> None:
        for seat, connected in flags:
            known = self.connected(seat)
            if known is None or known != connected:
                self.changes.append((time.monotonic(), seat, connected))

    def latency_between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.latencies if start <= at <= end]

    def connected(self, seat: int) -> bool | None:
        for _, changed, connected in reversed(self.changes):
            if changed == seat:
                return connected
        return None

    def dropped_at(self, seat: int, after: float) -> float | None:
        return next((t for t, s, c in self.changes if s == seat and not c and t >= after), None)

    async def stop(self) -> None:
        await self.ws.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class RawClient:
    """A websocket client at the TCP level, so that "not reading" really leaves bytes unread."""

    def __init__(self, base: str, ticket: str, *, drain: bool):
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.socket()
        if not drain:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
        self.sock.connect((host, int(port)))
        self.sock.sendall(upgrade_request(base, ticket))
        self.data = bytearray()  # all it read after the HTTP head: ~10 KB, flow control sees to it
        while b"\r\n\r\n" not in self.data:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.data += chunk
        head, _, rest = bytes(self.data).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))
        self.data = bytearray(rest)
        self.connected_at = time.monotonic()
        if drain:
            threading.Thread(target=self.read_rest, args=(None,), daemon=True).start()

    def read_rest(self, timeout: float | None = 5) -> None:
        """Read until the server's close frame (a stalled client finally reading)."""
        self.sock.settimeout(timeout)
        try:
            while self.close_code() is None and (chunk := self.sock.recv(65536)):
                self.data += chunk
        except OSError:
            pass

    def close_code(self) -> int | None:
        """The code of the server's close frame, if it came."""
        for opcode, payload in websocket_frames(bytes(self.data)):
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0] if payload else 1005
        return None

    def close(self) -> None:
        self.sock.close()


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/play/"


async def fill_match(base: str, tag: str, seats: int) -> tuple[Watcher, list[str]]:
    """A private Bench Arena match: a started watcher and the tickets of the other seats."""
    owner = Session(base, f"watch-{tag}")
    await owner.login()
    created = await owner.post("/api/matches", {"game": "bench", "private": True,
                                                "seats": seats})  # fmt: skip
    tickets = []
    for seat in range(1, seats):
        guest = Session(base, f"p{seat}-{tag}")
        await guest.login()
        tickets.append((await guest.post("/api/join-by-code", {"code": created["match"]["code"]}))
                       ["ticket"])  # fmt: skip
        await guest.http.aclose()
    await owner.http.aclose()
    watcher = Watcher(base, created["ticket"])
    await watcher.start()
    return watcher, tickets


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def percentiles(values: list[float]) -> dict[str, float] | None:
    """Frame latency as the watchers saw it: p50 and p99 in ms, and how many frames."""
    if not values:
        return None
    ordered = sorted(values)
    return {"frames": len(ordered), "p50": round(ordered[len(ordered) // 2], 1),
            "p99": round(ordered[int(len(ordered) * 0.99)], 1)}  # fmt: skip


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {"n": len(values), "min": round(ordered[0], 3),
            "p50": round(statistics.median(ordered), 3), "max": round(ordered[-1], 3)}  # fmt: skip


async def unreachable_clients(base: str, pid: int, count: int, *, drain: bool, wait: float,
                              control: Watcher) -> dict[str, Any]:  # fmt: skip
    """`count` clients that never send (and, unless `drain`, never read) in matches of seven
    plus a watcher: when each one's seat is seen dropping, what it cost in memory, and the
    frame latency of a match of well-behaved players on the same web process meanwhile."""
    matches = []
    for index, first in enumerate(range(0, count, SEATS - 1)):
        others = min(SEATS - 1, count - first)  # every seat taken: the match starts at once
        matches.append(await fill_match(base, f"{'s' if drain else 'x'}{index}", others + 1))
    await asyncio.sleep(2)
    calm = time.monotonic()
    rss_before = rss_mib(pid)
    clients: list[tuple[Watcher, int, RawClient]] = []
    for watcher, tickets in matches:
        for seat, ticket in enumerate(tickets[: count - len(clients)], start=1):
            client = await asyncio.to_thread(RawClient, base, ticket, drain=drain)
            clients.append((watcher, seat, client))
    rss_peak, started = rss_before, time.monotonic()
    while time.monotonic() - started < wait:
        rss_peak = max(rss_peak, rss_mib(pid))
        if all(w.dropped_at(seat, c.connected_at) for w, seat, c in clients):
            break
        await asyncio.sleep(0.25)
    detections = [w.dropped_at(seat, c.connected_at) for w, seat, c in clients]
    troubled = time.monotonic()
    before = control.latency_between(calm - 1.5, calm)
    during = control.latency_between(started, troubled)
    for _, _, client in clients:
        await asyncio.to_thread(client.read_rest, 0.5 if drain else 5)
    codes: dict[str, int] = {}
    for _, _, client in clients:
        code = str(client.close_code())
        codes[code] = codes.get(code, 0) + 1
        client.close()
    for watcher, _ in matches:
        await watcher.stop()
    return {
        "clients": count,
        "dropped": sum(1 for d in detections if d is not None),
        "detected_after_s": summary(
            [d - c.connected_at for d, (_, _, c) in zip(detections, clients, strict=True) if d]
        ),
        "bytes_sent_per_client": summary([len(c.data) for _, _, c in clients]),
        "close_codes": codes,
        "web_rss_before_mib": round(rss_before, 1),
        "web_rss_peak_mib": round(rss_peak, 1),
        "web_rss_growth_per_client_kib": round((rss_peak - rss_before) * 1024 / count, 1),
        "watcher_latency_ms_before": percentiles(before),
        "watcher_latency_ms_during": percentiles(during),
    }


async def until_keyframe(base: str, ticket: str) -> websockets.ClientConnection:
    """A socket for `ticket`, once its first keyframe has come; an error if it closes first."""
    ws = await websockets.connect(
        ws_url(base), subprotocols=[SUBPROTOCOL_JSON, TICKET_PREFIX + ticket], origin=base,
        ping_interval=None,
    )  # fmt: skip
    async for raw in ws:
        if json.loads(raw).get("key"):
            return ws
    raise ConnectionError(f"closed ({ws.close_code}) before a keyframe came")


async def reconnects(base: str, rounds: int) -> dict[str, Any]:
    """A player closes its socket and comes back with a new ticket, `rounds` times."""
    owner = Session(base, "rc-watch")
    await owner.login()
    created = await owner.post("/api/matches", {"game": "bench", "private": True, "seats": 2})
    player = Session(base, "rc-player")
    await player.login()
    seat = await player.post("/api/join-by-code", {"code": created["match"]["code"]})
    watcher = Watcher(base, created["ticket"])
    await watcher.start()
    drop_seen, resume = [], []
    ticket = seat["ticket"]
    for _ in range(rounds):
        ws = await until_keyframe(base, ticket)
        await asyncio.sleep(0.5)
        closed = time.monotonic()
        await ws.close()
        while watcher.dropped_at(seat["seat"], closed) is None:
            await asyncio.sleep(0.01)
        drop_seen.append(watcher.dropped_at(seat["seat"], closed) - closed)
        started = time.monotonic()
        ticket = (await player.post(f"/api/matches/{created['match']['id']}/ticket"))["ticket"]
        ws = await until_keyframe(base, ticket)
        resume.append(time.monotonic() - started)
        await ws.close()
        ticket = (await player.post(f"/api/matches/{created['match']['id']}/ticket"))["ticket"]
    await watcher.stop()
    for session in (owner, player):
        await session.http.aclose()
    return {"rounds": rounds, "drop_seen_after_s": summary(drop_seen),
            "resume_to_keyframe_s": summary(resume)}  # fmt: skip


async def measure(base: str, pid: int, args: argparse.Namespace, grace_wait: float) -> dict:
    watcher, (ticket,) = await fill_match(base, "control", 2)  # two well-behaved players
    control = Watcher(base, ticket)
    await control.start()
    report = {
        "stalled": await unreachable_clients(
            base, pid, args.stalled, drain=False, wait=grace_wait, control=control
        ),
        "silent": await unreachable_clients(
            base, pid, args.silent, drain=True, wait=grace_wait, control=control
        ),
        "reconnect": await reconnects(base, args.rounds),
    }
    await control.stop()
    await watcher.stop()
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stalled", type=int, default=49)
    parser.add_argument("--silent", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment setting for the stack, e.g. "
                             "GAMESERVER_SILENT_TIMEOUT=2")  # fmt: skip
    args = parser.parse_args(argv)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = dict(item.split("=", 1) for item in args.setting)
    with tempfile.TemporaryDirectory() as tmp:
        redis, redis_url = start_redis(Path(tmp))
        stack = Stack(Path(tmp), redis_url, GAMESERVER_PRIVATE_BOT_FILL_SECONDS="60",
                      GAMESERVER_MAX_SOCKETS_PER_IP="1000", GAMESERVER_HTTP_LIMITS="0",
                      **settings)  # fmt: skip
        try:
            base = stack.web(server="uvicorn")
            stack.engine()
            silent = float(settings.get("GAMESERVER_SILENT_TIMEOUT", 10))
            slow = float(settings.get("GAMESERVER_FLOW_LAG", 2)) + float(
                settings.get("GAMESERVER_SLOW_CLOSE", 10)
            )
            report = asyncio.run(
                measure(base, stack.webs[0].proc.pid, args, min(silent, slow) + 10)
            )
        finally:
            stack.stop()
            redis.stop()
    report["settings"] = settings
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
