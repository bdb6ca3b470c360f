"""What the rejection and abuse-limit tests share: a live server per test, seats and tickets from
the HTTP API, sockets that speak either sub-protocol, and assertions on how a socket ends.

Every helper takes the sub-protocol from the socket itself, so a test parametrized with `@BOTH`
runs the same attack over gameserver.v1.json (text frames) and gameserver.v1.msgpack (binary
frames), and each server message must come in its socket's frame type.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sqlite3
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from games.loadtest.stack import Stack
from games.protocol import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, TICKET_PREFIX
from tests.players import PERPENDICULAR, Player
from tests.support import Api

SERVERS = ["daphne", "uvicorn"]
SUBPROTOCOLS = [SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK]
BOTH = pytest.mark.parametrize("subprotocol", SUBPROTOCOLS, ids=["json", "msgpack"])
# Private matches wait this long for bots: a lone player's socket stays open, quiet, authenticated.
NO_BOT_FILL = {"GAMESERVER_PRIVATE_BOT_FILL_SECONDS": "600"}


def serve(stack_factory, server: str = "daphne", **settings: str) -> str:
    """A fresh embedded stack's base URL (http://127.0.0.1:PORT); private matches never fill."""
    return stack_factory(**{**NO_BOT_FILL, **settings}).web(server=server)


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/play/"


def player(base: str, name: str) -> Api:
    api = Api(base)
    api.post("/api/guest", {"name": name})
    return api


def private_match(api: Api, seats: int = 2) -> dict[str, Any]:
    """`{"match", "seat", "ticket"}` of a new private lightcycles match `api` sits in."""
    return api.post("/api/matches", {"game": "lightcycles", "private": True, "seats": seats})


def new_ticket(api: Api, match_id: str) -> str:
    return api.post(f"/api/matches/{match_id}/ticket")["ticket"]


def unknown_ticket() -> str:
    """Well formed (it passes the pattern check) but never issued."""
    return secrets.token_urlsafe(24)


def encode(message: Any, subprotocol: str) -> str | bytes:
    """`message` as the sub-protocol's frame: JSON text, or msgpack binary."""
    if subprotocol == SUBPROTOCOL_MSGPACK:
        return msgspec.msgpack.encode(message)
    return json.dumps(message)


def open_socket(
    base: str,
    ticket: str | None = None,
    *,
    subprotocol: str = SUBPROTOCOL_JSON,
    path_suffix: str = "",
    origin: str | None = "",
    subprotocols: list[str] | None = None,
):
    """A websockets connect() like a browser on `base`'s page; `origin=None` sends none."""
    if subprotocols is None:
        subprotocols = [subprotocol] + ([TICKET_PREFIX + ticket] if ticket else [])
    return connect(
        ws_url(base) + path_suffix,
        origin=base if origin == "" else origin,
        subprotocols=subprotocols or None,  # [] sends no Sec-WebSocket-Protocol header
        compression=None,  # frame sizes on the wire are what the attack sends
        proxy=None,
        open_timeout=10,
    )


async def handshake_status(base: str, **kwargs: Any) -> int:
    """The HTTP status of a handshake the server must refuse."""
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(base, **kwargs):
            pass
    return refused.value.response.status_code


def decode(raw: str | bytes, subprotocol: str) -> dict[str, Any]:
    """A server message, which must come in the frame type of the socket's sub-protocol."""
    if subprotocol == SUBPROTOCOL_MSGPACK:
        assert isinstance(raw, bytes), f"a text frame on {subprotocol}: {raw[:200]!r}"
        return msgspec.msgpack.decode(raw)
    assert isinstance(raw, str), f"a binary frame on {subprotocol}: {raw[:200]!r}"
    return json.loads(raw)


async def send(ws: ClientConnection, message: Any) -> None:
    """`message` encoded for the socket's sub-protocol."""
    await ws.send(encode(message, ws.subprotocol))


async def next_message(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    """The next message, past `lobby` updates (a waiting match sends them unasked)."""
    while True:
        message = decode(await asyncio.wait_for(ws.recv(), timeout), ws.subprotocol)
        if message["type"] != "lobby":
            return message


async def until_closed(ws: ClientConnection, timeout: float = 10) -> tuple[list[dict], int | None]:
    """Every message left on the socket, and the close code the server sent."""
    messages: list[dict] = []

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                messages.append(decode(raw, ws.subprotocol))

    await asyncio.wait_for(read(), timeout)
    return messages, ws.close_code


async def assert_rejected(
    ws: ClientConnection, close_code: int, error_code: str, timeout: float = 10
) -> None:
    """The server's last words: one error frame with `error_code`, then `close_code`."""
    messages, code = await until_closed(ws, timeout)
    errors = [m for m in messages if m["type"] == "error"]
    assert (code, [e["code"] for e in errors]) == (close_code, [error_code]), messages
    assert messages[-1] is errors[-1], "the error frame is the last message before the close"


async def assert_welcomed(ws: ClientConnection, seat: int | None = None) -> dict[str, Any]:
    welcome = await next_message(ws)
    assert welcome["type"] == "welcome", welcome
    if seat is not None:
        assert welcome["seat"] == seat
    return welcome


async def assert_still_open(ws: ClientConnection) -> None:
    """A ping gets its pong: the socket survived whatever was sent before."""
    ping_id = secrets.randbelow(10**6)
    await send(ws, {"type": "ping", "id": ping_id})
    while (message := await next_message(ws))["type"] != "pong":
        assert message["type"] == "frame", message
    assert message["id"] == ping_id


def database(stack: Stack) -> sqlite3.Connection:
    """The live server's SQLite file, to change what no HTTP call lets a player change."""
    return sqlite3.connect(stack.tmp / "db.sqlite3", timeout=20, isolation_level=None)


# Bad messages on an authenticated socket: each gets an error frame with its code.

# Wrong the same way on both sub-protocols; each is encoded as the socket's frame type.
BAD_ON_BOTH: list[tuple[Any, str]] = [
    ({"type": "teleport", "x": 3}, "bad_message"),  # unknown message type
    ({"id": 1}, "bad_message"),  # no type
    ([1, 2], "bad_message"),  # an array, not an object or map
    ({"type": "ping", "id": "one"}, "bad_message"),  # wrong field type
    ({"type": "ping", "id": 1.5}, "bad_message"),  # a float for an int
    ({"type": "ack", "ack": -5}, "bad_message"),  # value out of range
    ({"type": "ping", "id": 2**64 - 1}, "bad_message"),  # far out of range
    ({"type": "ping", "id": 1, "admin": True}, "bad_message"),  # unknown field
    ({"type": "input", "ack": 1}, "bad_message"),  # missing field
    ({"type": "input", "ack": 1, "data": {"dir": "warp"}}, "bad_input"),  # the game's check
    ({"type": "auth", "ticket": "A" * 32}, "already_authenticated"),  # a second auth
    (
        {"type": "input", "ack": 1, "data": {"dir": [[[[[[[[[[[[[[[[["up"]]]]]]]]]]]]]]]]]}},
        "bad_message",
    ),
]
DEEP = 1900  # deeper than Python's recursion limit: was a RecursionError and a dropped socket
PING = {"type": "ping", "id": 1}
# What only one encoding can get wrong: malformed JSON or msgpack, or the other frame type.
BAD_ENCODING: dict[str, list[tuple[str | bytes, str]]] = {
    SUBPROTOCOL_JSON: [
        (
            '{"type": "input", "ack": 1, "data": {"a": ' + "[" * DEEP + "]" * DEEP + "}}",
            "bad_message",
        ),
        ('{"type": "input", "ack": 1, ', "bad_json"),  # cut short
        (json.dumps(PING) + " {", "bad_json"),  # trailing bytes
        ("", "bad_json"),  # empty
        (json.dumps(PING).encode(), "binary_not_supported"),  # JSON in a binary frame
        (msgspec.msgpack.encode(PING), "binary_not_supported"),  # msgpack on the JSON protocol
    ],
    SUBPROTOCOL_MSGPACK: [
        (
            b"\x83\xa4type\xa5input\xa3ack\x01\xa4data\x81\xa1a" + b"\x91" * DEEP + b"\x90",
            "bad_message",
        ),  # nested DEEP arrays
        (msgspec.msgpack.encode({"type": "input", "ack": 1})[:-3], "bad_msgpack"),  # cut short
        (msgspec.msgpack.encode(PING) + b"\x00", "bad_msgpack"),  # trailing bytes
        (b"", "bad_msgpack"),  # empty
        (b"\xc1\x00", "bad_msgpack"),  # 0xc1 is never valid msgpack
        (b"\x81\xa4type\xa4\xff\xfe\xfd\xfc", "bad_msgpack"),  # bad UTF-8 in a str (was 1011)
        (json.dumps(PING), "text_not_supported"),  # a text frame on the binary protocol
    ],
}


def bad_messages(subprotocol: str) -> list[tuple[str | bytes, str]]:
    """(frame, error code) pairs for a socket speaking `subprotocol`."""
    return [(encode(m, subprotocol), code) for m, code in BAD_ON_BOTH] + BAD_ENCODING[subprotocol]


async def play_to_the_end(alice: Player, seat: dict[str, Any], timeout: float) -> None:
    """A connected player's whole match: it starts, a turn is obeyed, the cycle rides into a
    wall, `over` and 1000 come, with every frame and no error on the way."""
    reader = asyncio.create_task(alice.run())
    await alice.wait_until(alice.playing, 30, "the match to start (a bot fills seat 2)")
    heading = PERPENDICULAR[alice.me()["dir"]]
    await alice.send_input({"dir": heading})
    await alice.wait_until(
        lambda: alice.me()["dir"] == heading or alice.over is not None, 5, f"the turn to {heading}"
    )
    assert alice.me()["dir"] == heading
    await asyncio.wait_for(reader, timeout)  # going straight, alice hits a wall within 7 s
    assert alice.welcome is not None and alice.welcome["seat"] == seat["seat"]
    assert alice.errors == []
    assert len(alice.frames) >= 40
    assert alice.over is not None and alice.close_code == 1000, (
        alice.close_code,
        alice.messages[-2:],
    )
