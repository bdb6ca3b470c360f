"""Redis restarted with its state lost under two web processes' open lobby sockets: the hubs'
group is gone with it, so lobby chat and the lobby's news would reach nobody. Nothing is
restarted by hand: a line said while Redis is away is refused with `unavailable` (and not kept
half-said); within a few seconds of Redis answering, lines cross from one process to the other
again, a new match shows in the other process's lobby, and the online count is whole again."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.checks import query
from tests.lobby_socket import LobbySocket, site_has
from tests.matches import guest

pytestmark = pytest.mark.timeout(120)

DOWN = 3  # seconds Redis is away
HEALED = 8  # seconds from Redis answering to lines crossing again: LOBBY_REFRESH 1 s, slack
SETTINGS = {"GAMESERVER_LOBBY_REFRESH": "1"}


async def test_the_lobby_heals_after_redis_loses_its_state(restartable_redis, stack_factory):
    stack = stack_factory(restartable_redis.url, **SETTINGS)
    stack.engine()
    web_a, web_b = stack.web("web-a", server="uvicorn"), stack.web("web-b", server="uvicorn")
    ann, ben = guest(web_a, "Ann"), guest(web_b, "Ben")
    lobby_a, lobby_b = await LobbySocket(ann).open(), await LobbySocket(ben).open()
    try:
        await lobby_a.say("before")
        await lobby_b.wait_for(lambda m: m["type"] == "chat" and m["text"] == "before")
        await lobby_b.wait_for(lambda m: m["type"] == "site" and m["online"] == 2, timeout=5)

        restartable_redis.stop()
        since = len(lobby_a.messages)
        await lobby_a.say("while away")
        refused = await lobby_a.wait_for(lambda m: m["type"] == "error", since=since, timeout=10)
        assert refused["code"] == "unavailable", refused
        await asyncio.sleep(max(0.0, DOWN - (time.monotonic() - restartable_redis.stopped_at)))
        answering = restartable_redis.start()

        crossed = None
        while crossed is None and time.monotonic() - answering < HEALED + 5:
            await lobby_a.say(f"after {time.monotonic() - answering:.1f}")
            await asyncio.sleep(0.5)
            crossed = next((m for m in lobby_b.messages if m["type"] == "chat"
                            and m["text"].startswith("after")), None)  # fmt: skip
        took = time.monotonic() - answering
        print(f"lobby lines cross again {took:.1f} s after Redis answers")
        assert crossed is not None and took < HEALED, f"{took:.1f} s"

        since = len(lobby_b.messages)
        created = guest(web_a, "Cleo").post("/api/matches", {"game": "lightcycles", "seats": 2})
        await lobby_b.wait_for(site_has(created["match"]["id"], "open"), timeout=5, since=since)
        await lobby_b.wait_for(lambda m: m["type"] == "site" and m["online"] == 2, timeout=10)
        assert "while away" not in lobby_b.chat()
        rows = query(stack, "SELECT text FROM games_chatmessage WHERE match_id IS NULL")
        kept = [text for (text,) in rows]
        assert "while away" not in kept and "before" in kept  # nothing half-said is kept
    finally:
        await lobby_a.close()
        await lobby_b.close()
