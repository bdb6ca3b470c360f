"""Staff act on live matches from the admin, on Redis with two web processes and one engine:
the admin's requests land on the web process that runs no socket of the match, and the
engine applies each action between ticks. A notice reaches every player; a kicked player's
socket closes with 4403 `kicked` and a new ticket is refused; ending a match sends `over`
with the staff's reason and writes that result once; a banned user's socket closes with
4403 `banned` and quick play answers 403 until the ban is lifted; every action is audited."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.matches import close_all, private_match, start, steer, stop_tasks
from tests.players import Player
from tests.support import STAFF_PASSWORD, make_staff, stored_match
from tests.test_admin import ADMIN, AdminBrowser

pytestmark = pytest.mark.timeout(120)

CLOSE_FORBIDDEN = 4403


class Operator:
    """The staff's browser on the admin, called off the event loop (it blocks)."""

    def __init__(self, base: str):
        self.browser = AdminBrowser(base, source="127.0.0.5")
        assert self.browser.login("ops", STAFF_PASSWORD) == 302

    async def get(self, path: str) -> str:
        status, page = await asyncio.to_thread(self.browser.request, "GET", f"/{ADMIN}{path}")
        assert status == 200, (path, status, page[-500:])
        return page

    async def post(self, path: str, form: dict) -> str:
        """A form, then the page it redirects to; returns that page's messages."""
        form = {**form, "csrfmiddlewaretoken": self.browser.cookies["csrftoken"]}
        status, page = await asyncio.to_thread(self.browser.request, "POST", f"/{ADMIN}{path}",
                                               form)  # fmt: skip
        assert status == 302, (
            path,
            status,
            re.findall(r'class="(?:error|errorlist)[^"]*">(.*?)<', page),
        )
        return " ".join(re.findall(r'<li class="(?:success|info)">(.*?)</li>', await self.get("")))

    async def match_pk(self, public_id: str) -> str:
        page = await self.get(f"games/match/?q={public_id}")
        return re.search(r"games/match/(\d+)/change/", page).group(1)


async def test_staff_notice_kick_end_and_ban_reach_the_players(stack_factory, redis_url):
    stack = stack_factory(redis_url, DJANGO_ADMIN_PATH=ADMIN, GAMESERVER_RECONNECT_GRACE="30")
    make_staff(stack)
    stack.engine()
    web1, web2 = stack.web("web1", server="uvicorn"), stack.web("web2", server="uvicorn")
    match_id, apis, seats = private_match(web1, ["alice", "bob", "carol"], seats=4)
    players = {name: Player(apis[name].ws_url(), seats[name], web1) for name in apis}
    readers = [await start(p) for p in players.values()]
    steering = [asyncio.create_task(steer(p)) for p in players.values()]
    try:
        for player in players.values():
            await player.wait_until(player.playing, 30, "the match to start")
        ops = Operator(web2)
        pk = await ops.match_pk(match_id)
        page = await ops.get(f"games/match/{pk}/change/")
        assert f"games/match/{pk}/end/" in page, "a running match offers its staff actions"

        await ops.post(f"games/match/{pk}/notice/", {"text": "Server restarts at 10:00"})
        for player in players.values():
            await player.wait_until(
                lambda p=player: any(m["type"] == "notice" for m in p.messages), 5, "the notice"
            )
            assert [m["text"] for m in player.messages if m["type"] == "notice"] == [
                "Server restarts at 10:00"
            ]

        bob = players["bob"]
        kick_page = await ops.get(f"games/match/{pk}/kick/")
        bob_row = re.search(rf'value="(\d+)"[^>]*>\s*seat {bob.seat}:', kick_page)
        assert bob_row, kick_page[-2000:]
        kick = {"participant": bob_row.group(1), "how": "remove", "reason": "abuse"}
        said = await ops.post(f"games/match/{pk}/kick/", kick)
        assert "removed" in said, said
        await asyncio.wait_for(readers[1], 5)
        assert bob.close_code == CLOSE_FORBIDDEN, (bob.close_code, bob.messages[-2:])
        assert [e["code"] for e in bob.errors] == ["kicked"]
        status, answer = apis["bob"].request("POST", f"/api/matches/{match_id}/ticket", {})
        assert (status, answer["error"]["code"]) == (403, "kicked"), answer
        alice = players["alice"]
        await alice.wait_until(lambda: not alice.model["players"][bob.seat]["alive"], 3,
                               "Bob's cycle to leave the match")  # fmt: skip

        carol, carol_id = players["carol"], apis["carol"].get("/api/session")["player"]["id"]
        said = await ops.post("games/ban/add/", {"user": str(carol_id), "reason": "cheating"})
        assert "banned" in said, said
        await asyncio.wait_for(readers[2], 5)
        assert carol.close_code == CLOSE_FORBIDDEN and [e["code"] for e in carol.errors] == [
            "banned"
        ]
        status, answer = apis["carol"].request("POST", "/api/quickplay", {"game": "lightcycles"})
        assert (status, answer["error"]["code"]) == (403, "banned"), answer

        await ops.post(f"games/match/{pk}/end/", {"reason": "testing the end"})
        await asyncio.wait_for(readers[0], 5)
        assert alice.close_code == 1000
        assert alice.over["result"]["reason"] == "ended by staff: testing the end"
        stored = await asyncio.to_thread(stored_match, apis["alice"], match_id)
        assert (stored["status"], stored["result"]) == ("finished", alice.over["result"])

        ban_pk = re.search(r"games/ban/(\d+)/change/", await ops.get("games/ban/")).group(1)
        await ops.post(f"games/ban/{ban_pk}/delete/", {"post": "yes"})
        status, _ = apis["carol"].request("POST", "/api/quickplay", {"game": "lightcycles"})
        assert status == 200

        audit = await ops.get("games/staffaction/")
        for kind in ("send a notice", "kick a player", "ban a user", "end a match", "unban a user"):
            assert kind in audit, kind
        assert audit.count(">ops<") >= 5
    finally:
        await stop_tasks(*steering)
        await close_all(list(players.values()), readers)
