"""Watching over Server-Sent Events: `GET /api/matches/<id>/stream` (docs/PROTOCOL.md).

A plain ASGI handler, fed by the process's frame hub like a spectator's socket: the same
frames, encoded once per tick (the hub frames them as events once for all streams). An SSE
client cannot ack, so flow control reads the server's write buffer instead: a stream whose
buffer is full gets nothing more until it drains, then waits for a keyframe; one that stays
full for SLOW_CLOSE is ended. No channel-layer channel per stream (no Redis subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import itertools
import logging
import math
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from games import protocol, ratelimit
from games.admission import Refusal, admit_spectator
from games.hub import FrameHub, local_hub
from games.limits import spectators_per_address
from games.ratelimit import RateLimited
from games.store import get_store
from games.supervise import FaultLog
from games.tickets import Ticket, ticket_redeem

log = logging.getLogger(__name__)
_faults = FaultLog("event stream: opening", log)
_ids = itertools.count(1)
RETRY_MS = 2000  # how soon an EventSource reconnects after the stream ends without `over`
TICKET_SCHEME = "ticket "  # Authorization: Ticket <spectator ticket>


def _blocked_check(send: Any) -> Callable[[], bool] | None:
    """How to tell that the client stopped reading. uvicorn pauses writing once the
    transport's buffer passes its high-water mark (the send would then wait); daphne's
    Twisted transport says when its buffer is full. Neither: no check (acks do not exist)."""
    flow = getattr(getattr(send, "__self__", None), "flow", None)
    if flow is not None and hasattr(flow, "write_paused"):
        return lambda: flow.write_paused
    request = send.args[0] if isinstance(send, functools.partial) and send.args else None
    transport = getattr(getattr(request, "channel", None), "transport", None)
    full = getattr(transport, "_isSendBufferFull", None)
    return full if callable(full) else None


def _json_response(status: int, code: str, message: str, retry_after: float | None = None):
    body = protocol.encode({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    return status, headers, body


class StreamConsumer:
    spectator = True
    wire = protocol.WIRE_SSE
    seat = -1
    name = ""
    codec = protocol.CODECS[protocol.SUBPROTOCOL_JSON]
    heard = math.inf  # an SSE client never speaks: it cannot go silent
    lag_ticks = protocol.MAX_INT  # nor ack: its write buffer is the only measure

    def __init__(self) -> None:
        self.match_id = ""
        self.user_id: int | None = None
        self.shown_name = ""
        self.socket_id = f"sse{next(_ids)}"
        self.synced = False
        self.ack = -1
        self.sent_tick = -1
        self.behind_since = 0.0
        self.closing = False
        self.hub: FrameHub | None = None
        self.address: str | None = None
        self.ended = asyncio.Event()
        self.base_send: Any = None
        self._blocked: Callable[[], bool] | None = None

    @classmethod
    def as_asgi(cls) -> Callable:
        async def app(scope: dict, receive: Any, send: Any) -> None:
            await cls()(scope, receive, send)

        return app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.base_send = send
        self._blocked = _blocked_check(send)
        if scope["method"] != "GET":
            await self._respond(*_json_response(405, "method_not_allowed", "use GET"))
            return
        try:
            refusal = await self._admit(scope)
        except Exception as error:  # Redis or the database away
            _faults.failed(error)
            message = "the game service is recovering from a fault: try again in a few seconds"
            refusal = Refusal(protocol.CLOSE_TRY_AGAIN, "unavailable", message, 503)
        if refusal is not None:
            retry = refusal.retry_after or {503: 2, 429: 10}.get(refusal.status)
            await self._respond(*_json_response(refusal.status, refusal.code, refusal.message,
                                                retry))  # fmt: skip
            return
        try:
            await self._stream(receive)
        finally:
            await self._release()

    # Who may watch
    async def _admit(self, scope: dict) -> Refusal | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.match_id = scope["url_route"]["kwargs"]["match_id"][:64]
        self.address = (scope.get("client") or ("unknown", 0))[0]
        ticket = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith(TICKET_SCHEME):
            ticket = await ticket_redeem(auth[len(TICKET_SCHEME) :].strip())
            if ticket is None or not ticket.spectator or ticket.match_id != self.match_id:
                return Refusal(protocol.CLOSE_UNAUTHENTICATED, "bad_ticket", "ticket unknown, "
                               "expired, used, or not for watching this match", 401)  # fmt: skip
        refusal = await database_sync_to_async(self._check)(ticket, headers.get("cookie", ""))
        if refusal is None:
            self._resume_after(headers.get("last-event-id", ""))
            if not spectators_per_address.acquire(
                self.address, settings.GAMESERVER["MAX_SPECTATORS_PER_IP"]
            ):
                self.address = None
                return Refusal(protocol.CLOSE_RATE_LIMITED, "too_many_spectators",
                               "too many spectators from your address: close some first",
                               429)  # fmt: skip
        else:
            self.address = None
        return refusal

    def _check(self, ticket: Ticket | None, cookies: str) -> Refusal | None:
        """(a worker thread) The rate limit, then the match: a private one needs a ticket or
        this session's grant (POST /watch with its code)."""
        try:
            ratelimit.check_address("stream", self.address)
        except RateLimited as limited:
            return Refusal(protocol.CLOSE_RATE_LIMITED, limited.code, limited.message, 429,
                           limited.retry_after)  # fmt: skip
        if ticket is not None:
            self.user_id, self.shown_name = ticket.user_id, ticket.name
        else:
            self.user_id = _session_user(cookies)
        private_ok = ticket is not None or (
            self.user_id is not None and get_store().watch_granted(self.user_id, self.match_id)
        )
        found = admit_spectator(self.match_id, user_id=self.user_id, private_ok=private_ok)
        return found if isinstance(found, Refusal) else None

    def _resume_after(self, last_id: str) -> None:
        """A reconnecting EventSource sends the last tick it had: nothing at or before it
        is sent again, and it starts with a keyframe like any new stream."""
        if last_id.isdigit() and len(last_id) <= 10:
            self.sent_tick = min(int(last_id), protocol.MAX_INT)

    # The stream
    async def _stream(self, receive: Any) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
        ]
        await self.base_send({"type": "http.response.start", "status": 200, "headers": headers})
        await self._write(f"retry: {RETRY_MS}\n\n".encode())
        self.hub = await local_hub()
        if not await self.hub.attach(self):
            self.match_id = ""
            await self.kick(protocol.CLOSE_TRY_AGAIN, "no_engine", "no engine is running this "
                            "match yet: the stream reconnects by itself")  # fmt: skip
            return
        gone = asyncio.ensure_future(_until_disconnect(receive))
        keepalive = settings.GAMESERVER["SSE_KEEPALIVE"]
        try:
            while not self.ended.is_set() and not gone.done():
                ended = asyncio.ensure_future(self.ended.wait())
                await asyncio.wait([gone, ended], timeout=keepalive,
                                   return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                ended.cancel()
                if not self.ended.is_set() and not gone.done() and not self.write_blocked():
                    await self._write(b": keep-alive\n\n")
        finally:
            gone.cancel()

    async def _write(self, body: bytes, more: bool = True) -> None:
        await self.base_send({"type": "http.response.body", "body": body, "more_body": more})

    async def _respond(self, status: int, headers: list, body: bytes) -> None:
        await self.base_send({"type": "http.response.start", "status": status, "headers": headers})
        await self._write(body, more=False)

    async def _release(self) -> None:
        if self.hub is not None and self.match_id:
            await self.hub.detach(self)
        if self.address is not None:
            spectators_per_address.release(self.address)
            self.address = None

    async def _end(self, last: bytes) -> None:
        """The final event, then the end of the response (the client closes its EventSource
        on `over`; after an `error` it may reconnect)."""
        if self.closing:
            return
        self.closing = True
        if self.hub is not None and self.match_id:
            await self.hub.detach(self)
        self.match_id = ""
        with contextlib.suppress(Exception):  # the client may be gone already
            await self._write(last, more=False)
        self.ended.set()

    # What the hub calls
    async def send_message(self, message: dict[str, Any]) -> None:
        await self._write(protocol.sse_event(message["type"], protocol.encode(message)))

    async def match_over(self, event: dict[str, Any]) -> None:
        await self._end(event["body"])

    async def kick(self, close_code: int, code: str, message: str) -> None:
        error = {"type": "error", "code": code, "message": message}
        await self._end(protocol.sse_event("error", protocol.encode(error)))

    def write_blocked(self) -> bool:
        return self._blocked is not None and self._blocked()

    def fall_behind(self, now: float) -> None:
        self.behind_since = now
        self.synced = False

    def maybe_catch_up(self) -> None:
        if not self.write_blocked():
            self.behind_since = 0.0


async def _until_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _session_user(cookies: str) -> int | None:
    """The logged-in user of the session cookie, if any (EventSource sends cookies)."""
    from http.cookies import SimpleCookie

    jar = SimpleCookie()
    with contextlib.suppress(Exception):
        jar.load(cookies)
    morsel = jar.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return None
    store = importlib.import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    user_id = store.get("_auth_user_id")
    return int(user_id) if user_id is not None and str(user_id).isdigit() else None
