"""Attacks on the game socket over real sockets against a live server, one test per attack.

Each test starts its own embedded stack (one daphne or uvicorn process, no Redis) and asserts
the exact answer docs/PROTOCOL.md promises: a refused handshake (HTTP 403), or an `error` frame
with its code followed by the documented close code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sqlite3
import string
import time
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.stack import Stack
from games.protocol import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, TICKET_PREFIX
from tests.players import Player
from tests.support import Api

pytestmark = pytest.mark.timeout(120)

SERVERS = ["daphne", "uvicorn"]
# Private matches wait this long for bots: a lone player's socket stays open, quiet, authenticated.
NO_BOT_FILL = {"GAMESERVER_PRIVATE_BOT_FILL_SECONDS": "600"}


# Helpers: servers, seats, sockets


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


def open_socket(
    base: str,
    ticket: str | None = None,
    *,
    path_suffix: str = "",
    origin: str | None = "",
    subprotocols: list[str] | None = None,
):
    """A websockets connect() like a browser on `base`'s page; `origin=None` sends none."""
    if subprotocols is None:
        subprotocols = [SUBPROTOCOL_JSON] + ([TICKET_PREFIX + ticket] if ticket else [])
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


def decode(raw: str | bytes) -> dict[str, Any]:
    """A server message: JSON text frames, or msgpack binary frames on gameserver.v1.msgpack."""
    return msgspec.msgpack.decode(raw) if isinstance(raw, bytes) else json.loads(raw)


async def next_message(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return decode(await asyncio.wait_for(ws.recv(), timeout))


async def until_closed(ws: ClientConnection, timeout: float = 10) -> tuple[list[dict], int | None]:
    """Every message left on the socket, and the close code the server sent."""
    messages: list[dict] = []

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                messages.append(decode(raw))

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
    ping = {"type": "ping", "id": ping_id}
    binary = ws.subprotocol == SUBPROTOCOL_MSGPACK
    await ws.send(msgspec.msgpack.encode(ping) if binary else json.dumps(ping))
    while (message := await next_message(ws))["type"] != "pong":
        assert message["type"] == "frame", message
    assert message["id"] == ping_id


def database(stack: Stack) -> sqlite3.Connection:
    """The live server's SQLite file, to change what no HTTP call lets a player change."""
    return sqlite3.connect(stack.tmp / "db.sqlite3", timeout=20, isolation_level=None)


# The handshake: sub-protocol and Origin


@pytest.mark.parametrize("server", SERVERS)
async def test_a_handshake_without_our_subprotocol_is_refused(stack_factory, server):
    """A client (or a cross-protocol attack) that does not speak gameserver.v1.json is refused
    before the socket opens, whether it offers another sub-protocol or none at all."""
    base = serve(stack_factory, server)
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    wrong = ["gameserver.v2.json", TICKET_PREFIX + ticket]
    assert await handshake_status(base, subprotocols=wrong) == 403
    assert await handshake_status(base, subprotocols=[]) == 403
    async with open_socket(base, ticket) as ws:  # the ticket was valid all along
        await assert_welcomed(ws)


@pytest.mark.parametrize("server", SERVERS)
async def test_a_foreign_origin_is_refused_even_with_a_valid_ticket(stack_factory, server):
    """Cross-site WebSocket hijacking: a page on another site opens the socket. The Origin
    allow-list (debug: http://127.0.0.1:* and http://localhost:*) refuses it in the handshake."""
    base = serve(stack_factory, server)
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    port = base.rsplit(":", 1)[1]
    for origin in (
        "http://evil.example",
        f"http://127.0.0.1.evil.example:{port}",
        f"https://127.0.0.1:{port}",  # same host, other scheme
        "null",  # sandboxed iframes and file:// pages
    ):
        assert await handshake_status(base, ticket=ticket, origin=origin) == 403, origin
    async with open_socket(base, ticket) as ws:
        await assert_welcomed(ws)


async def test_a_missing_origin_is_refused_in_production_mode(stack_factory):
    """Production settings (DEBUG off, explicit hosts and origins) over plain HTTP: a client
    that sends no Origin at all (a script, not a browser) is refused; the page's own origin
    is let in, so the production stack itself works."""
    base = serve(
        stack_factory,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="".join(secrets.choice(string.ascii_letters) for _ in range(50)),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        GAMESERVER_ALLOWED_ORIGINS="http://127.0.0.1:*",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
    )
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    assert await handshake_status(base, ticket=ticket, origin=None) == 403
    localhost = base.replace("127.0.0.1", "localhost")  # a host, but not an allowed origin
    assert await handshake_status(base, ticket=ticket, origin=localhost) == 403
    async with open_socket(base, ticket) as ws:
        await assert_welcomed(ws)


# Tickets


async def test_no_ticket_closes_4401_after_the_auth_deadline(stack_factory):
    """A socket that never authenticates is closed when GAMESERVER_AUTH_TIMEOUT runs out,
    so idle unauthenticated sockets cannot pile up."""
    base = serve(stack_factory, GAMESERVER_AUTH_TIMEOUT="1")
    async with open_socket(base) as ws:
        opened = time.monotonic()
        await assert_rejected(ws, 4401, "auth_timeout")
        assert 0.9 < time.monotonic() - opened < 5


async def test_a_message_before_auth_closes_4401(stack_factory):
    """Skipping authentication: any message but `auth` on an unauthenticated socket."""
    base = serve(stack_factory)
    async with open_socket(base) as ws:
        await ws.send(json.dumps({"type": "input", "ack": 0, "data": {"dir": "up"}}))
        await assert_rejected(ws, 4401, "auth_first")


async def test_an_unknown_ticket_closes_4401(stack_factory):
    """Guessed or forged tickets, in the handshake and in an auth message."""
    base = serve(stack_factory)
    async with open_socket(base, unknown_ticket()) as ws:
        await assert_rejected(ws, 4401, "bad_ticket")
    for forged in (unknown_ticket(), "short", "../../etc/passwd" * 4):
        async with open_socket(base) as ws:
            await ws.send(json.dumps({"type": "auth", "ticket": forged}))
            await assert_rejected(ws, 4401, "bad_ticket")


async def test_an_expired_ticket_closes_4401(stack_factory):
    """A ticket read from a log or a shoulder-surfed screen is useless after its TTL."""
    base = serve(stack_factory, GAMESERVER_TICKET_TTL="1")
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    await asyncio.sleep(1.5)
    async with open_socket(base, ticket) as ws:
        await assert_rejected(ws, 4401, "bad_ticket")


async def test_a_replayed_ticket_closes_4401(stack_factory):
    """Replay: a ticket is single use, while its first socket is open and after it closed."""
    base = serve(stack_factory)
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    async with open_socket(base, ticket) as first:
        await assert_welcomed(first)
        async with open_socket(base, ticket) as replay:
            await assert_rejected(replay, 4401, "bad_ticket")
        await assert_still_open(first)
    async with open_socket(base, ticket) as replay:
        await assert_rejected(replay, 4401, "bad_ticket")


async def test_a_ticket_only_opens_its_own_seat_and_only_while_it_holds_it(stack_factory):
    """Using another player's ticket. The socket carries no session (a cookie alone never opens
    a game socket), so a ticket is a bearer token: the server cannot tell who presents it.
    What the code guarantees:

    - the match and seat come from the ticket's server-side claims, never from the client:
      alice's ticket seats its bearer in alice's seat of alice's match, bob's in bob's;
    - a ticket is single use (test_a_replayed_ticket...), so once alice used hers, bob
      presenting it gets 4401 "bad_ticket";
    - at redemption the seat is checked against the database: a ticket whose seat no longer
      belongs to the user it was issued to gets 4403 "not_your_seat". Nothing in the server
      reassigns seats today, so the test changes the seat holder in the database directly.
    """
    stack = stack_factory(**NO_BOT_FILL)
    base = stack.web()
    alice, bob, carol = player(base, "alice"), player(base, "bob"), player(base, "carol")
    created = private_match(alice, seats=3)
    match_id = created["match"]["id"]
    joined = bob.post(f"/api/matches/{match_id}/join")
    assert joined["seat"] != created["seat"]

    async with open_socket(base, created["ticket"]) as ws:
        welcome = await assert_welcomed(ws, seat=created["seat"])
        assert welcome["match"]["id"] == match_id
    async with open_socket(base, joined["ticket"]) as ws:
        await assert_welcomed(ws, seat=joined["seat"])
    async with open_socket(base, created["ticket"]) as ws:  # bob replays alice's used ticket
        await assert_rejected(ws, 4401, "bad_ticket")

    ticket = new_ticket(alice, match_id)
    carol_id = carol.get("/api/session")["player"]["id"]
    with contextlib.closing(database(stack)) as db:
        db.execute(
            "UPDATE games_participant SET user_id = ? WHERE seat = ? AND match_id = "
            "(SELECT id FROM games_match WHERE public_id = ?)",
            (carol_id, created["seat"], match_id),
        )
    async with open_socket(base, ticket) as ws:
        await assert_rejected(ws, 4403, "not_your_seat")


async def test_a_ticket_for_a_match_that_is_over_closes_4404(stack_factory):
    """A ticket issued while the match ran, used after it finished."""
    stack = stack_factory(**NO_BOT_FILL)
    base = stack.web()
    created = private_match(player(base, "alice"))
    with contextlib.closing(database(stack)) as db:
        db.execute(
            "UPDATE games_match SET status = 'finished' WHERE public_id = ?",
            (created["match"]["id"],),
        )
    async with open_socket(base, created["ticket"]) as ws:
        await assert_rejected(ws, 4404, "match_gone")


async def test_a_ticket_in_the_query_string_closes_4400_and_is_burned(stack_factory):
    """URLs end up in proxy and server logs: a ticket in the URL is refused and burned, so
    whoever reads the log cannot use it either."""
    base = serve(stack_factory)
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    async with open_socket(base, path_suffix=f"?ticket={ticket}") as ws:
        await assert_rejected(ws, 4400, "ticket_in_url")
    async with open_socket(base, ticket) as ws:
        await assert_rejected(ws, 4401, "bad_ticket")


# Messages


BAD_MESSAGES: list[tuple[str | bytes, str]] = [
    ('{"type": "input", "ack": 1, ', "bad_json"),  # malformed JSON
    ('{"type": "teleport", "x": 3}', "bad_message"),  # unknown message type
    ('{"type": "ping", "id": "one"}', "bad_message"),  # wrong field type
    ('{"type": "ack", "ack": -5}', "bad_message"),  # value out of range
    ('{"type": "ping", "id": 1, "admin": true}', "bad_message"),  # unknown field
    ('{"type": "input", "ack": 1, "data": {"dir": "warp"}}', "bad_input"),  # the game's check
    (b'{"type": "ping", "id": 1}', "binary_not_supported"),  # binary frame on the JSON protocol
]


async def test_bad_messages_get_error_frames_then_too_many_close_4400(stack_factory):
    """Fuzzing an authenticated socket: each bad message gets an error frame naming what was
    wrong and the socket stays open; the 11th bad message (more than 10) closes it with 4400."""
    base = serve(stack_factory)
    api = player(base, "alice")
    async with open_socket(base, private_match(api)["ticket"]) as ws:
        await assert_welcomed(ws)
        for raw, code in BAD_MESSAGES:
            await ws.send(raw)
            error = await next_message(ws)
            assert (error["type"], error["code"]) == ("error", code), (raw, error)
            await assert_still_open(ws)
        for _ in range(10 - len(BAD_MESSAGES)):
            await ws.send("{")
            assert (await next_message(ws))["code"] == "bad_json"
        await assert_still_open(ws)
        await ws.send("{")  # the 11th
        await assert_rejected(ws, 4400, "bad_json")


# How each server enforces the 4096-byte frame limit bench/stack.py gives it, seen by a client.
FRAME_LIMIT_CLOSE = {
    "daphne": 1006,  # autobahn fails the connection "by drop": no close frame, a TCP abort
    "uvicorn": 1009,  # websockets-sansio sends a close frame "message too big"
}


BAD_MSGPACK_MESSAGES: list[tuple[str | bytes, str]] = [
    ('{"type": "ping", "id": 1}', "text_not_supported"),  # a text frame on the binary protocol
    (b"\xc1\x00", "bad_msgpack"),  # 0xc1 is never valid msgpack
    (msgspec.msgpack.encode([1, 2]), "bad_message"),  # not a map
    (msgspec.msgpack.encode({"type": "ping", "id": "one"}), "bad_message"),  # wrong field type
    (msgspec.msgpack.encode({"type": "ping", "id": 1, "admin": True}), "bad_message"),
]


async def test_bad_frames_on_the_msgpack_subprotocol_get_error_frames(stack_factory):
    """The same fuzzing on gameserver.v1.msgpack: error frames (msgpack-encoded), socket open."""
    base = serve(stack_factory)
    ticket = private_match(player(base, "alice"))["ticket"]
    async with open_socket(base, subprotocols=[SUBPROTOCOL_MSGPACK, TICKET_PREFIX + ticket]) as ws:
        assert ws.subprotocol == SUBPROTOCOL_MSGPACK
        await assert_welcomed(ws)
        for raw, code in BAD_MSGPACK_MESSAGES:
            await ws.send(raw)
            error = await next_message(ws)
            assert (error["type"], error["code"]) == ("error", code), (raw, error)
        await assert_still_open(ws)


@pytest.mark.parametrize("server", SERVERS)
async def test_an_oversize_message_closes_the_socket(stack_factory, server):
    """5000 bytes of valid-looking JSON, before authenticating (the cheapest attack: no
    account needed). The web server's frame limit (daphne --websocket-max-message-size,
    uvicorn --ws-max-size, both 4096) ends the connection before the app sees the message:
    daphne drops the TCP connection (the client sees 1006), uvicorn closes with 1009. Were
    that limit gone, the app's own check would answer 4400 "too_large"
    (test_a_message_over_the_apps_limit_closes_4400). The server itself carries on."""
    base = serve(stack_factory, server)
    message = json.dumps({"type": "auth", "ticket": "A" * 4970})
    assert len(message) == 5000
    async with open_socket(base) as ws:
        await ws.send(message)
        messages, code = await until_closed(ws)
    if code == 4400:
        assert [m["code"] for m in messages] == ["too_large"]
    else:
        assert (code, messages) == (FRAME_LIMIT_CLOSE[server], [])
    async with open_socket(base, private_match(player(base, "alice"))["ticket"]) as ws:
        await assert_welcomed(ws)


async def test_a_message_over_the_apps_limit_closes_4400(stack_factory):
    """The app's own size check, reached with GAMESERVER_MAX_MESSAGE_BYTES below the server's
    frame limit: an error frame "too_large", then 4400."""
    base = serve(stack_factory, GAMESERVER_MAX_MESSAGE_BYTES="1024")
    async with open_socket(base) as ws:
        await ws.send(json.dumps({"type": "auth", "ticket": "A" * 2000}))
        await assert_rejected(ws, 4400, "too_large")


async def test_the_apps_size_limit_counts_bytes_not_characters(stack_factory):
    """Multi-byte characters: 900 two-byte characters are 1800 bytes on the wire, over a
    1024-byte limit, though fewer than 1024 characters."""
    base = serve(stack_factory, GAMESERVER_MAX_MESSAGE_BYTES="1024")
    async with open_socket(base) as ws:
        message = json.dumps({"type": "auth", "ticket": "é" * 900}, ensure_ascii=False)
        assert len(message) < 1024 < len(message.encode())
        await ws.send(message)
        await assert_rejected(ws, 4400, "too_large")


# Abuse limits (docs/PROTOCOL.md: close 4429)


def frames_between(player: Player, start: float, end: float) -> int:
    return sum(1 for received, _ in player.frames if start <= received < end)


@pytest.mark.parametrize("server", SERVERS)
async def test_a_flood_is_rate_limited_then_closed_4429_while_others_play_on(stack_factory, server):
    """A client sends 500 inputs as fast as it can. Spec: a token bucket per connection (burst
    40, refill 20/s) drops the excess with a "rate_limited" error frame (at most one a
    second), and more than 100 dropped within 5 s close the socket with 4429. Meanwhile the
    well-behaved players of the same match keep getting every frame at the tick rate (20/s):
    while the server works through the flood, and after the flooder is gone. (Five of them:
    the hub writes a match's frames to its sockets in set order, and a socket that broke the
    fan-out would starve only those after it.)"""
    base = stack_factory().web(server=server)  # bots fill private matches after 1 s
    alice = player(base, "alice")
    created = private_match(alice, seats=8)  # two bots keep the match going past any crash
    match_id = created["match"]["id"]
    joined = [player(base, f"p{i}").post(f"/api/matches/{match_id}/join") for i in range(5)]
    flooder = Player(ws_url(base), created, base)
    bystanders = [Player(ws_url(base), seat, base) for seat in joined]
    for p in (flooder, *bystanders):
        await p.connect()
    readers = [asyncio.create_task(p.run()) for p in (flooder, *bystanders)]

    async def acknowledge(p: Player) -> None:  # what a well-behaved idle client does
        while True:
            await p.ws.send(json.dumps({"type": "ack", "ack": p.model["tick"]}))
            await asyncio.sleep(0.25)

    for p in (flooder, *bystanders):
        await p.wait_until(lambda p=p: p.model is not None, 30, "the first keyframe")
    acks = [asyncio.create_task(acknowledge(p)) for p in bystanders]
    # Valid, and harmless to the match: the heading the cycle already has.
    same_way = {"type": "input", "ack": flooder.model["tick"], "data": {"dir": flooder.me()["dir"]}}
    flood_started = time.monotonic()
    with contextlib.suppress(ConnectionClosed):
        for _ in range(500):
            await flooder.ws.send(json.dumps(same_way))
    flood_sent = time.monotonic()
    await asyncio.wait_for(readers[0], 10)
    flooder_closed = time.monotonic()
    await asyncio.sleep(max(flood_sent + 2, flooder_closed + 3) - time.monotonic())
    for task in acks:
        task.cancel()
    for p in bystanders:
        await p.ws.close()
    await asyncio.gather(*readers)

    assert flooder.close_code == 4429, (flooder.close_code, flooder.errors[-3:])
    codes = [e["code"] for e in flooder.errors]
    assert codes and set(codes) == {"rate_limited"}, codes
    flood_seconds = flooder_closed - flood_started
    assert len(codes) <= flood_seconds + 2, f"{len(codes)} error frames in {flood_seconds:.1f} s"
    for p in bystanders:
        assert p.errors == []
        during = frames_between(p, flood_sent, flood_sent + 2)
        after = frames_between(p, flooder_closed + 1, flooder_closed + 3)
        assert during >= 32 and after >= 32, (p.seat, during, after, "frames in 2 s")
        ticks = [frame["tick"] for _, frame in p.frames]
        missed = sorted(set(range(ticks[0], ticks[-1])) - set(ticks))
        assert missed == [], f"seat {p.seat} missed ticks {missed}"


async def test_a_fourth_socket_from_one_address_closes_4429(stack_factory):
    """Socket exhaustion from one address: with GAMESERVER_MAX_SOCKETS_PER_IP=3 the fourth
    concurrent socket from 127.0.0.1 gets "too_many_sockets" and 4429; the first three are
    untouched, and a closed socket frees its place."""
    base = serve(stack_factory, GAMESERVER_MAX_SOCKETS_PER_IP="3")
    api = player(base, "alice")
    seats = [private_match(api) for _ in range(4)]
    async with contextlib.AsyncExitStack() as sockets:
        first = [
            await sockets.enter_async_context(open_socket(base, s["ticket"])) for s in seats[:3]
        ]
        for ws in first:
            await assert_welcomed(ws)
        async with open_socket(base, seats[3]["ticket"]) as fourth:
            await assert_rejected(fourth, 4429, "too_many_sockets")
        for ws in first:
            await assert_still_open(ws)
        await first[0].close()
        await asyncio.sleep(0.5)  # the server's disconnect handler releases the place
        match_id = seats[3]["match"]["id"]
        async with open_socket(base, new_ticket(api, match_id)) as again:
            await assert_welcomed(again)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("abuse", ["flood", "garbage"])
async def test_a_socket_closed_for_abuse_frees_its_place(stack_factory, server, abuse):
    """The per-address count must survive the abuse it answers: a socket closed with 4429 (a
    flood of pings) or 4400 (a burst of garbage) gives its place back, or every such close
    would shrink the address's cap for good (behind a proxy: everyone's)."""
    base = serve(stack_factory, server, GAMESERVER_MAX_SOCKETS_PER_IP="2")
    api = player(base, "alice")
    seats = [private_match(api) for _ in range(3)]
    message, close_code = {
        "flood": ('{"type": "ping", "id": 1}', 4429),
        "garbage": ("{", 4400),
    }[abuse]
    async with open_socket(base, seats[0]["ticket"]) as ws:
        await assert_welcomed(ws)
        with contextlib.suppress(ConnectionClosed):
            for _ in range(500):
                await ws.send(message)
        await until_closed(ws)
        assert ws.close_code == close_code
    await asyncio.sleep(1)
    async with (
        open_socket(base, seats[1]["ticket"]) as one,
        open_socket(base, seats[2]["ticket"]) as two,
    ):
        await assert_welcomed(one)
        await assert_welcomed(two)
