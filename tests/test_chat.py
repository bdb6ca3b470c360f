"""Chat and the live lobby at consumer level (channels' WebsocketCommunicator, embedded engine,
in-memory channel layer): lines reach everyone in the room in one order, refusals are error
frames that leave the socket open, staff mute and delete, the lobby socket's lists move."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from games import services, staff
from games.chat import MAX_CHARS
from games.hub import shutdown_local
from games.models import ChatMessage, Match
from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX
from games.tickets import ticket_issue
from gameserver.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(autouse=True)
async def clean_loop():
    yield
    await shutdown_local()


async def until(comm: WebsocketCommunicator, kind: str, timeout: float = 5) -> dict:
    """The next message of this type, past frames, lobby updates and the others."""
    deadline = time.monotonic() + timeout
    while True:
        message = await comm.receive_json_from(timeout=max(0.1, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def error(comm: WebsocketCommunicator) -> dict:
    return await until(comm, "error")


@database_sync_to_async
def seated_match(names: list[str], *, spectator_chat: bool = True) -> tuple[str, list[str], int]:
    """A match with these players seated (the first made it): its id, their tickets, and
    the first player's user id."""
    users = [services.guest_create(name=name) for name in names]
    match = services.match_create(game="lightcycles", private=False, seats=len(names) + 1,
                                  user=users[0], spectator_chat=spectator_chat)  # fmt: skip
    for user in users[1:]:
        services.match_join(match_id=match.public_id, user=user)
    tickets = []
    for user, name in zip(users, names, strict=True):
        seat = match.participants.get(user=user).seat
        tickets.append(ticket_issue(match_id=match.public_id, user_id=user.pk, seat=seat,
                                    name=name))  # fmt: skip
    return match.public_id, tickets, users[0].pk


@database_sync_to_async
def spectator_ticket(match_id: str, name: str) -> str:
    user = services.guest_create(name=name)
    return ticket_issue(match_id=match_id, user_id=user.pk, seat=-1, name=name, spectator=True)


async def open_socket(ticket: str) -> WebsocketCommunicator:
    protocols = [SUBPROTOCOL_JSON, TICKET_PREFIX + ticket]
    comm = WebsocketCommunicator(application, "/ws/play/", headers=[ORIGIN], subprotocols=protocols)
    assert (await comm.connect())[0]
    assert (await until(comm, "welcome"))["type"] == "welcome"
    return comm


@database_sync_to_async
def session_cookie(name: str) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(services.guest_create(name=name))
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def lobby_socket(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws/lobby/", headers=[ORIGIN, *headers],
                                 subprotocols=[SUBPROTOCOL_JSON])  # fmt: skip
    assert (await comm.connect())[0]
    return comm


async def test_two_players_and_a_spectator_see_every_line_in_one_order():
    match_id, (alice, bob), _ = await seated_match(["alice", "bob"])
    players = [await open_socket(alice), await open_socket(bob)]
    watcher = await open_socket(await spectator_ticket(match_id, "carol"))
    everyone = [*players, watcher]
    said = [(players[0], "hi bob"), (players[1], "hi alice"), (watcher, "go go"),
            (players[0], "<b>bold</b> & <script>x</script>")]  # fmt: skip
    for comm, text in said:
        await comm.send_json_to({"type": "chat", "text": text})
    seen = [[await until(comm, "chat") for _ in said] for comm in everyone]
    assert seen[0] == seen[1] == seen[2]  # the same lines, in the same order, for all three
    lines = seen[0]
    assert sorted(line["text"] for line in lines) == sorted(text for _, text in said)
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)
    by_text = {line["text"]: line for line in lines}
    assert by_text["hi bob"]["name"] == "alice" and by_text["hi bob"]["seat"] == 0
    assert by_text["hi alice"]["name"] == "bob" and by_text["hi alice"]["seat"] == 1
    assert by_text["go go"] == {**by_text["go go"], "name": "carol", "seat": None,
                                "spectator": True, "room": "match"}  # fmt: skip
    # Markup travels as the text it is, unescaped and unstripped; the clients show it as text.
    assert "<b>bold</b> & <script>x</script>" in by_text
    for comm in everyone:
        await comm.disconnect()


async def test_a_long_empty_or_flooding_line_is_refused_and_the_socket_stays_open(settings):
    # Every line tried counts against the allowance, refused or not: five, then refusals.
    settings.GAMESERVER = {**settings.GAMESERVER, "CHAT_BURST": 5, "CHAT_RATE": 0.2}
    match_id, (alice,), _ = await seated_match(["alice"])
    comm = await open_socket(alice)
    await comm.send_json_to({"type": "chat", "text": "x" * (MAX_CHARS + 1)})
    assert (await error(comm))["code"] == "chat_too_long"
    await comm.send_json_to({"type": "chat", "text": " \n\t "})
    assert (await error(comm))["code"] == "chat_empty"
    await comm.send_json_to({"type": "chat", "text": "a\nb\u202ec" + "y" * (MAX_CHARS - 5)})
    line = await until(comm, "chat")
    assert line["text"] == "a b c" + "y" * (MAX_CHARS - 5) and len(line["text"]) == MAX_CHARS
    for n in range(3):
        await comm.send_json_to({"type": "chat", "text": f"flood {n}"})
    refused = await error(comm)
    assert refused["code"] == "chat_rate_limited"
    await comm.send_json_to({"type": "ping", "id": 7})
    assert (await until(comm, "pong"))["id"] == 7  # still open, still playing
    stored = await database_sync_to_async(
        lambda: list(ChatMessage.objects.filter(match__public_id=match_id).values_list("text"))
    )()
    assert len(stored) == 3  # the long line, the empty one and the flood's third: never stored
    await comm.disconnect()


async def test_a_muted_user_is_refused_until_unmuted():
    match_id, (alice, bob), alice_id = await seated_match(["alice", "bob"])
    talker, listener = await open_socket(alice), await open_socket(bob)
    User = get_user_model()
    ops = await database_sync_to_async(User.objects.create_superuser)("ops", None, "pw-long-9x")
    target = await database_sync_to_async(User.objects.get)(pk=alice_id)
    await database_sync_to_async(staff.mute)(ops, target, "spam")
    await talker.send_json_to({"type": "chat", "text": "buy gold"})
    assert (await error(talker))["code"] == "muted"
    await database_sync_to_async(staff.unmute)(ops, target)
    await talker.send_json_to({"type": "chat", "text": "sorry"})
    assert (await until(listener, "chat"))["text"] == "sorry"  # "buy gold" never reached bob
    for comm in (talker, listener):
        await comm.disconnect()


async def test_a_match_without_spectator_chat_keeps_its_lines_from_spectators():
    match_id, (alice,), _ = await seated_match(["alice"], spectator_chat=False)
    player = await open_socket(alice)
    watcher = await open_socket(await spectator_ticket(match_id, "eve"))
    await watcher.send_json_to({"type": "chat", "text": "psst"})
    assert (await error(watcher))["code"] == "chat_closed"
    await player.send_json_to({"type": "chat", "text": "for players"})
    assert (await until(player, "chat"))["text"] == "for players"
    await watcher.send_json_to({"type": "ping", "id": 1})
    while (message := await watcher.receive_json_from(timeout=5))["type"] != "pong":
        assert message["type"] != "chat"  # the player's line is not shown to spectators
    for comm in (player, watcher):
        await comm.disconnect()


async def test_the_lobby_socket_pushes_lists_history_chat_and_deletions(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "CHAT_HISTORY": 2}
    reader = await lobby_socket()  # no session: may read, may not chat
    site = await until(reader, "site")
    assert site["open"] == [] and site["live"] == [] and site["online"] >= 0
    assert (await until(reader, "chat_history"))["messages"] == []
    await reader.send_json_to({"type": "chat", "text": "hello?"})
    assert (await error(reader))["code"] == "no_player"

    talker = await lobby_socket(await session_cookie("dora"))
    await until(talker, "chat_history")
    for text in ("one", "two", "three"):
        await talker.send_json_to({"type": "chat", "text": text})
    heard = [await until(reader, "chat") for _ in range(3)]
    assert [(m["text"], m["name"], m["room"]) for m in heard] == [
        ("one", "dora", "lobby"), ("two", "dora", "lobby"), ("three", "dora", "lobby")]  # fmt: skip

    newcomer = await lobby_socket()
    history = (await until(newcomer, "chat_history"))["messages"]
    assert [m["text"] for m in history] == ["two", "three"]  # the newest CHAT_HISTORY, in order

    User = get_user_model()
    ops = await database_sync_to_async(User.objects.create_superuser)("ops", None, "pw-long-9x")
    line = await database_sync_to_async(ChatMessage.objects.get)(text="three")
    assert await database_sync_to_async(staff.delete_chat)(ops, line) == "deleted"
    for comm in (reader, talker, newcomer):
        assert (await until(comm, "chat_deleted"))["id"] == line.pk
    later = await lobby_socket()
    assert [m["text"] for m in (await until(later, "chat_history"))["messages"]] == ["one", "two"]
    for comm in (reader, talker, newcomer, later):
        await comm.disconnect()


async def test_a_new_match_appears_in_the_lobby_within_a_second_and_leaves_when_it_starts(
    settings,
):
    settings.GAMESERVER = {**settings.GAMESERVER, "LOBBY_REFRESH": 60}  # pushed, not polled
    lobby = await lobby_socket()
    assert (await until(lobby, "site"))["open"] == []
    match_id, _, _ = await seated_match(["frank"])
    started = time.monotonic()
    site = await until(lobby, "site", timeout=2)
    assert [m["id"] for m in site["open"]] == [match_id]
    assert time.monotonic() - started < 1.0
    assert [p["name"] for p in site["open"][0]["players"]] == ["frank"]  # who is in it
    await database_sync_to_async(services.match_start)(match_id=match_id)
    site = await until(lobby, "site", timeout=2)
    assert site["open"] == [] and [m["id"] for m in site["live"]] == [match_id]
    status = await database_sync_to_async(lambda: Match.objects.get(public_id=match_id).status)()
    assert status == "running"
    await lobby.disconnect()


async def test_the_lobby_socket_refuses_a_foreign_origin():
    comm = WebsocketCommunicator(application, "/ws/lobby/", subprotocols=[SUBPROTOCOL_JSON],
                                 headers=[(b"origin", b"https://evil.example")])  # fmt: skip
    connected, code = await comm.connect()
    assert not connected and code == 4403  # closed before accept: HTTP 403 from a real server


async def test_online_counts_every_open_socket_of_the_process(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "LOBBY_REFRESH": 0.3}
    match_id, (alice,), _ = await seated_match(["alice"])
    player = await open_socket(alice)
    lobby = await lobby_socket()
    deadline = time.monotonic() + 5
    while (site := await until(lobby, "site"))["online"] != 2:
        assert time.monotonic() < deadline, site
    await player.disconnect()
    while (await until(lobby, "site"))["online"] != 1:
        await asyncio.sleep(0)
    await lobby.disconnect()


async def test_one_player_is_held_to_one_allowance_over_all_their_sockets(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "CHAT_PER_USER": 3}
    cookie = await session_cookie("gus")
    first, second = await lobby_socket(cookie), await lobby_socket(cookie)
    for comm in (first, second):
        await until(comm, "chat_history")
    for n, comm in enumerate((first, second, first)):
        await comm.send_json_to({"type": "chat", "text": f"line {n}"})
        while (await until(comm, "chat"))["text"] != f"line {n}":
            pass  # the lines the other socket said come first
    await second.send_json_to({"type": "chat", "text": "one too many"})
    assert (await error(second))["code"] == "chat_rate_limited"
    for comm in (first, second):
        await comm.disconnect()
