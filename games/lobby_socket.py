"""The lobby socket (/ws/lobby/): the live lists of open and running matches, how many are
online, and lobby chat, pushed as they change (docs/PROTOCOL.md, "The lobby socket"). Anyone
may read; chatting needs a player (the session's guest). Origin is checked like the game
socket's, and it counts against the same per-address socket cap."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from games import chat, metrics, protocol
from games.handshake import client_address, codec_for, write_flag
from games.hub import FrameHub, local_hub
from games.limits import TokenBucket, sockets_per_address
from games.protocol import Chat, Ping, ProtocolError


class LobbyConsumer(AsyncWebsocketConsumer):
    codec: protocol.Codec = protocol.CODECS[protocol.SUBPROTOCOL_JSON]
    wire = protocol.WIRE_TEXT
    spectator = False
    closing = False
    address: str | None = None
    hub: FrameHub | None = None
    user_id: int | None = None
    writable: asyncio.Event | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """One plain loop over the socket's events, with no channel-layer channel of its own:
        the hub writes the lobby's messages (as for the game socket)."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self.writable = write_flag(send)
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            await self.disconnect(None)

    async def dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.receive":
            await self.receive(message.get("text"), message.get("bytes"))
        elif kind == "websocket.connect":
            await self.connect()
        elif kind == "websocket.disconnect":
            await self.disconnect(message.get("code"))
            raise StopConsumer

    async def connect(self) -> None:
        codec = codec_for(self.scope)
        if codec is None:
            await self.close(code=protocol.CLOSE_FORBIDDEN)  # before accept: HTTP 403
            return
        self.codec = codec
        self.wire = protocol.WIRE_BINARY if codec.binary else protocol.WIRE_TEXT
        limits = settings.GAMESERVER
        self.bucket = TokenBucket(limits["RATE_LIMIT"], limits["RATE_BURST"])
        self.chat_allowance = chat.chat_bucket()
        await self.accept(codec.subprotocol)
        address = client_address(self.scope)
        if not sockets_per_address.acquire(address, limits["MAX_SOCKETS_PER_IP"]):
            await self.kick(protocol.CLOSE_RATE_LIMITED, "too_many_sockets",
                            "too many open sockets from your address: close some, then "
                            "reconnect")  # fmt: skip
            return
        self.address = address
        user = self.scope.get("user")
        self.user_id = user.pk if user is not None and user.is_authenticated else None
        self.hub = await local_hub()
        try:
            await self.hub.rooms.enter(self)
        except Exception:  # the database or Redis is away: come back in a moment
            await self.kick(protocol.CLOSE_TRY_AGAIN, "unavailable",
                            "the lobby is recovering from a fault: reconnect in a few "
                            "seconds")  # fmt: skip

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.closing:
            return
        if not self.bucket.take():
            return  # over the socket's budget: dropped (the game socket warns; chat says so)
        try:
            message = self.codec.decode(
                text_data, bytes_data, settings.GAMESERVER["MAX_MESSAGE_BYTES"]
            )
            if isinstance(message, Chat):
                if not self.chat_allowance.take():
                    raise chat.rate_refusal()
                await chat.say(self.hub.layer, chat.Speaker(user_id=self.user_id), message.text)
            elif isinstance(message, Ping):
                await self.send_message({"type": "pong", "id": message.id,
                                         "server_time": protocol.now_ms()})  # fmt: skip
            else:
                raise ProtocolError("bad_message", "the lobby socket takes chat and ping only")
        except ProtocolError as error:
            if error.close is not None:
                await self.kick(error.close, error.code, error.message)
            else:
                await self.send_message({"type": "error", "code": error.code,
                                         "message": error.message})  # fmt: skip

    def write_blocked(self) -> bool:
        return self.writable is not None and not self.writable.is_set()

    async def send_message(self, message: dict[str, Any]) -> None:
        await self.base_send(self.codec.send_event(message))
        metrics.MESSAGES_SENT.inc()

    async def kick(self, close_code: int, code: str, message: str) -> None:
        """An error frame saying why, then the close code (a ban closes it too)."""
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(Exception):  # closed under us already
            await self.send_message({"type": "error", "code": code, "message": message})
            await self.close(code=close_code)

    async def disconnect(self, code: int | None) -> None:
        if self.hub is not None:
            self.hub.rooms.leave(self)
        if self.address is not None:
            sockets_per_address.release(self.address)
            self.address = None
