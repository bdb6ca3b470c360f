"""A lobby socket as the browser opens it (/ws/lobby/, the session's cookies, the page's
Origin), collecting what the server pushes: `site` lists, chat lines, deletions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import websockets

from games.protocol import SUBPROTOCOL_JSON
from tests.support import Api


class LobbySocket:
    def __init__(self, api: Api):
        self.api = api
        self.messages: list[dict[str, Any]] = []
        self.ws: Any = None
        self._reader: asyncio.Task | None = None
        self._arrived = asyncio.Event()

    async def open(self) -> LobbySocket:
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.api.cookies)
        self.ws = await websockets.connect(
            self.api.base.replace("http://", "ws://") + "/ws/lobby/",
            subprotocols=[SUBPROTOCOL_JSON],
            origin=self.api.base,
            additional_headers={"Cookie": cookies} if cookies else None,
            open_timeout=10,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self.ws:
            self.messages.append(json.loads(raw))
            self._arrived.set()

    async def say(self, text: str) -> None:
        await self.ws.send(json.dumps({"type": "chat", "text": text}))

    async def wait_for(self, check: Any, timeout: float = 5, since: int = 0) -> dict[str, Any]:
        """The first message from index `since` on for which check(message) is true."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages[since:]:
                if check(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                kinds = [m["type"] for m in self.messages[since:]]
                raise AssertionError(f"nothing matched within {timeout} s; got {kinds}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    def chat(self) -> list[str]:
        return [m["text"] for m in self.messages if m["type"] == "chat"]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()


def site_has(match_id: str, where: str) -> Any:
    """A check: a `site` message listing the match under `where` ("open" or "live")."""
    return lambda m: m["type"] == "site" and any(x["id"] == match_id for x in m[where])


def site_lacks(match_id: str, where: str) -> Any:
    return lambda m: m["type"] == "site" and all(x["id"] != match_id for x in m[where])
