"""While a match waits for players, everyone in it is told who is here and when bots take the
free seats, over both sub-protocols; once it starts, frames take over."""

from __future__ import annotations

import asyncio

import pytest

from tests.players import Player
from tests.support import Api

pytestmark = pytest.mark.timeout(120)


def lobbies(player: Player) -> list[dict]:
    return [m for m in player.messages if m["type"] == "lobby"]


async def test_the_waiting_room_lists_who_joined_and_counts_down_to_the_bots(stack_factory):
    web = stack_factory(GAMESERVER_PRIVATE_BOT_FILL_SECONDS="3").web()
    apis = {name: Api(web) for name in ("alice", "bob")}
    for name, api in apis.items():
        api.post("/api/guest", {"name": name})
    created = apis["alice"].post("/api/matches", {"game": "lightcycles", "private": True,
                                                  "seats": 3})  # fmt: skip
    joined = apis["bob"].post("/api/join-by-code", {"code": created["match"]["code"]})
    alice = Player(apis["alice"].ws_url(), created, web)
    bob = Player(apis["bob"].ws_url(), joined, web, binary=True)
    await alice.connect()
    readers = [asyncio.create_task(alice.run())]
    await alice.wait_until(lambda: lobbies(alice), 10, "a lobby message")
    assert lobbies(alice)[0]["players"] == [{"seat": 0, "name": "alice"}]
    assert lobbies(alice)[0]["seats"] == 3 and 0 < lobbies(alice)[0]["bots_in"] <= 3

    await bob.connect()
    readers.append(asyncio.create_task(bob.run()))
    both = [{"seat": 0, "name": "alice"}, {"seat": 1, "name": "bob"}]
    for player in (alice, bob):
        await player.wait_until(lambda p=player: lobbies(p) and lobbies(p)[-1]["players"] == both,
                                10, "a lobby listing both")  # fmt: skip
        await player.wait_until(player.playing, 30, "the bots to fill the seat and play")
        countdown = [m["bots_in"] for m in lobbies(player)]
        assert countdown == sorted(countdown, reverse=True), countdown
    countdown = [m["bots_in"] for m in lobbies(alice)]  # alice waited about 3 s
    assert len(set(countdown)) >= 2 and countdown[-1] <= 1.5, countdown
    for player in (alice, bob):
        first_frame = next(i for i, m in enumerate(player.messages) if m["type"] == "frame")
        assert all(m["type"] != "lobby" for m in player.messages[first_frame:])
    for player in (alice, bob):
        await player.ws.close()
    await asyncio.gather(*readers)
