"""The Django admin in real Chromium under the site's Content-Security-Policy: it has no
inline script or style in the pages we use, so the strict policy (no 'unsafe-inline')
holds there too; its stylesheets load and its scripts run."""

from __future__ import annotations

import pytest

from tests.browser.pages import admin_page, playing_page
from tests.browser.test_client import browser  # noqa: F401  (fixture)
from tests.support import ROOT, Api, make_staff

pytestmark = pytest.mark.timeout(120)


def test_the_admin_works_under_the_policy(stack_factory, browser):  # noqa: F811
    stack = stack_factory()
    make_staff(stack)
    base = stack.web(server="uvicorn")
    alice = Api(base)
    alice.post("/api/guest", {"name": "alice"})
    alice.post("/api/matches", {"game": "lightcycles", "private": True})

    page, violations, errors = admin_page(browser, base)
    # Styled: the header's colour comes from the admin's stylesheet.
    header = "getComputedStyle(document.querySelector('#header')).backgroundColor"
    assert page.evaluate(header) not in ("", "rgba(0, 0, 0, 0)")

    page.goto(base + "/admin/games/match/")
    # Scripted: actions.js ticks every row when the header box is ticked.
    page.check("#action-toggle")
    assert page.is_checked("table#result_list tbody input.action-select")
    page.click("table#result_list tbody tr a")
    page.wait_for_selector("text=alice")
    for path in ("/admin/auth/user/", "/admin/auth/user/add/", "/admin/axes/accessattempt/"):
        page.goto(base + path)
    assert errors == []
    assert violations == []


def test_an_operator_sees_the_engine_and_a_live_match_run_on_another_process(
    redis_url,
    stack_factory,
    browser,  # noqa: F811
):
    """Redis, one engine, two web processes: the player plays through web1 while the operator's
    requests land on web2, so all the admin knows comes from the engine's heartbeat."""
    stack = stack_factory(redis_url, GAMESERVER_ENGINE_HEARTBEAT="0.5")
    make_staff(stack)
    stack.engine("engine-a")
    web1, web2 = stack.web("web1", server="uvicorn"), stack.web("web2", server="uvicorn")

    playing_page(browser, web1, "alice")  # plays on while the operator looks

    page, violations, _ = admin_page(browser, web2)
    page.click("text=Engines")
    page.wait_for_selector("#live-engines")
    row = page.locator("#live-engines tr.engine")
    assert "engine-a" in row.inner_text()
    assert int(row.locator(".engine-matches").inner_text()) == 1
    assert int(row.locator(".engine-players").inner_text()) == 1
    ticks = int(row.locator(".tick-count").first.inner_text())
    assert ticks > 0
    page.wait_for_timeout(1000)
    page.reload()
    assert int(page.locator("#live-engines .tick-count").first.inner_text()) > ticks  # live
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "admin-engines.png"), full_page=True)

    page.goto(web2 + "/admin/games/match/?status__exact=running")
    assert "engine-a" in page.locator("table#result_list tbody tr").first.inner_text()
    page.click("table#result_list tbody tr th a")
    page.wait_for_selector(".live-owner")
    assert "owner engine engine-a" in page.inner_text(".live-owner")
    seats = page.inner_text("table.live-seats")
    assert "alice\tconnected" in seats and "bot" in seats
    page.screenshot(path=str(artifacts / "admin-live-match.png"), full_page=True)
    # No Delete for a running match, and the delete page refuses a POST.
    assert page.locator("a.deletelink").count() == 0
    change_url = page.url
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    answer = page.request.post(
        change_url.replace("/change/", "/delete/"),
        form={"csrfmiddlewaretoken": token, "post": "yes"},
        headers={"Referer": change_url},
    )
    assert answer.status == 403
    page.goto(web2 + "/admin/games/match/?status__exact=running")
    assert page.locator("table#result_list tbody tr").count() == 1  # still there
    assert violations == []


def test_embedded_mode_shows_its_in_process_engine(stack_factory, browser):  # noqa: F811
    stack = stack_factory(GAMESERVER_ENGINE_HEARTBEAT="0.5")
    make_staff(stack)
    base = stack.web()
    playing_page(browser, base, "alice")  # plays on while the operator looks
    page, violations, _ = admin_page(browser, base)
    page.goto(base + "/admin/games/match/engines/")
    row = page.locator("#live-engines tr.engine")
    assert "embedded" in row.inner_text() and row.locator(".engine-players").inner_text() == "1"
