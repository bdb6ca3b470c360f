"""A Server-Sent Events reader for the tests: a real HTTP client (httpx, streaming) that
parses events as an EventSource does and keeps the last event id for a reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
        kind, data, event_id = "message", [], None
        async for line in response.aiter_lines():
            if line == "":
                if data:
                    self.events.append(Event(kind, "\n".join(data), event_id, time.monotonic()))
                    if event_id is not None:
                        self.last_id = event_id
                kind, data, event_id = "message", [], None
            elif line.startswith(":"):
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    kind = value
                elif field == "data":
                    data.append(value)
                elif field == "id":
                    event_id = value

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
