"""The bot: one player that joins like a browser, plays Bench Arena and measures every frame.

It lives apart from the processes that run it (worker.py) and the controller that drives
those (loadgen.py) because it is the hot path: the generator shares the machine with the
server under test, so a bot reads only the few fields of a frame it needs (one msgspec Struct),
straight from the connection's parser, and writes its inputs straight to the transport.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from games.loadtest.stats import LATE_MS, Recorder
from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX

if TYPE_CHECKING:
    from games.loadtest.worker import Worker

KINDS = ("gameserver", "raw")
GAME = "bench"
HEADINGS = ("up", "down", "left", "right")
INPUT_PERIOD = 0.1  # seconds: 10 inputs a second
MAX_WRITE_BACKLOG = 64 * 1024  # bytes unsent to a socket past which a bot skips an input
DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
JOIN_TIMEOUT = 30.0  # seconds for one player's HTTP join and handshake
INPUT_TEMPLATE = '{"type":"input","ack":%d,"data":{"dir":"%s"}}'


class FrameHead(msgspec.Struct):
    """The fields of a server message a bot needs; msgspec skips the rest unparsed."""

    type: str
    tick: int = -1
    sent: float = 0.0
    key: bool = False
    code: str = ""


_decode_head = msgspec.json.Decoder(FrameHead).decode


class BotConnection(ClientConnection):
    """A client connection that hands each data frame to its bot as it is parsed, instead of
    queueing it for `recv()`: that saves a future, a task wake-up and a queue per frame."""

    def __init__(self, protocol: ClientProtocol, *, on_frame: Any, **kwargs: Any):
        super().__init__(protocol, **kwargs)
        self.on_frame = on_frame

    def process_event(self, event: Any) -> None:
        if self.response is not None and isinstance(event, Frame) and event.opcode in DATA:
            self.on_frame(event)
        else:
            super().process_event(event)  # the handshake response, close, ping, pong


class JoinError(Exception):
    """A join step the server refused; the message is the tally key."""


class SharedTransport(httpx.AsyncBaseTransport):
    """Lets every bot's client (own cookie jar: own session) share one connection pool;
    closing a bot's client leaves the pool open."""

    def __init__(self, inner: httpx.AsyncHTTPTransport):
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass


class Bot:
    """One player: joins like a browser would, reads every message, sends inputs at 10 Hz."""

    def __init__(self, recorder: Recorder, *, kind: str, url: str, name: str, deflate: bool):
        self.rec = recorder
        self.kind = kind
        self.url = url.rstrip("/") if kind == "gameserver" else url
        self.name = name
        self.deflate = deflate
        self.ws: Any = None
        self.connected = False
        self.last_tick = -1
        self.base_tick = -1  # last tick counted as expected in an earlier window
        self.last_frame_ms = 0.0

    async def join(self, http: SharedTransport | None) -> float:
        """HTTP join (gameserver) and WebSocket handshake; returns how long it took in ms."""
        started = time.perf_counter()
        if self.kind == "gameserver":
            ticket = await self._ticket(http)
            uri = self.url.replace("http", "ws", 1) + "/ws/play/"
            subprotocols, origin = [SUBPROTOCOL_JSON, TICKET_PREFIX + ticket], self.url
        else:
            uri, subprotocols, origin = self.url, [SUBPROTOCOL_JSON], None
        self.ws = await websockets.connect(
            uri,
            subprotocols=subprotocols,
            origin=origin,
            compression="deflate" if self.deflate else None,
            proxy=None,  # never through an HTTP proxy from the environment
            ping_interval=None,  # the server pings; a busy generator must not drop sockets
            open_timeout=JOIN_TIMEOUT,
            close_timeout=2,
            create_connection=lambda protocol, **kw: BotConnection(
                protocol, on_frame=self.on_frame, **kw
            ),
        )
        self.connected = True
        self.last_frame_ms = time.time() * 1000.0
        return (time.perf_counter() - started) * 1000.0

    async def _ticket(self, http: SharedTransport | None) -> str:
        async with httpx.AsyncClient(
            base_url=self.url, transport=http, timeout=JOIN_TIMEOUT, trust_env=False
        ) as client:
            response = await client.get("/api/session")
            if response.status_code != 200:
                raise JoinError(f"GET /api/session {response.status_code}")
            await self._post(client, "/api/guest", {"name": self.name})
            seat = await self._post(client, "/api/quickplay", {"game": GAME})
            return seat["ticket"]

    async def _post(self, client: httpx.AsyncClient, path: str, body: dict) -> dict:
        # Logging in rotates the CSRF cookie: read it again before every POST.
        headers = {
            "X-CSRFToken": client.cookies.get("csrftoken") or "",
            "Origin": self.url,
            "Referer": self.url + "/",
        }
        response = await client.post(path, json=body, headers=headers)
        if response.status_code >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = ""
            raise JoinError(f"POST {path} {response.status_code} {code}".rstrip())
        return response.json()

    def on_frame(self, frame: Frame) -> None:
        """Called from the connection's data_received for every data frame: the hot path of
        the whole generator, so no task wake-up, no message queue, one small decode."""
        now = time.time() * 1000.0
        rec = self.rec
        if frame.opcode is not Opcode.TEXT or not frame.fin:
            rec.errors["unexpected binary or fragmented frame"] += 1
            return
        raw = frame.data
        try:
            head = _decode_head(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            rec.errors[f"bad message: {type(error).__name__}"] += 1
            return
        rec.bytes += len(raw)
        if head.type != "frame":
            if head.type == "error":
                rec.errors[f"error {head.code}"] += 1
            return
        rec.frames += 1
        latency = now - head.sent
        rec.latency.record(latency)
        if latency > LATE_MS:
            rec.late += 1
        if head.key:
            rec.keyframes += 1
        tick, last = head.tick, self.last_tick
        if tick > last:
            if last < 0:
                self.base_tick = tick - 1
            else:
                rec.lost += tick - last - 1
            self.last_tick = tick
        else:
            rec.reordered += 1
        self.last_frame_ms = now

    async def run(self, worker: Worker) -> None:
        """Send inputs until the socket closes; frames arrive through on_frame meanwhile."""
        loop = asyncio.get_running_loop()
        self._next_input = loop.time() + random.random() * INPUT_PERIOD
        self._timer = loop.call_at(self._next_input, self._send_input, loop)
        try:
            await self.ws.wait_closed()
        finally:
            self.connected = False
            self._timer.cancel()
        if not worker.stopping:
            self.rec.closed += 1
            close = self.ws.protocol.close_rcvd
            self.rec.close_codes[str(close.code if close else 1006)] += 1

    def _send_input(self, loop: asyncio.AbstractEventLoop) -> None:
        """One input, then the next one on the 10 Hz grid of this bot's phase; a missed slot
        is skipped, not sent late in a burst. Written straight to the transport (Sans-I/O
        API): an `await ws.send()` per input cost more than reading the frames."""
        ws = self.ws
        if ws.protocol.state is not State.OPEN:
            return
        if ws.transport.get_write_buffer_size() > MAX_WRITE_BACKLOG:
            self.rec.inputs_skipped += 1
        else:
            message = INPUT_TEMPLATE % (self.last_tick, random.choice(HEADINGS))
            ws.protocol.send_text(message.encode())
            for data in ws.protocol.data_to_send():
                if data:
                    ws.transport.write(data)
            self.rec.inputs += 1
        next_at = self._next_input + INPUT_PERIOD
        behind = loop.time() - next_at
        if behind > 0:
            next_at += (behind // INPUT_PERIOD + 1) * INPUT_PERIOD
        self._next_input = next_at
        self._timer = loop.call_at(next_at, self._send_input, loop)

    def expected_since_last_report(self) -> int:
        if self.last_tick < 0:
            return 0
        spanned = self.last_tick - self.base_tick
        self.base_tick = self.last_tick
        return spanned
