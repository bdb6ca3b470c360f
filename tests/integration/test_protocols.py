"""The two sub-protocols carry one meaning: a JSON client and a msgpack client in one match
decode identical message streams."""

from __future__ import annotations

import asyncio

import pytest

from tests.players import PERPENDICULAR, Player
from tests.support import Api

pytestmark = pytest.mark.timeout(120)


async def test_json_and_msgpack_clients_see_the_same_match(stack_factory):
    web = stack_factory().web()
    alice, bob = Api(web), Api(web)
    alice.post("/api/guest", {"name": "alice"})
    bob.post("/api/guest", {"name": "bob"})
    created = alice.post("/api/matches", {"game": "lightcycles", "private": True, "seats": 2})
    joined = bob.post("/api/join-by-code", {"code": created["match"]["code"]})
    text = Player(alice.ws_url(), created, web)
    binary = Player(bob.ws_url(), joined, web, binary=True)
    for player in (text, binary):
        await player.connect()
    assert text.ws.subprotocol == "gameserver.v1.json"
    assert binary.ws.subprotocol == "gameserver.v1.msgpack"
    readers = [asyncio.create_task(p.run()) for p in (text, binary)]
    await binary.wait_until(binary.playing, 30, "the match to start")
    await binary.send_input({"dir": PERPENDICULAR[binary.me()["dir"]]})
    await asyncio.wait_for(asyncio.gather(*readers), 90)

    assert text.over is not None and text.over == binary.over
    frames = {m["tick"]: m for m in text.messages if m["type"] == "frame"}
    common = [m for m in binary.messages if m["type"] == "frame" and m["tick"] in frames]
    assert len(common) > 60
    for frame in common:  # same content; `sent` is stamped once per frame, so equal too
        assert frame == frames[frame["tick"]]
    assert text.model == binary.model
