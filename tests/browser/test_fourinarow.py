"""Four in a Row in real Chromium (static/js/games/fourinarow/): the lobby offers it with its
options, and a quick-play match against the bot is played to the game-over dialog by the
keyboard, a tap and clicks, under the site's Content-Security-Policy."""

from __future__ import annotations

import re

import pytest

from tests.browser.pages import RECORD_SENDS
from tests.browser.test_client import browser, policy_violations  # noqa: F401  (fixture)
from tests.support import ROOT

pytestmark = pytest.mark.timeout(90)

FAST_BOTS = {"GAMESERVER_BOT_THINK_SECONDS": "0.05", "GAMESERVER_BOT_FILL_SECONDS": "0.5"}
# The match as the page's model has it; null until a Four in a Row match is on screen.
MATCH = """() => { const g = window.gameserver, m = g.model;
  return g.game === 'fourinarow' && m && m.ready ? {phase: m.phase, turn: m.turn,
    tick: m.tick, seat: g.seat, columns: m.columns, grid: m.grid, winner: m.winner} : null; }"""
PLAYING = """() => { const g = window.gameserver, m = g.model;
  return g.game === 'fourinarow' && m && m.ready && m.phase === 'playing'; }"""


def lobby_page(browser, base: str, touch: bool = False):  # noqa: F811
    """A fresh context's lobby with Four in a Row chosen, once the server's list has come."""
    context = browser.new_context(viewport={"width": 1100, "height": 800}, has_touch=touch)
    page = context.new_page()
    page.violations = policy_violations(page)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.add_init_script(RECORD_SENDS)
    page.goto(base + "/")
    page.fill("#name", "tester")
    page.wait_for_selector("#game-select option[value=fourinarow]", state="attached")
    page.select_option("#game-select", "fourinarow")
    return page


def match(page) -> dict | None:
    return page.evaluate(MATCH)


def wait_for_my_turn(page, after: int) -> dict:
    """The match once it is my turn after step `after`, or over."""
    page.wait_for_function(
        """(after) => { const g = window.gameserver, m = g.model;
        return m && m.ready && (m.phase === 'over' || (m.turn === g.seat && m.tick > after)); }""",
        arg=after,
        timeout=15_000,
    )
    return match(page)


def inputs_sent(page) -> int:
    return page.evaluate("() => window.__sent.filter((m) => m.type === 'input').length")


def open_column(state: dict) -> int:
    """The leftmost column with room: easy for the bot to block, so the match stays short."""
    return next(c for c, discs in enumerate(state["grid"]) if len(discs) < 6)


def test_the_lobby_offers_four_in_a_row_with_its_options(stack_factory, browser):  # noqa: F811
    base = stack_factory(**FAST_BOTS).web()
    page = lobby_page(browser, base)
    option = page.text_content("#game-select option[value=fourinarow]")
    assert option == "Four in a Row (2 players)", option
    assert page.text_content("#game-about") == "Turn by turn, 2 players; bots fill empty seats."
    assert page.text_content("#create-title") == "New Four in a Row match"
    seats = page.get_by_label("Seats", exact=True)
    assert seats.evaluate("(s) => [...s.options].map((o) => o.value)") == ["2"]
    columns, seconds = page.get_by_label("Columns"), page.get_by_label("Seconds per turn")
    assert [columns.get_attribute(a) for a in ("min", "max")] == ["5", "9"]
    assert [seconds.get_attribute(a) for a in ("min", "max")] == ["5", "120"]
    assert (columns.input_value(), seconds.input_value()) == ("7", "20")
    assert page.get_by_label("Fill empty seats with bots").is_checked()

    # The options reach the match: a private one with 9 columns and 30 s turns, bot-filled.
    columns.fill("9")
    seconds.fill("30")
    page.click("#create-private")
    page.wait_for_function(PLAYING, timeout=15_000)
    assert match(page)["columns"] == 9
    assert page.locator(".fiar-column").count() == 9
    assert page.evaluate("() => window.gameserver.match.options") == {
        "columns": 9,
        "turn_seconds": 30,
    }
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)


def test_quick_play_against_the_bot_to_the_game_over_dialog(stack_factory, browser):  # noqa: F811
    base = stack_factory(**FAST_BOTS).web()
    page = lobby_page(browser, base, touch=True)
    page.click("#quickplay")
    page.wait_for_function(PLAYING, timeout=15_000)
    state = wait_for_my_turn(page, -1)
    assert page.locator(".fiar-column").count() == 7
    assert re.fullmatch(r"your turn · \d+ s", page.text_content("#status")), page.text_content(
        "#status"
    )
    assert page.locator(".fiar-player.to-move").text_content() == "tester (you)"

    # The pointer highlights a column and previews my disc there.
    page.hover(".fiar-column[data-column='5']")
    assert "cursor" in page.get_attribute(".fiar-column[data-column='5']", "class")
    assert page.locator(".fiar-column[data-column='5'] .fiar-preview.shown").count() == 1

    # The keyboard: from the hovered column 5, ← ← → moves the cursor to 4, Enter drops there.
    assert inputs_sent(page) == 0
    for key in ("ArrowLeft", "ArrowLeft", "ArrowRight"):
        page.keyboard.press(key)
    assert "cursor" in page.get_attribute(".fiar-column[data-column='4']", "class")
    page.keyboard.press("Enter")
    state = wait_for_my_turn(page, state["tick"])
    assert state["grid"][4][:1] == [state["seat"]]
    assert inputs_sent(page) == 1

    # A tap, then clicks, until the match is over.
    if state["phase"] == "playing":
        page.locator(f".fiar-column[data-column='{open_column(state)}']").tap()
        state = wait_for_my_turn(page, state["tick"])
    clicks = 0
    while state["phase"] == "playing":
        assert clicks < 22, "the match did not end"
        page.click(f".fiar-column[data-column='{open_column(state)}']")
        clicks += 1
        state = wait_for_my_turn(page, state["tick"])

    page.wait_for_selector("#gameover", state="visible", timeout=10_000)
    assert page.text_content("#status") == "over"
    title = page.text_content("#gameover-title")
    reason = page.text_content("#gameover-reason")
    assert title in ("You win!", "Draw") or title.endswith(" wins"), title
    assert reason in ("four in a row", "draw"), reason
    if reason == "four in a row":
        assert page.locator(".fiar-disc.win").count() >= 4
    assert page.locator("#standings tr").count() == 2
    discs = sum(len(column) for column in state["grid"])
    assert page.locator(".fiar-disc.filled").count() == discs
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "browser-fourinarow.png"))
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)
