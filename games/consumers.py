"""The game socket: checks who is connecting, then forwards inputs and lets the hub write
frames. No game logic here beyond asking the rules whether an input is well formed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from games import chat, metrics, protocol
from games.admission import Refusal, admit
from games.engine.spectators import spectator_delay
from games.handshake import client_address, codec_for, write_flag
from games.hub import FrameHub, local_hub
from games.limits import DropWindow, TokenBucket, sockets_per_address, spectators_per_address
from games.protocol import Ack, Auth, Chat, Input, Ping, ProtocolError
from games.rules import get_game
from games.rules.base import Game, InvalidInput
from games.supervise import FaultLog
from games.tickets import ticket_redeem

DROP_WINDOW_SECONDS = 5
DEGRADED_EVERY = 2.0  # seconds between `degraded` warnings to one socket
_auth_faults = FaultLog("game socket: joining a match", logging.getLogger(__name__))
_socket_ids = itertools.count(1)


class PlayConsumer(AsyncWebsocketConsumer):
    match_id = ""
    seat = -1
    synced = False  # set by the hub once a keyframe went out; deltas before it mean nothing
    ack = -1  # the newest tick the client says it has
    sent_tick = -1  # the newest tick written to it
    lag_ticks = 0  # how far its ack may trail the newest tick (settings FLOW_LAG)
    behind_since = 0.0  # when it fell too far behind; it is sent nothing until it catches up
    writable: asyncio.Event | None = None  # uvicorn's "write buffer below its limit"
    heard = 0.0  # when anything last arrived from the client
    name = ""  # the player's name, from the ticket (shown to the others while they wait)
    game: Game | None = None
    hub: FrameHub | None = None
    codec: protocol.Codec = protocol.CODECS[protocol.SUBPROTOCOL_JSON]
    address: str | None = None  # counted against the per-address socket cap until closed
    warned_at = 0.0
    degraded_at = -DEGRADED_EVERY
    closing = False  # we sent a close: ignore what the client still had in flight
    closed_by_us = False  # its close is counted under our code, not the client's
    user_id: int | None = None  # the ticket's player, once authenticated (a ban closes it)
    spectator = False  # watches: holds no seat, sends no inputs
    views: frozenset[int] = frozenset()  # whose frames it gets (protocol.views_of)
    shown_name = ""  # a spectator's name as others see it ("" watches unnamed)
    wire = protocol.WIRE_TEXT  # which of a message's encodings the hub writes to it
    watching_from: str | None = None  # a spectator's address, counted until it closes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """One socket, one plain loop over its ASGI events.

        Channels' AsyncConsumer also gives every socket a channel-layer channel (a Redis
        subscription each) and runs a task per message to wait on both; frames and control
        messages (match over) reach sockets through the process's frame hub instead, so the
        socket needs neither (docs/PERFORMANCE.md measures the difference).
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self.socket_id = str(next(_socket_ids))  # the engine tells this socket from a newer one
        self.heard = time.monotonic()
        self.writable = write_flag(send)
        metrics.CONNECTIONS_OPEN.inc()
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            metrics.CONNECTIONS_OPEN.dec()
            await self.disconnect(None)  # idempotent: frees the address slot and the seat

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch also hops to a thread before every message to close stale database
        # connections: 30-45 % of a message's cost (docs/ARCHITECTURE.md). Our handlers reach the
        # database only through database_sync_to_async, which does that itself.
        kind = message["type"]
        if kind == "websocket.receive":  # the per-message case: no name lookup
            await self.receive(message.get("text"), message.get("bytes"))
        elif kind == "websocket.connect":
            await self.websocket_connect(message)
        elif kind == "websocket.disconnect":
            if not self.closed_by_us:
                code = metrics.close_code_label(message.get("code"), by_client=True)
                metrics.CLOSES.labels(code).inc()
            await self.websocket_disconnect(message)
        else:
            raise ValueError(f"no handler for message type {kind}")

    async def connect(self) -> None:
        offered = self.scope.get("subprotocols") or []
        codec = codec_for(self.scope)
        if codec is None:
            await self.close(code=protocol.CLOSE_FORBIDDEN)  # before accept: HTTP 403
            return
        self.codec = codec
        self.wire = protocol.WIRE_BINARY if codec.binary else protocol.WIRE_TEXT
        limits = settings.GAMESERVER
        self.bucket = TokenBucket(limits["RATE_LIMIT"], limits["RATE_BURST"])
        self.drops = DropWindow(DROP_WINDOW_SECONDS)
        self.chat_allowance = chat.chat_bucket()
        await self.accept(codec.subprotocol)
        address = client_address(self.scope)
        if not sockets_per_address.acquire(address, settings.GAMESERVER["MAX_SOCKETS_PER_IP"]):
            await self.reject(
                protocol.CLOSE_RATE_LIMITED,
                "too_many_sockets",
                "too many open game sockets from your address: close some, then reconnect",
            )
            return
        self.address = address
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if "ticket" in query:
            for leaked in query["ticket"]:
                await ticket_redeem(leaked)  # burn it: whatever logged the URL can't use it
            await self.reject(
                protocol.CLOSE_BAD_INPUT,
                "ticket_in_url",
                "tickets in the URL are refused (URLs end up in logs): send it as the "
                "sub-protocol 'ticket.<ticket>' or in an auth message",
            )
            return
        tickets = [p for p in offered if p.startswith(protocol.TICKET_PREFIX)]
        if tickets:
            await self.authenticate(tickets[0][len(protocol.TICKET_PREFIX) :])
        else:
            self._auth_timer = asyncio.get_running_loop().call_later(
                settings.GAMESERVER["AUTH_TIMEOUT"],
                lambda: asyncio.ensure_future(self._auth_timeout()),
            )

    async def _auth_timeout(self) -> None:
        if not self.match_id:
            await self.reject(
                protocol.CLOSE_UNAUTHENTICATED, "auth_timeout", "no ticket arrived in time"
            )

    async def authenticate(self, token: str) -> None:
        """Redeem the ticket and join the match; while Redis or the database is away, the
        client is told to try again (1013) instead of the socket failing with 1011."""
        try:
            await self._authenticate(token)
        except Exception as error:
            _auth_faults.failed(error)
            await self.reject(
                protocol.CLOSE_TRY_AGAIN,
                "unavailable",
                "the game service is recovering from a fault: reconnect in a few seconds",
            )
        else:
            _auth_faults.succeeded()

    async def _authenticate(self, token: str) -> None:
        ticket = await ticket_redeem(token)
        if ticket is None:
            await self.reject(
                protocol.CLOSE_UNAUTHENTICATED,
                "bad_ticket",
                "ticket unknown, expired or already used: get a new one from the HTTP API",
            )
            return
        match = await database_sync_to_async(admit)(ticket)
        if isinstance(match, Refusal):
            await self.reject(match.close, match.code, match.message)
            return
        if ticket.spectator and not await self._count_spectator():
            return
        self.game = get_game(match["game"])
        self.match_id, self.seat, self.name = ticket.match_id, ticket.seat, ticket.name
        self.user_id, self.spectator = ticket.user_id, ticket.spectator
        self.views = protocol.views_of(spectator=self.spectator, seat=self.seat)
        self.shown_name = ticket.name
        self.lag_ticks = protocol.lag_frames(settings.GAMESERVER["FLOW_LAG"], match)
        welcome = {
            "type": "welcome",
            "match": match,
            "seat": None if self.spectator else self.seat,
            "role": "spectator" if self.spectator else "player",
            "tick_rate": match["tick_rate"],
            "grace": settings.GAMESERVER["RECONNECT_GRACE"],
            "server_time": protocol.now_ms(),
        }
        if self.spectator:
            welcome["delay"] = spectator_delay(self.game)
        await self.send_message(welcome)
        self.hub = await local_hub()
        if not await self.hub.attach(self):
            self.match_id = ""
            await self.reject(
                protocol.CLOSE_TRY_AGAIN, "no_engine", "no engine is running this match yet"
            )

    async def _count_spectator(self) -> bool:
        """Spectators per address (in this process) have their own cap, below the sockets'."""
        address = self.address or "unknown"
        most = settings.GAMESERVER["MAX_SPECTATORS_PER_IP"]
        if not spectators_per_address.acquire(address, most):
            message = f"more than {most} spectators from your address: close some first"
            await self.reject(protocol.CLOSE_RATE_LIMITED, "too_many_spectators", message)
            return False
        self.watching_from = address
        return True

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        self.heard = time.monotonic()
        metrics.MESSAGES_RECEIVED.inc()
        if self.closing:
            return  # messages already queued when we closed: nobody will read an answer
        if not self.bucket.take():
            await self.refuse_flood()
            return
        try:
            message = self.codec.decode(
                text_data, bytes_data, settings.GAMESERVER["MAX_MESSAGE_BYTES"]
            )
            await self.handle(message)
        except ProtocolError as error:
            await self.protocol_error(error)

    async def refuse_flood(self) -> None:
        """Drop a message over the budget: warn at most once a second, close a flood."""
        dropped = self.drops.add()
        if dropped > settings.GAMESERVER["RATE_ABUSE"]:
            await self.reject(
                protocol.CLOSE_RATE_LIMITED,
                "rate_limited",
                f"more than {dropped - 1} messages over the limit in {DROP_WINDOW_SECONDS} s",
            )
        elif time.monotonic() - self.warned_at >= 1:
            self.warned_at = time.monotonic()
            limit = settings.GAMESERVER["RATE_LIMIT"]
            await self.send_message(
                {"type": "error", "code": "rate_limited",
                 "message": f"over {limit:g} messages a second: messages are being dropped"}
            )  # fmt: skip

    async def handle(self, message: protocol.ClientMessage) -> None:
        if not self.match_id:
            if not isinstance(message, Auth):
                raise ProtocolError(
                    "auth_first", "send an auth message first", close=protocol.CLOSE_UNAUTHENTICATED
                )
            await self.authenticate(message.ticket)
        elif isinstance(message, Input):
            self.acked(message.ack)
            if self.spectator:
                raise ProtocolError("spectator", "spectators watch: they cannot send inputs")
            try:
                move = self.game.parse_input(message.data)  # once: the engine takes it as is
            except InvalidInput as error:
                raise ProtocolError("bad_input", str(error)) from None
            if not self.hub.queue_input(self, move):
                await self.warn_degraded()
        elif isinstance(message, Ack):
            self.acked(message.ack)
        elif isinstance(message, Ping):
            pong = {"type": "pong", "id": message.id, "server_time": protocol.now_ms()}
            await self.send_message(pong)
        elif isinstance(message, Chat):
            await self.chat(message.text)
        else:
            raise ProtocolError("already_authenticated", "this socket is already authenticated")

    async def chat(self, text: str) -> None:
        """A line for the match's chat; a refusal is an error frame, not a bad message."""
        name = (self.shown_name or "spectator") if self.spectator else self.name
        speaker = chat.Speaker(user_id=self.user_id, match=self.match_id, name=name,
                               seat=None if self.spectator else self.seat,
                               spectator=self.spectator)  # fmt: skip
        try:
            if not self.chat_allowance.take():
                raise chat.rate_refusal()
            await chat.say(self.hub.layer, speaker, text)
        except ProtocolError as error:
            await self.send_message({"type": "error", "code": error.code, "message": error.message})

    async def warn_degraded(self) -> None:
        """An input that cannot reach the engine (Redis away, owner changing): say so, at
        most every DEGRADED_EVERY seconds, instead of dropping it silently."""
        now = time.monotonic()
        if now - self.degraded_at < DEGRADED_EVERY or self.closing:
            return
        self.degraded_at = now
        with contextlib.suppress(Exception):  # the socket may be closed under us already
            await self.send_message(
                {"type": "error", "code": "degraded",
                 "message": "your inputs cannot reach the game right now; it is recovering"}
            )  # fmt: skip

    def acked(self, tick: int) -> None:
        if tick > self.ack:
            self.ack = tick
            if self.behind_since:
                self.maybe_catch_up()

    def fall_behind(self, now: float) -> None:
        """Send nothing more until it has all it was sent, then start again at a keyframe."""
        self.behind_since = now
        self.synced = False

    def write_blocked(self) -> bool:
        """uvicorn's write buffer for this socket is over its high-water mark: a send would
        wait for the client to read (daphne buffers without a limit and never says so)."""
        return self.writable is not None and not self.writable.is_set()

    def maybe_catch_up(self) -> None:
        if self.ack >= self.sent_tick and not self.write_blocked():
            self.behind_since = 0.0

    async def protocol_error(self, error: ProtocolError) -> None:
        self.bad_messages = getattr(self, "bad_messages", 0) + 1
        limit = settings.GAMESERVER["MAX_BAD_MESSAGES"]  # then it is broken or hostile
        if error.close is None and self.bad_messages > limit:
            error.close = protocol.CLOSE_BAD_INPUT
            error.message += f" (more than {limit} bad messages: closing)"
        if error.close is None:
            await self.send_message({"type": "error", "code": error.code, "message": error.message})
        else:
            await self.reject(error.close, error.code, error.message)

    async def send_message(self, message: dict[str, Any]) -> None:
        await self.base_send(self.codec.send_event(message))
        metrics.MESSAGES_SENT.inc()

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Every close of ours goes through here: counted by its code."""
        self.closed_by_us = True
        label = metrics.close_code_label(1000 if code in (None, True) else code, by_client=False)
        metrics.CLOSES.labels(label).inc()
        await super().close(code=code, reason=reason)

    async def reject(self, close_code: int, code: str, message: str) -> None:
        """An error frame saying why, then the documented close code (daphne sends no reason).
        The seat is let go first: a peer that is gone may never complete the close."""
        if self.closing:
            return
        self.closing = True
        await self.disconnect(None)
        await self.send_message({"type": "error", "code": code, "message": message})
        await self.close(code=close_code)

    async def kick(self, close_code: int, code: str, message: str) -> None:
        """Closed by the server side: replaced, seat gone, too slow or silent."""
        with contextlib.suppress(Exception):  # the socket may be closed under us already
            await self.reject(close_code, code, message)

    async def match_over(self, event: dict[str, Any]) -> None:
        """The final message (its ASGI event, encoded once by the engine for all)."""
        if self.closing:
            return
        self.closing = True
        await self.hub.detach(self)
        self.match_id = ""
        with contextlib.suppress(Exception):  # the socket may be closed under us already
            await self.base_send(event)
            metrics.MESSAGES_SENT.inc()
            await self.close(code=protocol.CLOSE_MATCH_OVER)

    async def disconnect(self, code: int | None) -> None:
        if self.address is not None:
            sockets_per_address.release(self.address)
            self.address = None
        if self.watching_from is not None:
            spectators_per_address.release(self.watching_from)
            self.watching_from = None
        timer = getattr(self, "_auth_timer", None)
        if timer is not None:
            timer.cancel()
        if self.hub is not None and self.match_id:
            await self.hub.detach(self)
