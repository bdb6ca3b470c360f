"""Server-Sent Events readers for the tests: a real HTTP client (httpx, streaming) that
parses events as an EventSource does and keeps the last event id for a reconnect, and a bare
socket one that can stop reading (a client whose TCP window closes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from typing import Any

import httpx


class Event:
    def __init__(self, kind: str, data: str, event_id: str | None, at: float):
        self.kind = kind
        self.data: dict[str, Any] = json.loads(data) if data else {}
        self.id = event_id
        self.at = at

    def __repr__(self) -> str:
        return f"<{self.kind} id={self.id} {str(self.data)[:60]}>"


def fields(lines: list[str]) -> tuple[str, list[str], str | None]:
    """An event's kind, data lines and id, from the lines of its block (comments skipped)."""
    kind, data, event_id = "message", [], None
    for line in lines:
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            kind = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
    return kind, data, event_id


class StreamReader:
    def __init__(self, base: str, match_id: str, headers: dict[str, str] | None = None,
                 cookies: httpx.Cookies | None = None):  # fmt: skip
        self.url = f"{base}/api/matches/{match_id}/stream"
        self.headers = headers or {}
        self.cookies = cookies
        self.events: list[Event] = []
        self.status: int | None = None
        self.body: Any = None  # a refusal's JSON
        self.last_id: str | None = None
        self.ended = False  # the server ended the response

    async def run(self, last_event_id: str | None = None) -> None:
        """Read until the server ends the stream (or the task is cancelled)."""
        headers = dict(self.headers)
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(10, read=30)
        async with (
            httpx.AsyncClient(timeout=timeout, cookies=self.cookies) as client,
            client.stream("GET", self.url, headers=headers) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                self.body = json.loads(await response.aread())
                return
            assert response.headers["content-type"].startswith("text/event-stream")
            await self._parse(response)
        self.ended = True

    async def _parse(self, response: httpx.Response) -> None:
        block: list[str] = []
        async for line in response.aiter_lines():
            if line != "":
                block.append(line)
                continue
            kind, data, event_id = fields(block)
            block = []
            if data:
                self.events.append(Event(kind, "\n".join(data), event_id, time.monotonic()))
                if event_id is not None:
                    self.last_id = event_id

    def of(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    def frames(self) -> list[Event]:
        return self.of("keyframe", "frame")

    async def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"stream: timed out waiting for {what}: {self.events[-3:]}")
            await asyncio.sleep(0.02)


async def read_in_background(reader: StreamReader, last_event_id: str | None = None):
    return asyncio.create_task(reader.run(last_event_id))


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
        await task


class RawStream:
    """An event stream over a bare TCP socket with a small receive buffer, read only while
    `reading` is set: once the buffer is full the client's TCP window closes, as for a reader
    that stopped (a frozen tab). The HTTP head and the chunked body are decoded by hand; each
    event is stamped with when it was read."""

    RCVBUF = 4096  # the kernel makes it 8 KiB

    def __init__(self, base: str, match_id: str, headers: dict[str, str] | None = None):
        self.port = int(base.rsplit(":", 1)[1])
        self.path = f"/api/matches/{match_id}/stream"
        self.headers = headers or {}
        self.sock: socket.socket | None = None
        self.reading = True
        self.events: list[Event] = []
        self.head: bytes | None = None
        self.eof = False  # the server closed the connection (after all it had sent)
        self.finished = False  # the chunked body's last chunk came
        self._raw = bytearray()
        self._body = bytearray()
        self._task: asyncio.Task | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RCVBUF)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", self.port))
        lines = [f"GET {self.path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += ["Accept: text/event-stream", *(f"{k}: {v}" for k, v in self.headers.items())]
        await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
        self.sock = sock
        self._task = asyncio.create_task(self._read())

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    async def _read(self) -> None:
        while not self.eof:
            if not self.reading:
                await asyncio.sleep(0.01)
                continue
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                await asyncio.sleep(0.005)
                continue
            except ConnectionError:
                chunk = b""
            if not chunk:
                self.eof = True
            self._feed(chunk)

    def _feed(self, data: bytes) -> None:
        self._raw += data
        if self.head is None:
            end = self._raw.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head, self._raw = bytes(self._raw[:end]), self._raw[end + 4 :]
            assert self.head.startswith(b"HTTP/1.1 200"), self.head
            assert b"transfer-encoding: chunked" in self.head.lower(), self.head
        while not self.finished:
            line_end = self._raw.find(b"\r\n")
            if line_end < 0:
                break
            size = int(self._raw[:line_end], 16)
            if len(self._raw) < line_end + 2 + size + 2:
                break
            self._body += self._raw[line_end + 2 : line_end + 2 + size]
            del self._raw[: line_end + 2 + size + 2]
            self.finished = size == 0
        now = time.monotonic()
        while (end := self._body.find(b"\n\n")) >= 0:
            block, self._body = bytes(self._body[:end]).decode(), self._body[end + 2 :]
            kind, data, event_id = fields(block.split("\n"))
            if data:
                self.events.append(Event(kind, "\n".join(data), event_id, now))

    def frames(self) -> list[Event]:
        return [e for e in self.events if e.kind in ("keyframe", "frame")]

    def of(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]

    async def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"raw stream: timed out waiting for {what}: "
                                     f"{self.events[-3:]}")  # fmt: skip
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._task is not None:
            await stop(self._task)
        if self.sock is not None:
            self.sock.close()
