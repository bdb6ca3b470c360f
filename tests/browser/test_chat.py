"""Chat and the live lobby in real Chromium, under the site's Content-Security-Policy: a match
made on one web process shows in a lobby page on another without the page asking for it, and
moves to Live matches when it starts; lobby lines reach both pages in one order, markup shown
as text; in a match, the player and a spectator on the game socket talk, and a spectator over
the one-way stream reads along."""

from __future__ import annotations

import pytest

from tests.browser.pages import BackgroundPlayer
from tests.browser.test_client import browser, policy_violations  # noqa: F401  (fixture)
from tests.matches import guest

pytestmark = pytest.mark.timeout(120)

MARKUP = '<img src=x id=injected> <b>bold</b> & "quotes"'
LINES = """(root) => [...document.querySelectorAll(root + ' .chat-lines li')]
  .map((li) => li.textContent)"""


def lobby_page(browser, base: str, name: str):  # noqa: F811
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.violations = policy_violations(page)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.api_calls = []
    page.on("request", lambda r: "/api/matches" in r.url and page.api_calls.append(r.url))
    page.goto(base + "/")
    page.fill("#name", name)
    page.wait_for_function("() => document.getElementById('online').textContent.includes('online')")
    return page


def lines(page, root: str) -> list[str]:
    return page.evaluate(LINES, root)


def say(page, root: str, text: str) -> None:
    page.fill(f"{root} input", text)
    page.press(f"{root} input", "Enter")


def test_the_lobby_moves_by_itself_and_its_chat_shows_markup_as_text(
    redis_url,
    stack_factory,
    browser,  # noqa: F811
):
    stack = stack_factory(redis_url, GAMESERVER_LOBBY_REFRESH="60")  # pushed, not polled
    stack.engine()
    web_a, web_b = stack.web("web-a", server="uvicorn"), stack.web("web-b", server="uvicorn")
    ann, ben = lobby_page(browser, web_a, "Ann"), lobby_page(browser, web_b, "Ben")
    asked = len(ben.api_calls)

    made = guest(web_a, "Cleo").post("/api/matches", {"game": "lightcycles", "seats": 2})
    match_id = made["match"]["id"]
    ben.wait_for_selector(f"#open-matches button[data-match='{match_id}']", timeout=2_000)
    assert "Cleo" in ben.text_content("#open-matches")
    assert len(ben.api_calls) == asked, ben.api_calls[asked:]  # pushed: the page asked nothing

    say(ann, "#lobby-chat", MARKUP)
    say(ben, "#lobby-chat", "hello Ann")
    for page in (ann, ben):
        page.wait_for_function("() => document.querySelectorAll('#lobby-chat li').length >= 2")
    assert lines(ann, "#lobby-chat") == lines(ben, "#lobby-chat")  # one order for both
    assert f"Ann: {MARKUP}" in lines(ben, "#lobby-chat")
    assert ben.query_selector("#injected") is None and ben.query_selector(".chat-lines b") is None

    dan = guest(web_b, "Dan")
    joined = dan.post(f"/api/matches/{match_id}/join")
    players = [BackgroundPlayer(web_a, made), BackgroundPlayer(web_b, joined)]
    try:
        ann.wait_for_selector(f"#live-matches button[data-match='{match_id}']", timeout=10_000)
        assert ann.query_selector(f"#open-matches button[data-match='{match_id}']") is None
    finally:
        for player in players:
            player.close()
    for page in (ann, ben):
        assert page.violations == [] and page.errors == [], (page.violations, page.errors)


def test_players_and_spectators_talk_in_a_match_and_the_stream_reads_along(
    stack_factory,
    browser,  # noqa: F811
):
    base = stack_factory(GAMESERVER_BOT_FILL_SECONDS="1").web()
    made = guest(base, "Host").post("/api/matches", {"game": "lightcycles", "seats": 2})
    match_id = made["match"]["id"]
    host = BackgroundPlayer(base, made)
    try:
        talker = lobby_page(browser, base, "Wes")
        talker.goto(f"{base}/#watch={match_id}&via=ws")
        reader = lobby_page(browser, base, "Sia")
        reader.goto(f"{base}/#watch={match_id}")
        for page in (talker, reader):
            page.wait_for_function("() => (window.gameserver.watch || {}).tick > 0")
        assert reader.is_hidden("#match-chat form")
        assert reader.is_visible("#match-chat .chat-readonly")
        assert talker.is_visible("#match-chat form")

        say(talker, "#match-chat", MARKUP)
        for page in (talker, reader):
            page.wait_for_function("() => document.querySelectorAll('#match-chat li').length >= 1")
            assert lines(page, "#match-chat") == [f"Wes (watching): {MARKUP}"]
            assert page.query_selector("#injected") is None
        host.say("gg")  # a player's line, from its game socket
        for page in (talker, reader):
            page.wait_for_function("() => document.querySelectorAll('#match-chat li').length >= 2")
            assert lines(page, "#match-chat")[-1] == "Host: gg"
    finally:
        host.close()
    for page in (talker, reader):
        assert page.violations == [] and page.errors == [], (page.violations, page.errors)
