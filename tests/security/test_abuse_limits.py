"""The abuse limits of docs/PROTOCOL.md over real sockets against a live server: message size,
bad messages, message rate (a flood) and sockets per address. Each attack runs over both
sub-protocols (`@BOTH`), and each limit must hold without hurting anyone who keeps to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed

from games.protocol import SUBPROTOCOL_MSGPACK
from tests.players import Player
from tests.security.sockets import (
    BOTH,
    SERVERS,
    assert_rejected,
    assert_still_open,
    assert_welcomed,
    bad_messages,
    encode,
    new_ticket,
    next_message,
    open_socket,
    player,
    private_match,
    serve,
    until_closed,
    ws_url,
)

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager"),
]

# How each server enforces the 4096-byte frame limit games/loadtest/stack.py gives it, as a
# client sees it.
FRAME_LIMIT_CLOSE = {
    "daphne": 1006,  # autobahn fails the connection "by drop": no close frame, a TCP abort
    "uvicorn": 1009,  # websockets-sansio sends a close frame "message too big"
}


def auth_of_size(size: int, subprotocol: str) -> str | bytes:
    """An auth message padded to exactly `size` bytes in the sub-protocol's encoding."""
    overhead = len(encode({"type": "auth", "ticket": "A" * size}, subprotocol)) - size
    message = encode({"type": "auth", "ticket": "A" * (size - overhead)}, subprotocol)
    assert len(message) == size
    return message


# Message size


@pytest.mark.parametrize("server", SERVERS)
@BOTH
async def test_an_oversize_message_closes_the_socket(stack_factory, server, subprotocol):
    """5000 bytes of a valid-looking auth message, before authenticating (the cheapest attack:
    no account needed). The web server's frame limit (daphne --websocket-max-message-size,
    uvicorn --ws-max-size, both 4096) ends the connection before the app sees the message:
    daphne drops the TCP connection (the client sees 1006), uvicorn closes with 1009. (The
    app's own check behind it: test_a_message_over_the_apps_limit_closes_4400.) The server
    itself carries on."""
    base = serve(stack_factory, server)
    async with open_socket(base, subprotocol=subprotocol) as ws:
        await ws.send(auth_of_size(5000, subprotocol))
        messages, code = await until_closed(ws)
    assert (code, messages) == (FRAME_LIMIT_CLOSE[server], [])
    ticket = private_match(player(base, "alice"))["ticket"]
    async with open_socket(base, ticket, subprotocol=subprotocol) as ws:
        await assert_welcomed(ws)


@BOTH
async def test_a_message_over_the_apps_limit_closes_4400(stack_factory, subprotocol):
    """The app's own size check, reached with GAMESERVER_MAX_MESSAGE_BYTES below the server's
    frame limit: an error frame "too_large", then 4400. A message of exactly the limit gets
    past the size check (to the schema's, which finds its ticket too long)."""
    base = serve(stack_factory, GAMESERVER_MAX_MESSAGE_BYTES="1024")
    async with open_socket(base, subprotocol=subprotocol) as ws:
        await ws.send(auth_of_size(1024, subprotocol))
        assert (await next_message(ws))["code"] == "bad_message"
        await ws.send(auth_of_size(1025, subprotocol))
        await assert_rejected(ws, 4400, "too_large")


async def test_the_apps_size_limit_counts_bytes_not_characters(stack_factory):
    """Multi-byte characters: 900 two-byte characters are 1800 bytes on the wire, over a
    1024-byte limit, though fewer than 1024 characters. (JSON only: a binary frame has no
    characters to miscount, its length is its size.)"""
    base = serve(stack_factory, GAMESERVER_MAX_MESSAGE_BYTES="1024")
    async with open_socket(base) as ws:
        message = json.dumps({"type": "auth", "ticket": "é" * 900}, ensure_ascii=False)
        assert len(message) < 1024 < len(message.encode())
        await ws.send(message)
        await assert_rejected(ws, 4400, "too_large")


# Bad messages


@BOTH
async def test_more_than_ten_bad_messages_close_4400(stack_factory, subprotocol):
    """GAMESERVER_MAX_BAD_MESSAGES (default 10): a client that keeps sending garbage is broken
    or hostile. Every kind of bad message counts, good ones in between do not excuse them:
    ten get their error frames, the eleventh closes the socket with 4400."""
    base = serve(stack_factory)
    ticket = private_match(player(base, "alice"))["ticket"]
    kinds = bad_messages(subprotocol)
    async with open_socket(base, ticket, subprotocol=subprotocol) as ws:
        await assert_welcomed(ws)
        for n in range(10):
            raw, code = kinds[n * 7 % len(kinds)]  # a spread of kinds, both tables
            await ws.send(raw)
            assert (await next_message(ws))["code"] == code, raw
            await assert_still_open(ws)
        raw, code = kinds[-1]
        await ws.send(raw)  # the eleventh
        await assert_rejected(ws, 4400, code)


# Message rate (docs/PROTOCOL.md: close 4429)


def frames_between(player: Player, start: float, end: float) -> int:
    return sum(1 for received, _ in player.frames if start <= received < end)


@pytest.mark.parametrize("server", SERVERS)
@BOTH
async def test_a_flood_is_rate_limited_then_closed_4429_while_others_play_on(
    stack_factory, server, subprotocol
):
    """A client sends 500 inputs as fast as it can. Spec: a token bucket per connection (burst
    40, refill 20/s) drops the excess with a "rate_limited" error frame (at most one a
    second), and more than 100 dropped within 5 s close the socket with 4429. Meanwhile the
    well-behaved players of the same match (on both sub-protocols, acking as clients do) keep
    getting every frame at the tick rate (20/s): while the server works through the flood,
    and after the flooder is gone. (Five of them: the hub writes a match's frames to its
    sockets in set order, and a socket that broke the fan-out would starve only those after
    it.)"""
    base = stack_factory().web(server=server)  # bots fill private matches after 1 s
    alice = player(base, "alice")
    created = private_match(alice, seats=8)  # two bots keep the match going past any crash
    code = {"code": created["match"]["code"]}
    joined = [player(base, f"p{i}").post("/api/join-by-code", code) for i in range(5)]
    flooder = Player(ws_url(base), created, base, binary=subprotocol == SUBPROTOCOL_MSGPACK)
    bystanders = [Player(ws_url(base), seat, base, binary=i % 2 == 1) for i, seat in
                  enumerate(joined)]  # fmt: skip
    for p in (flooder, *bystanders):
        await p.connect()
    readers = [asyncio.create_task(p.run()) for p in (flooder, *bystanders)]
    for p in (flooder, *bystanders):
        await p.wait_until(lambda p=p: p.model is not None, 30, "the first keyframe")
    # Valid, and harmless to the match: the heading the cycle already has.
    same_way = {"type": "input", "ack": flooder.model["tick"], "data": {"dir": flooder.me()["dir"]}}
    raw = encode(same_way, subprotocol)
    flood_started = time.monotonic()
    with contextlib.suppress(ConnectionClosed):
        for _ in range(500):
            await flooder.ws.send(raw)
    flood_sent = time.monotonic()
    await asyncio.wait_for(readers[0], 10)
    flooder_closed = time.monotonic()
    await asyncio.sleep(max(flood_sent + 2, flooder_closed + 3) - time.monotonic())
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


# Sockets per address (docs/PROTOCOL.md: close 4429)


@BOTH
async def test_a_fourth_socket_from_one_address_closes_4429(stack_factory, subprotocol):
    """Socket exhaustion from one address: with GAMESERVER_MAX_SOCKETS_PER_IP=3 the fourth
    concurrent socket from 127.0.0.1 gets "too_many_sockets" and 4429; the first three are
    untouched, and a closed socket frees its place."""
    base = serve(stack_factory, GAMESERVER_MAX_SOCKETS_PER_IP="3",
                 GAMESERVER_MAX_OPEN_MATCHES_PER_USER="4")  # fmt: skip
    api = player(base, "alice")
    seats = [private_match(api) for _ in range(4)]
    async with contextlib.AsyncExitStack() as sockets:
        first = [
            await sockets.enter_async_context(
                open_socket(base, s["ticket"], subprotocol=subprotocol)
            )
            for s in seats[:3]
        ]
        for ws in first:
            await assert_welcomed(ws)
        async with open_socket(base, seats[3]["ticket"], subprotocol=subprotocol) as fourth:
            await assert_rejected(fourth, 4429, "too_many_sockets")
        for ws in first:
            await assert_still_open(ws)
        await first[0].close()
        await asyncio.sleep(0.5)  # the server's disconnect handler releases the place
        ticket = new_ticket(api, seats[3]["match"]["id"])
        async with open_socket(base, ticket, subprotocol=subprotocol) as again:
            await assert_welcomed(again)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("abuse", ["flood", "garbage"])
@BOTH
async def test_a_socket_closed_for_abuse_frees_its_place(stack_factory, server, abuse, subprotocol):
    """The per-address count must survive the abuse it answers: a socket closed with 4429 (a
    flood of pings) or 4400 (a burst of garbage) gives its place back, or every such close
    would shrink the address's cap for good (behind a proxy: everyone's)."""
    base = serve(stack_factory, server, GAMESERVER_MAX_SOCKETS_PER_IP="2",
                 GAMESERVER_MAX_OPEN_MATCHES_PER_USER="3")  # fmt: skip
    api = player(base, "alice")
    seats = [private_match(api) for _ in range(3)]
    garbage = bad_messages(subprotocol)[-1][0]  # the other frame type
    message, close_code = {
        "flood": (encode({"type": "ping", "id": 1}, subprotocol), 4429),
        "garbage": (garbage, 4400),
    }[abuse]
    async with open_socket(base, seats[0]["ticket"], subprotocol=subprotocol) as ws:
        await assert_welcomed(ws)
        with contextlib.suppress(ConnectionClosed):
            for _ in range(500):
                await ws.send(message)
        await until_closed(ws)
        assert ws.close_code == close_code
    await asyncio.sleep(1)
    async with (
        open_socket(base, seats[1]["ticket"], subprotocol=subprotocol) as one,
        open_socket(base, seats[2]["ticket"], subprotocol=subprotocol) as two,
    ):
        await assert_welcomed(one)
        await assert_welcomed(two)
