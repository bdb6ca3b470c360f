"""Pages the browser tests open: a player in a started quick-play match, and a staff login."""

from __future__ import annotations

from tests.browser.test_client import policy_violations
from tests.support import STAFF_PASSWORD


def playing_page(browser, base: str, name: str):
    """A player in a fresh browser context, in a quick-play match that has started."""
    page = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
    page.goto(base + "/")
    page.fill("#name", name)
    page.click("#quickplay")
    page.wait_for_function(
        "() => window.gameserver && window.gameserver.model"
        " && window.gameserver.model.phase === 'play'",
        timeout=30_000,
    )
    return page


def admin_page(browser, base: str) -> tuple:
    """Staff user "ops" logged in to the admin in a fresh context; with the lists of policy
    violations and script errors Chromium reports from the login page on."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    violations = policy_violations(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base + "/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(base + "/admin/")
    return page, violations, errors
