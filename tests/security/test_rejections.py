"""Attacks on the game socket over real sockets against a live server, one test per attack.

Each test starts its own embedded stack (one daphne or uvicorn process, no Redis) and asserts
the exact answer docs/PROTOCOL.md promises: a refused handshake (HTTP 403), or an `error` frame
with its code followed by the documented close code. What happens after the socket is open runs
over both sub-protocols (`@BOTH`): the attack's messages and the server's error frames are JSON
text frames on one, msgpack binary frames on the other. The limits on size, rate, sockets and
bad messages are in test_abuse_limits.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import string
import time

import pytest

from games.protocol import SUBPROTOCOL_JSON as JSON
from games.protocol import TICKET_PREFIX
from tests.security.garbage import deeply_nested
from tests.security.sockets import (
    BOTH,
    NO_BOT_FILL,
    SERVERS,
    assert_rejected,
    assert_still_open,
    assert_welcomed,
    bad_messages,
    database,
    handshake_status,
    new_ticket,
    next_message,
    open_socket,
    player,
    private_match,
    send,
    serve,
    unknown_ticket,
)

pytestmark = pytest.mark.timeout(120)


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


@BOTH
async def test_no_ticket_closes_4401_after_the_auth_deadline(stack_factory, subprotocol):
    """A socket that never authenticates is closed when GAMESERVER_AUTH_TIMEOUT runs out,
    so idle unauthenticated sockets cannot pile up."""
    base = serve(stack_factory, GAMESERVER_AUTH_TIMEOUT="1")
    async with open_socket(base, subprotocol=subprotocol) as ws:
        opened = time.monotonic()
        await assert_rejected(ws, 4401, "auth_timeout")
        assert 0.9 < time.monotonic() - opened < 5


@BOTH
async def test_a_message_before_auth_closes_4401(stack_factory, subprotocol):
    """Skipping authentication: any message but `auth` on an unauthenticated socket."""
    base = serve(stack_factory)
    async with open_socket(base, subprotocol=subprotocol) as ws:
        await send(ws, {"type": "input", "ack": 0, "data": {"dir": "up"}})
        await assert_rejected(ws, 4401, "auth_first")


@BOTH
async def test_an_unknown_ticket_closes_4401(stack_factory, subprotocol):
    """Guessed or forged tickets, in the handshake and in an auth message."""
    base = serve(stack_factory)
    async with open_socket(base, unknown_ticket(), subprotocol=subprotocol) as ws:
        await assert_rejected(ws, 4401, "bad_ticket")
    for forged in (unknown_ticket(), "short", "../../etc/passwd" * 4):
        async with open_socket(base, subprotocol=subprotocol) as ws:
            await send(ws, {"type": "auth", "ticket": forged})
            await assert_rejected(ws, 4401, "bad_ticket")


@BOTH
async def test_an_expired_ticket_closes_4401(stack_factory, subprotocol):
    """A ticket read from a log or a shoulder-surfed screen is useless after its TTL."""
    base = serve(stack_factory, GAMESERVER_TICKET_TTL="1")
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    await asyncio.sleep(1.5)
    async with open_socket(base, ticket, subprotocol=subprotocol) as ws:
        await assert_rejected(ws, 4401, "bad_ticket")


@BOTH
async def test_a_replayed_ticket_closes_4401(stack_factory, subprotocol):
    """Replay: a ticket is single use, while its first socket is open and after it closed."""
    base = serve(stack_factory)
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    async with open_socket(base, ticket, subprotocol=subprotocol) as first:
        await assert_welcomed(first)
        async with open_socket(base, ticket, subprotocol=subprotocol) as replay:
            await assert_rejected(replay, 4401, "bad_ticket")
        await assert_still_open(first)
    async with open_socket(base, ticket, subprotocol=subprotocol) as replay:
        await assert_rejected(replay, 4401, "bad_ticket")


@BOTH
async def test_a_ticket_only_opens_its_own_seat_and_only_while_it_holds_it(
    stack_factory, subprotocol
):
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
    joined = bob.post("/api/join-by-code", {"code": created["match"]["code"]})
    assert joined["seat"] != created["seat"]

    async with open_socket(base, created["ticket"], subprotocol=subprotocol) as ws:
        welcome = await assert_welcomed(ws, seat=created["seat"])
        assert welcome["match"]["id"] == match_id
    async with open_socket(base, joined["ticket"], subprotocol=subprotocol) as ws:
        await assert_welcomed(ws, seat=joined["seat"])
    bob_replays_alices_used_ticket = open_socket(base, created["ticket"], subprotocol=subprotocol)
    async with bob_replays_alices_used_ticket as ws:
        await assert_rejected(ws, 4401, "bad_ticket")

    ticket = new_ticket(alice, match_id)
    carol_id = carol.get("/api/session")["player"]["id"]
    with contextlib.closing(database(stack)) as db:
        db.execute(
            "UPDATE games_participant SET user_id = ? WHERE seat = ? AND match_id = "
            "(SELECT id FROM games_match WHERE public_id = ?)",
            (carol_id, created["seat"], match_id),
        )
    async with open_socket(base, ticket, subprotocol=subprotocol) as ws:
        await assert_rejected(ws, 4403, "not_your_seat")


@BOTH
async def test_a_ticket_for_a_match_that_is_over_closes_4404(stack_factory, subprotocol):
    """A ticket issued while the match ran, used after it finished."""
    stack = stack_factory(**NO_BOT_FILL)
    base = stack.web()
    created = private_match(player(base, "alice"))
    with contextlib.closing(database(stack)) as db:
        db.execute(
            "UPDATE games_match SET status = 'finished' WHERE public_id = ?",
            (created["match"]["id"],),
        )
    async with open_socket(base, created["ticket"], subprotocol=subprotocol) as ws:
        await assert_rejected(ws, 4404, "match_gone")


@BOTH
async def test_a_ticket_in_the_query_string_closes_4400_and_is_burned(stack_factory, subprotocol):
    """URLs end up in proxy and server logs: a ticket in the URL is refused and burned, so
    whoever reads the log cannot use it either."""
    base = serve(stack_factory)
    api = player(base, "alice")
    ticket = private_match(api)["ticket"]
    async with open_socket(base, path_suffix=f"?ticket={ticket}", subprotocol=subprotocol) as ws:
        await assert_rejected(ws, 4400, "ticket_in_url")
    async with open_socket(base, ticket, subprotocol=subprotocol) as ws:
        await assert_rejected(ws, 4401, "bad_ticket")


# Messages


@BOTH
async def test_each_bad_message_gets_an_error_frame_and_the_socket_stays_open(
    stack_factory, subprotocol
):
    """Fuzzing an authenticated socket by hand: malformed frames, the other frame type, unknown
    types and fields, wrong types, values out of range, input the game refuses, a second auth.
    Each gets an error frame (in the socket's encoding) naming what was wrong, and the socket
    stays open. (How many it takes to close it: test_abuse_limits.py.)"""
    base = serve(stack_factory, GAMESERVER_MAX_BAD_MESSAGES="100")
    ticket = private_match(player(base, "alice"))["ticket"]
    async with open_socket(base, ticket, subprotocol=subprotocol) as ws:
        assert ws.subprotocol == subprotocol
        await assert_welcomed(ws)
        for raw, code in bad_messages(subprotocol):
            await ws.send(raw)
            error = await next_message(ws)
            assert (error["type"], error["code"]) == ("error", code), (raw, error)
            assert error["message"], "a message a person can act on"
            await assert_still_open(ws)


@BOTH
async def test_a_deeply_nested_message_before_auth_gets_an_error_frame(stack_factory, subprotocol):
    """1,900 levels of arrays, before any ticket: it once raised RecursionError in the decoder
    and the socket dropped with 1006. Now an error frame, and the socket can still log in."""
    base = serve(stack_factory)
    ticket = private_match(player(base, "alice"))["ticket"]
    deep = [frame for frame in deeply_nested() if isinstance(frame, bytes) == (subprotocol != JSON)]
    async with open_socket(base, subprotocol=subprotocol) as ws:
        for frame in deep:
            await ws.send(frame)
            error = await next_message(ws)
            assert (error["type"], error["code"]) == ("error", "bad_message"), (frame[:60], error)
        await send(ws, {"type": "auth", "ticket": ticket})
        await assert_welcomed(ws)
