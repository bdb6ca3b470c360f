"""The live lobby and chat across web processes (Redis mode, uvicorn and daphne): a match made
on one web process appears in a lobby socket on another within a second and moves from open
to live when it starts; lobby lines and a match's lines reach every room member whatever
process they are on, in one order; a spectator on a third socket reads and writes them."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.lobby_socket import LobbySocket, site_has, site_lacks
from tests.matches import close_all, guest, start
from tests.players import Player

pytestmark = pytest.mark.timeout(120)


async def test_a_match_made_on_one_web_process_shows_at_once_in_another_ones_lobby(
    redis_url, stack_factory
):
    # Pushed, not polled: the lobby's own refresh is far off, so only the news can be in time.
    stack = stack_factory(redis_url, GAMESERVER_LOBBY_REFRESH="60")
    stack.engine()
    web_a, web_b = stack.web("web-a", server="uvicorn"), stack.web("web-b", server="daphne")
    watcher = await LobbySocket(guest(web_b, "Wanda")).open()
    try:
        await watcher.wait_for(lambda m: m["type"] == "site")
        alice, bob = guest(web_a, "Alice"), guest(web_a, "Bob")
        made = time.monotonic()
        created = alice.post("/api/matches", {"game": "lightcycles", "seats": 2})
        match_id = created["match"]["id"]
        listed = await watcher.wait_for(site_has(match_id, "open"), timeout=3)
        assert time.monotonic() - made < 1.0, f"{time.monotonic() - made:.2f} s"
        shown = next(m for m in listed["open"] if m["id"] == match_id)
        assert [p["name"] for p in shown["players"]] == ["Alice"]  # who is in it
        since = len(watcher.messages)
        joined = bob.post(f"/api/matches/{match_id}/join")
        players = [Player(alice.ws_url(), created, web_a), Player(bob.ws_url(), joined, web_a)]
        readers = [await start(p) for p in players]  # full and everyone here: it starts
        live = await watcher.wait_for(site_has(match_id, "live"), timeout=10, since=since)
        assert site_lacks(match_id, "open")(live)
        assert live["online"] >= 1  # counted at each pass: exact within LOBBY_REFRESH
        await close_all(players, readers)
    finally:
        await watcher.close()


async def test_lines_reach_every_room_member_on_every_web_process_in_one_order(
    redis_url, stack_factory
):
    stack = stack_factory(redis_url)
    stack.engine()
    web_a, web_b = stack.web("web-a", server="uvicorn"), stack.web("web-b", server="uvicorn")
    lobby_a = await LobbySocket(guest(web_a, "Ann")).open()
    lobby_b = await LobbySocket(guest(web_b, "Ben")).open()
    alice, bob = guest(web_a, "Alice"), guest(web_b, "Bob")
    created = alice.post("/api/matches", {"game": "lightcycles", "private": True, "seats": 3})
    joined = bob.post("/api/join-by-code", {"code": created["match"]["code"]})
    match_id = created["match"]["id"]
    carol = guest(web_b, "Carol")
    watch = carol.post(f"/api/matches/{match_id}/watch", {"code": created["match"]["code"]})
    people = [
        Player(alice.ws_url(), created, web_a),
        Player(bob.ws_url(), joined, web_b),
        Player(carol.ws_url(), {"ticket": watch["ticket"], "seat": -1}, web_b),
    ]
    readers = [await start(p) for p in people]
    try:
        for a, b in (("hello from a", "hello from b"), ("second a", "second b")):
            await asyncio.gather(lobby_a.say(a), lobby_b.say(b))
        for lobby in (lobby_a, lobby_b):
            await lobby.wait_for(lambda m, lobby=lobby: len(lobby.chat()) >= 4)
        assert lobby_a.chat() == lobby_b.chat()  # one order for the whole room
        assert sorted(lobby_a.chat()) == sorted(
            ["hello from a", "hello from b", "second a", "second b"]
        )
        for n in range(3):
            for person, name in zip(people, ("Alice", "Bob", "Carol"), strict=True):
                await person.ws.send(json.dumps({"type": "chat", "text": f"{name} {n}"}))
        for person in people:
            await person.wait_until(lambda person=person: len(lines(person)) >= 9, 10, "9 lines")
        orders = [[line["text"] for line in lines(person)] for person in people]
        assert orders[0] == orders[1] == orders[2], orders
        by_name = {line["name"]: line for line in lines(people[0])}
        assert by_name["Carol"]["spectator"] is True and by_name["Carol"]["seat"] is None
        assert by_name["Bob"]["seat"] == 1 and by_name["Bob"]["room"] == "match"
        assert not any(m["type"] == "chat" and m["room"] == "match" for m in lobby_a.messages)
    finally:
        await lobby_a.close()
        await lobby_b.close()
        await close_all(people, readers)


def lines(player: Player) -> list[dict]:
    return [m for m in player.messages if m["type"] == "chat"]
