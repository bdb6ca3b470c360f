"""Watching over Server-Sent Events: `GET /api/matches/<id>/stream` (docs/PROTOCOL.md).

A plain ASGI handler, fed by the process's frame hub like a spectator's socket: the same
frames, encoded once per tick (the hub frames them as events once for all streams). An SSE
client cannot ack, so its TCP acks stand in for them: the newest tick whose bytes the client
has taken is its `ack` (see `Connection`), and flow control is the sockets' (FLOW_LAG,
then nothing until it has all it was sent, then a keyframe; behind for SLOW_CLOSE: ended and
hung up). No channel-layer channel per stream (no Redis subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import importlib
import itertools
import logging
import math
import struct
import termios
from collections import deque
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
LAST_WRITE_SECONDS = 1.0  # the final event's wait for buffer room before the hang-up
TICKET_SCHEME = "ticket "  # Authorization: Ticket <spectator ticket>


class Connection:
    """The TCP connection under one stream, as far as its web server lets us see it.

    `unsent()` is what was written to it that the client's TCP has not acknowledged yet: the
    server's user-space buffer plus the kernel's send queue (SIOCOUTQ). The kernel queue alone
    grows to megabytes for a client that stopped reading, long before uvicorn's 64 KiB buffer
    pauses writing or Twisted's says it is full, so the buffers' own flags are not enough.
    """

    def __init__(self, transport: Any, fd: int | None, buffered: Callable[[], int],
                 paused: Callable[[], bool], hang_up: Callable[[], None],
                 abort: Callable[[], None]):  # fmt: skip
        self.transport = transport
        self.fd = fd
        self.buffered = buffered
        self.paused = paused  # a write now would wait (uvicorn) or pile up (daphne)
        self.hang_up = hang_up  # close once the user-space buffer is written
        self.abort = abort

    @classmethod
    def of(cls, send: Any) -> Connection | None:
        """uvicorn's send is its request cycle's method; daphne's a partial of its handler
        with the Twisted request. Another server: None (no flow control, as before acks)."""
        cycle = getattr(send, "__self__", None)
        flow = getattr(cycle, "flow", None)
        if flow is not None and hasattr(flow, "write_paused"):
            asyncio_transport = cycle.transport
            sock = asyncio_transport.get_extra_info("socket")
            return cls(asyncio_transport, sock.fileno() if sock is not None else None,
                       asyncio_transport.get_write_buffer_size, lambda: flow.write_paused,
                       asyncio_transport.close, asyncio_transport.abort)  # fmt: skip
        request = send.args[0] if isinstance(send, functools.partial) and send.args else None
        twisted = getattr(getattr(request, "channel", None), "transport", None)
        if twisted is None or not hasattr(twisted, "_isSendBufferFull"):
            return None

        def buffered() -> int:
            return len(twisted.dataBuffer) - twisted.offset + twisted._tempDataLen

        fd = twisted.fileno() if hasattr(twisted, "fileno") else None
        return cls(twisted, fd, buffered, twisted._isSendBufferFull, twisted.loseConnection,
                   twisted.abortConnection)  # fmt: skip

    def unsent(self) -> int:
        queued = self.buffered()
        if self.fd is not None and self.fd >= 0:
            try:
                queued += struct.unpack("i", fcntl.ioctl(self.fd, termios.TIOCOUTQ, b"\0" * 4))[0]
            except OSError:  # closed under us, or not Linux: the user-space buffer only
                self.fd = None
        return queued


def _json_response(status: int, code: str, message: str, retry_after: float | None = None):
    body = protocol.encode({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    return status, headers, body


class StreamConsumer:
    spectator = True
    views = protocol.views_of(spectator=True, seat=-1)
    wire = protocol.WIRE_SSE
    seat = -1
    name = ""
    codec = protocol.CODECS[protocol.SUBPROTOCOL_JSON]
    heard = math.inf  # an SSE client never speaks: it cannot go silent
    lag_ticks = protocol.MAX_INT  # FLOW_LAG of the match's ticks once admitted

    def __init__(self) -> None:
        self.match_id = ""
        self.user_id: int | None = None
        self.shown_name = ""
        self.socket_id = f"sse{next(_ids)}"
        self.synced = False
        self.sent_tick = -1
        self.behind_since = 0.0
        self.closing = False
        self.hub: FrameHub | None = None
        self.address: str | None = None
        self.ended = asyncio.Event()
        self.connection: Connection | None = None
        self._asgi_send: Any = None
        self._written = 0  # bytes of the response body on the wire, chunk framing included
        self._marks: deque[tuple[int, int]] = deque()  # (bytes written through, tick)
        self._acked = -1

    @classmethod
    def as_asgi(cls) -> Callable:
        async def app(scope: dict, receive: Any, send: Any) -> None:
            await cls()(scope, receive, send)

        return app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self._asgi_send = send
        self.connection = Connection.of(send)
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
        if isinstance(found, Refusal):
            return found
        self.lag_ticks = protocol.lag_frames(settings.GAMESERVER["FLOW_LAG"], found)
        return None

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
        """The final event, the end of the response, and the end of the connection (the
        client closes its EventSource on `over`; after an `error` it may reconnect). Hung up
        so that a client that stopped reading holds nothing here: what it has not taken yet
        is the kernel's to deliver; if even the final event finds no room, it is dropped."""
        if self.closing:
            return
        self.closing = True
        if self.hub is not None and self.match_id:
            await self.hub.detach(self)
        self.match_id = ""
        written = False
        with contextlib.suppress(Exception):  # the client may be gone already
            await asyncio.wait_for(self._write(last, more=False), LAST_WRITE_SECONDS)
            written = True
        if self.connection is not None:
            with contextlib.suppress(Exception):
                (self.connection.hang_up if written else self.connection.abort)()
        self.ended.set()

    # What the hub calls
    async def base_send(self, event: dict[str, Any]) -> None:
        """The server's send, counting the body's bytes: a frame's tick is acked once the
        client's TCP has taken every byte up to its end (chunked framing counted as uvicorn
        and Twisted write it)."""
        body = event.get("body", b"")
        if body:
            self._written += len(body) + len(b"%x" % len(body)) + 4
            if self.sent_tick > (self._marks[-1][1] if self._marks else self._acked):
                self._marks.append((self._written, self.sent_tick))
        await self._asgi_send(event)

    @property
    def ack(self) -> int:
        """The newest tick the client has taken all of; the hub's flow control reads it."""
        if self._marks and self.connection is not None:
            taken = self._written - self.connection.unsent()
            while self._marks and self._marks[0][0] <= taken:
                self._acked = max(self._acked, self._marks.popleft()[1])
        elif self._marks:  # no way to tell: everything written counts as taken
            self._acked = max(self._acked, self._marks.pop()[1])
            self._marks.clear()
        return self._acked

    @ack.setter
    def ack(self, tick: int) -> None:
        """The hub sets it at a keyframe (lag is counted from there), as for a socket."""
        self._acked = max(self._acked, tick)

    async def send_message(self, message: dict[str, Any]) -> None:
        await self._write(protocol.sse_event(message["type"], protocol.encode(message)))

    async def match_over(self, event: dict[str, Any]) -> None:
        await self._end(event["body"])

    async def kick(self, close_code: int, code: str, message: str) -> None:
        error = {"type": "error", "code": code, "message": message}
        await self._end(protocol.sse_event("error", protocol.encode(error)))

    def write_blocked(self) -> bool:
        """The server's own buffer is over its limit: a write now would wait (uvicorn) or
        pile up in memory (daphne)."""
        return self.connection is not None and self.connection.paused()

    def fall_behind(self, now: float) -> None:
        self.behind_since = now
        self.synced = False

    def maybe_catch_up(self) -> None:
        """It has taken all it was sent: frames start again at the next keyframe."""
        if self.ack >= self.sent_tick and not self.write_blocked():
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
