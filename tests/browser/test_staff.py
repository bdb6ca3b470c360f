"""Staff in the admin, in real Chromium, against Redis, two web processes and one engine: the
players' pages are served by one web process, the admin by the other, and the engine runs
the matches. Ending a match shows its players the game-over dialog with the staff's reason
(and the database holds that result); a notice shows on the player's page; a kicked player's
page says so and does not reconnect, and a new ticket is refused."""

from __future__ import annotations

import time

import pytest

from tests.browser.pages import admin_page, playing_page
from tests.browser.test_client import browser  # noqa: F401  (fixture)
from tests.support import ROOT, Api, make_staff, stored_match

pytestmark = pytest.mark.timeout(150)

ARTIFACTS = ROOT / "test-artifacts"


def open_match(admin, base: str, match_id: str) -> None:
    admin.goto(f"{base}/admin/games/match/?q={match_id}")
    admin.click(f"table#result_list a:has-text('{match_id}')")
    admin.wait_for_selector("text=staff actions")


def test_staff_end_a_match_and_kick_a_player_from_the_admin(stack_factory, redis_url, browser):  # noqa: F811
    stack = stack_factory(redis_url, GAMESERVER_BOT_FILL_SECONDS="1")
    make_staff(stack)
    stack.engine()
    web1, web2 = stack.web("web1", server="uvicorn"), stack.web("web2", server="uvicorn")
    ended = playing_page(browser, web1, "ender")
    kicked = playing_page(browser, web1, "kicked")
    sockets: list[str] = []
    kicked.on("websocket", lambda ws: sockets.append(ws.url))
    ids = [p.evaluate("() => window.gameserver.match.id") for p in (ended, kicked)]
    assert ids[0] != ids[1], "two matches"

    admin, violations, _ = admin_page(browser, web2)
    ARTIFACTS.mkdir(exist_ok=True)
    open_match(admin, web2, ids[0])
    admin.screenshot(path=str(ARTIFACTS / "admin-staff-actions.png"), full_page=True)
    admin.click("text=End this match now")
    admin.fill("#id_reason", "tournament rules")
    admin.click("input[name=_confirm]")
    admin.wait_for_selector("li.success")
    ended.wait_for_selector("#gameover", state="visible", timeout=10_000)
    reason = ended.text_content("#gameover-reason")
    assert reason == "ended by staff: tournament rules", reason
    result = stored_match(Api(web1), ids[0])["result"]
    assert result["reason"] == "ended by staff: tournament rules"

    open_match(admin, web2, ids[1])
    admin.click("text=Send a notice to the players")
    admin.fill("#id_text", "Be nice")
    admin.click("input[name=_confirm]")
    kicked.wait_for_selector("#notice", state="visible", timeout=10_000)
    assert kicked.text_content("#notice") == "Notice from staff: Be nice"

    open_match(admin, web2, ids[1])
    admin.click("text=Kick a player")
    seat = kicked.evaluate("() => window.gameserver.seat")
    admin.select_option("#id_participant", label=f"seat {seat}: kicked")
    admin.check("input[value=bot]")
    admin.click("input[name=_confirm]")
    admin.wait_for_selector("li.success")
    kicked.wait_for_selector("#error", state="visible", timeout=10_000)
    assert "removed from the match" in kicked.text_content("#error")
    opened = len(sockets)
    time.sleep(3)  # the reconnector's first try would come within a second
    assert len(sockets) == opened, "the kicked page reconnected"
    csrf = next(c["value"] for c in kicked.context.cookies() if c["name"] == "csrftoken")
    answer = kicked.request.post(f"{web1}/api/matches/{ids[1]}/ticket",
                                 headers={"X-CSRFToken": csrf, "Content-Type": "application/json"},
                                 data="{}")  # fmt: skip
    assert answer.status == 403 and answer.json()["error"]["code"] == "kicked"
    admin.goto(f"{web2}/admin/games/staffaction/")  # the audit trail, under the policy too
    for kind in ("end a match", "send a notice", "kick a player"):
        admin.wait_for_selector(f"#result_list td:has-text('{kind}')")
    assert violations == []
