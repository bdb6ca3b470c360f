"""The game socket at consumer level (channels' WebsocketCommunicator, embedded engine)."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from games import services
from games.hub import shutdown_local
from games.protocol import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, TICKET_PREFIX
from games.tickets import ticket_issue
from gameserver.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
UNASKED = ("frame", "lobby")  # what the server sends without being asked


async def next_asked(comm: WebsocketCommunicator, binary: bool = False) -> dict:
    """The next message that answers the client, past frames and lobby updates."""
    while True:
        if binary:
            message = msgspec.msgpack.decode((await comm.receive_output(5))["bytes"])
        else:
            message = await comm.receive_json_from(timeout=5)
        if message["type"] not in UNASKED:
            return message


@pytest.fixture(autouse=True)
async def clean_loop():
    yield
    await shutdown_local()


@database_sync_to_async
def seat_ticket(name: str = "alice", private: bool = False) -> tuple[str, str]:
    user = services.guest_create(name=name)
    match = services.match_create(game="lightcycles", private=private, seats=2, user=user)
    seat = match.participants.get(user=user)
    return match.public_id, ticket_issue(
        match_id=match.public_id, user_id=user.pk, seat=seat.seat, name=name
    )


def communicator(*protocols: str, path: str = "/ws/play/", headers=(ORIGIN,)):
    return WebsocketCommunicator(
        application, path, subprotocols=list(protocols), headers=list(headers)
    )


async def expect_close(comm: WebsocketCommunicator, code: int, error: str) -> None:
    message = json.loads(await comm.receive_from(timeout=5))
    assert message == {"type": "error", "code": error, "message": message["message"]}
    assert (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": code}


async def test_a_ticket_in_the_handshake_gets_welcome_then_keyframe():
    match_id, ticket = await seat_ticket()
    comm = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + ticket)
    connected, subprotocol = await comm.connect()
    assert connected and subprotocol == SUBPROTOCOL_JSON
    welcome = await comm.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome"
    assert welcome["match"]["id"] == match_id and welcome["seat"] == 0
    assert welcome["tick_rate"] == 20
    while (frame := await comm.receive_json_from(timeout=10))["type"] == "lobby":
        pass  # bots fill the free seat after 1 s
    assert frame["type"] == "frame" and frame["key"] is True
    assert frame["state"]["players"][0]["name"] == "alice"
    assert isinstance(frame["sent"], float) and frame["tick"] >= 1
    await comm.disconnect()


async def test_a_ticket_as_the_first_message_is_accepted():
    match_id, ticket = await seat_ticket()
    comm = communicator(SUBPROTOCOL_JSON)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "auth", "ticket": ticket})
    welcome = await comm.receive_json_from(timeout=5)
    assert welcome["type"] == "welcome" and welcome["match"]["id"] == match_id
    await comm.disconnect()


async def test_no_ticket_closes_4401_after_the_auth_deadline(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "AUTH_TIMEOUT": 0.5}
    comm = communicator(SUBPROTOCOL_JSON)
    assert (await comm.connect())[0]
    await expect_close(comm, 4401, "auth_timeout")


async def test_a_message_before_auth_closes_4401():
    comm = communicator(SUBPROTOCOL_JSON)
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "ping", "id": 1})
    await expect_close(comm, 4401, "auth_first")


async def test_an_unknown_ticket_closes_4401():
    comm = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + "x" * 32)
    assert (await comm.connect())[0]
    await expect_close(comm, 4401, "bad_ticket")


async def test_a_used_ticket_is_refused():
    _, ticket = await seat_ticket()
    first = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + ticket)
    assert (await first.connect())[0]
    assert (await first.receive_json_from(timeout=5))["type"] == "welcome"
    replay = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + ticket)
    assert (await replay.connect())[0]
    await expect_close(replay, 4401, "bad_ticket")
    await first.disconnect()


async def test_an_expired_ticket_is_refused(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "TICKET_TTL": 0.2}
    _, ticket = await seat_ticket()
    await asyncio.sleep(0.4)
    comm = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + ticket)
    assert (await comm.connect())[0]
    await expect_close(comm, 4401, "bad_ticket")


async def test_a_ticket_in_the_query_string_is_refused_and_burned():
    _, ticket = await seat_ticket()
    comm = communicator(SUBPROTOCOL_JSON, path=f"/ws/play/?ticket={ticket}")
    assert (await comm.connect())[0]
    await expect_close(comm, 4400, "ticket_in_url")
    retry = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + ticket)
    assert (await retry.connect())[0]
    await expect_close(retry, 4401, "bad_ticket")


async def test_a_foreign_origin_is_refused_in_the_handshake():
    _, ticket = await seat_ticket()
    comm = communicator(
        SUBPROTOCOL_JSON, TICKET_PREFIX + ticket, headers=[(b"origin", b"https://evil.example")]
    )
    assert await comm.connect() == (False, 4403)


async def test_a_missing_origin_is_refused():
    _, ticket = await seat_ticket()
    comm = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + ticket, headers=[])
    assert await comm.connect() == (False, 4403)


async def test_a_handshake_without_our_subprotocol_is_refused():
    _, ticket = await seat_ticket()
    comm = communicator("chat", TICKET_PREFIX + ticket)
    assert await comm.connect() == (False, 4403)


async def test_bad_messages_get_error_frames_and_the_socket_stays_open():
    _, ticket = await seat_ticket()
    comm = communicator(SUBPROTOCOL_JSON, TICKET_PREFIX + ticket)
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from(timeout=5))["type"] == "welcome"
    for bad, code in [
        ("{not json", "bad_json"),
        (json.dumps({"type": "input", "ack": 1}), "bad_message"),
        (json.dumps({"type": "input", "ack": 1, "data": {"dir": "sideways"}}), "bad_input"),
        (json.dumps({"type": "teleport"}), "bad_message"),
    ]:
        await comm.send_to(text_data=bad)
        message = await next_asked(comm)
        assert message["type"] == "error" and message["code"] == code, message
    await comm.send_json_to({"type": "ping", "id": 7})
    message = await next_asked(comm)
    assert message["type"] == "pong" and message["id"] == 7
    await comm.disconnect()


async def test_msgpack_clients_get_binary_frames_and_errors_for_bad_msgpack():
    match_id, ticket = await seat_ticket()
    comm = communicator(SUBPROTOCOL_MSGPACK, SUBPROTOCOL_JSON, TICKET_PREFIX + ticket)
    connected, subprotocol = await comm.connect()
    assert connected and subprotocol == SUBPROTOCOL_MSGPACK  # the client's first choice
    welcome = msgspec.msgpack.decode((await comm.receive_output(timeout=5))["bytes"])
    assert welcome["type"] == "welcome" and welcome["match"]["id"] == match_id
    for bad, code in [
        (b"\xc1", "bad_msgpack"),
        (msgspec.msgpack.encode({"type": "input", "ack": "x", "data": {}}), "bad_message"),
        (msgspec.msgpack.encode([1, 2, 3]), "bad_message"),
    ]:
        await comm.send_to(bytes_data=bad)
        message = await next_asked(comm, binary=True)
        assert message["type"] == "error" and message["code"] == code, message
    await comm.send_to(text_data='{"type": "ping", "id": 1}')
    message = await next_asked(comm, binary=True)
    assert message["code"] == "text_not_supported"
    await comm.disconnect()
