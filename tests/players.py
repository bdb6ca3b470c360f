"""A scripted player over a real websocket: keeps the client-side model like a browser does,
and acks the newest tick four times a second, as docs/PROTOCOL.md asks of every client."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from typing import Any

import msgspec
import websockets

from games.protocol import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, TICKET_PREFIX
from games.rules.lightcycles import apply_delta as lightcycles_delta

PERPENDICULAR = {"up": "left", "down": "right", "left": "down", "right": "up"}
ACK_EVERY = 0.25  # seconds


class Player:
    def __init__(self, ws_url: str, seat_answer: dict[str, Any], origin: str, binary: bool = False,
                 apply_delta: Any = lightcycles_delta):  # fmt: skip
        self.apply_delta = apply_delta  # the game's, as its browser client mirrors it
        self.tick = -1  # the newest frame's
        self.subprotocol = SUBPROTOCOL_MSGPACK if binary else SUBPROTOCOL_JSON
        self.url = ws_url
        self.ticket = seat_answer["ticket"]
        self.seat = seat_answer["seat"]
        self.origin = origin
        self.welcome: dict[str, Any] | None = None
        self.model: dict[str, Any] | None = None
        self.frames: list[tuple[float, dict[str, Any]]] = []  # (receive time, frame)
        self.over: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.messages: list[dict[str, Any]] = []  # everything received, decoded
        self.acking = True  # False: a client that reads but never says how far it got
        self.acked_at = 0.0
        self.ws = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[self.subprotocol, TICKET_PREFIX + self.ticket],
            origin=self.origin,
            open_timeout=15,
        )

    async def run(self) -> None:
        """Read until the server closes, applying keyframes and deltas to the model."""
        keep_acking = asyncio.create_task(self._keep_acking())
        try:
            await self._read()
        finally:
            keep_acking.cancel()
        self.close_code = self.ws.close_code

    async def _keep_acking(self) -> None:
        """Ack on a timer too: a client that was sent nothing more (it fell behind) must still
        say that it has read everything, or the server never starts sending again."""
        while True:
            await asyncio.sleep(ACK_EVERY)
            if self.acking and self.model and time.monotonic() - self.acked_at >= ACK_EVERY:
                await self._ack(self.tick)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                if self.subprotocol == SUBPROTOCOL_MSGPACK:
                    assert isinstance(raw, bytes), "msgpack sockets get binary frames"
                    message = msgspec.msgpack.decode(raw)
                else:
                    message = json.loads(raw)
                self.messages.append(message)
                kind = message["type"]
                if kind == "welcome":
                    self.welcome = message
                elif kind == "frame":
                    self.frames.append((time.monotonic(), message))
                    if message["key"]:
                        self.model = copy.deepcopy(message["state"])
                        self.tick = message["tick"]
                    elif self.model is not None:
                        self.apply_delta(self.model, message["delta"])
                        self.tick = message["tick"]
                    if self.acking and time.monotonic() - self.acked_at >= ACK_EVERY:
                        await self._ack(message["tick"])
                elif kind == "over":
                    self.over = message
                elif kind == "error":
                    self.errors.append(message)
        except websockets.ConnectionClosed:
            pass

    async def _ack(self, tick: int) -> None:
        """An ack racing the server's close must not stop the reader: `over` may be next."""
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.send({"type": "ack", "ack": tick})

    async def send_input(self, data: dict[str, Any]) -> None:
        await self.send({"type": "input", "ack": self.tick if self.model else -1, "data": data})

    async def send(self, message: dict[str, Any]) -> None:
        if "ack" in message:
            self.acked_at = time.monotonic()
        if self.subprotocol == SUBPROTOCOL_MSGPACK:
            await self.ws.send(msgspec.msgpack.encode(message))
        else:
            await self.ws.send(json.dumps(message))

    async def reconnect(self, ticket: str) -> None:
        """A new socket for the same seat with a fresh ticket; the model waits for a keyframe."""
        self.ticket = ticket
        self.close_code = None
        self.model = None
        await self.connect()

    async def wait_until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"seat {self.seat}: timed out waiting for {what}")
            await asyncio.sleep(0.02)

    def me(self) -> dict[str, Any]:
        return self.model["players"][self.seat]

    def playing(self) -> bool:
        return self.model is not None and self.model["phase"] == "play"
