"""The browser client in real Chromium (Debian's, driven by Playwright): lobby to playing,
under the server's Content-Security-Policy (a violation Chromium reports fails the test)."""

from __future__ import annotations

import shutil

import pytest
import websockets.sync.client

from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX
from tests.support import ROOT, Api

pytestmark = pytest.mark.timeout(120)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEYS = {"up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight"}
PERPENDICULAR = {"up": "left", "down": "right", "left": "down", "right": "up"}


def policy_violations(page) -> list[str]:
    """Chromium reports every refusal by the Content-Security-Policy (and every fault in the
    Permissions-Policy header) on the console; the list fills as the page runs."""
    seen: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text or "Permissions-Policy" in message.text:
            seen.append(message.text)

    page.on("console", on_console)
    return seen


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: `make test` installs it (apt-get)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_quick_play_renders_the_arena_and_a_key_turns_my_cycle(stack_factory, browser):
    base = stack_factory().web()
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    violations = policy_violations(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base + "/")
    page.fill("#name", "tester")
    page.click("#quickplay")
    page.wait_for_selector("#game", state="visible")
    page.wait_for_function(
        "() => window.gameserver && window.gameserver.model"
        " && window.gameserver.model.phase === 'play'",
        timeout=30_000,
    )
    seat = page.evaluate("() => window.gameserver.seat")
    heading = page.evaluate(f"() => window.gameserver.model.players[{seat}].dir")
    turn = PERPENDICULAR[heading]
    page.keyboard.press(KEYS[turn])
    page.wait_for_function(
        f"() => window.gameserver.model.players[{seat}].dir === '{turn}'"
        " || window.gameserver.model.phase === 'over'",
        timeout=5_000,
    )
    assert page.evaluate(f"() => window.gameserver.model.players[{seat}].dir") == turn
    # Drawn, not blank: the canvas holds more than one colour.
    colours = page.evaluate(
        """() => {
        const c = document.querySelector('#arena');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] << 16 | d[i+1] << 8 | d[i+2]);
        return seen.size;
    }"""
    )
    assert colours > 3
    assert int(page.text_content("#hud-tick") or "0") > 0
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "browser-play.png"))
    assert errors == []
    assert violations == []


def test_the_waiting_room_shows_a_friend_joining_by_code(stack_factory, browser):
    base = stack_factory(GAMESERVER_PRIVATE_BOT_FILL_SECONDS="60").web()
    page = browser.new_page()
    violations = policy_violations(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base + "/")
    page.fill("#name", "host")
    page.click("#create-private")
    page.wait_for_function(
        "() => document.querySelector('#waiting-text').textContent.includes('host (you)')",
        timeout=15_000,
    )
    code = page.text_content("#match-code").strip()
    friend = Api(base)
    friend.post("/api/guest", {"name": "friend"})
    seat = friend.post("/api/join-by-code", {"code": code})
    subprotocols = [SUBPROTOCOL_JSON, TICKET_PREFIX + seat["ticket"]]
    with websockets.sync.client.connect(friend.ws_url(), subprotocols=subprotocols, origin=base):
        page.wait_for_function(
            "() => document.querySelector('#waiting-text').textContent.includes('friend')",
            timeout=10_000,
        )
        text = page.text_content("#waiting-text")
    assert "host (you), friend" in text and "free seat" in text, text
    assert not errors, errors
    assert violations == []
