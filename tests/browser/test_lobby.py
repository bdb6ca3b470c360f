"""The lobby's games in real Chromium (static/js/games/README.md): every game GET /api/games
lists is offered with its settings, POST /api/matches is sent exactly the fields the game
declares, the lists name each match's game, and a game without a browser client (or with a
name that cannot be one) is said so on the page instead of breaking it. No game of ours has
an option of every type (int, bool, choice), so GET /api/games is answered by the test where
they are needed."""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.test_client import browser, policy_violations  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(90)

LIGHTCYCLES = {
    "name": "lightcycles",
    "title": "Light Cycles",
    "tick_rate": 20,
    "min_seats": 2,
    "max_seats": 8,
    "default_seats": 4,
}
# Light Cycles as a server with per-match options would list it: one option of each type.
WITH_OPTIONS = {
    **LIGHTCYCLES,
    "kind": "ticking",
    "bots": True,
    "options": [
        {"name": "rounds", "label": "Rounds", "type": "int", "min": 1, "max": 5, "default": 1},
        {"name": "walls", "label": "Solid walls", "type": "bool", "default": True},
        {
            "name": "arena",
            "label": "Arena",
            "type": "choice",
            "choices": ["small", "large"],
            "default": "large",
        },
    ],
}
# A listed game whose client does not exist, and a name no client may have.
CHECKERS = {
    "name": "checkers",
    "title": "Checkers",
    "tick_rate": 1,
    "min_seats": 2,
    "max_seats": 2,
    "default_seats": 2,
    "kind": "events",
    "bots": False,
    "options": [],
}
UNSAFE = {**CHECKERS, "name": "../lightcycles", "title": "Sneaky"}


def match_of(game: str) -> dict:
    """A match as the API answers it, of `game`."""
    return {
        "id": "m-" + re.sub(r"\W", "", game),
        "game": game,
        "status": "waiting",
        "private": True,
        "seats": 2,
        "tick_rate": 1,
        "spectator_chat": True,
        "players": [{"seat": 0, "name": "tester", "bot": False, "score": 0, "placement": None}],
    }


def json_answer(route, body: dict, status: int = 200) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def answering(body: dict):
    """A route handler that answers `body` (Playwright passes a two-argument one the request)."""
    return lambda route: json_answer(route, body)


def lobby_page(browser, base: str, games: list[dict] | None = None):  # noqa: F811
    """A page in a fresh context, with `errors`, `violations`, the `requests` it made and the
    `sockets` it opened; GET /api/games answers `games` when given."""
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.violations = policy_violations(page)
    page.errors, page.requests, page.sockets = [], [], []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("request", lambda r: page.requests.append((r.method, r.url)))
    page.on("websocket", lambda ws: page.sockets.append(ws.url))
    if games is not None:
        page.route("**/api/games", answering({"games": games}))
    page.goto(base + "/")
    page.fill("#name", "tester")
    # The server's list has come once the options name seat ranges ("Light Cycles (2–8
    # players)"); until then the page offers the one game it was made for.
    page.wait_for_function(
        "(count) => { const shown = [...document.querySelectorAll('#game-select option')];"
        " return shown.some((o) => o.textContent.includes('players'))"
        " && (count === null || shown.length === count); }",
        arg=len(games) if games is not None else None,
    )
    return page


def test_a_games_options_are_offered_checked_and_sent(stack_factory, browser):  # noqa: F811
    base = stack_factory().web()
    page = lobby_page(browser, base, [WITH_OPTIONS])
    posted: list[dict] = []

    def on_matches(route) -> None:
        if route.request.method != "POST":
            return route.continue_()
        posted.append(route.request.post_data_json)
        json_answer(route, {"error": {"code": "stop", "message": "stopped by the test"}}, 400)

    page.route("**/api/matches", on_matches)
    assert page.text_content("#create-title") == "New Light Cycles match"
    seats = page.get_by_label("Seats", exact=True)
    offered = seats.evaluate("(s) => [...s.options].map((o) => o.value)")
    assert offered == [str(n) for n in range(2, 9)], offered
    assert seats.input_value() == "4"
    rounds = page.get_by_label("Rounds")
    assert (rounds.get_attribute("min"), rounds.get_attribute("max")) == ("1", "5")
    assert rounds.input_value() == "1"
    assert page.get_by_label("Solid walls").is_checked()
    assert page.get_by_label("Arena").input_value() == "large"
    assert page.get_by_label("Fill empty seats with bots").is_checked()

    # Out of range: said on the page, the field marked and focused, nothing sent.
    rounds.fill("9")
    page.click("#create-private")
    page.wait_for_selector("#error", state="visible")
    assert "Rounds" in page.text_content("#error") and "1 to 5" in page.text_content("#error")
    assert rounds.get_attribute("aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.type") == "number"
    assert posted == []

    # With the keyboard: the fields in order, Enter sends a private match.
    seats.select_option("3")
    rounds.fill("2")
    page.get_by_label("Solid walls").uncheck()
    page.get_by_label("Arena").select_option("small")
    page.get_by_label("Fill empty seats with bots").uncheck()
    rounds.press("Enter")
    page.wait_for_function("() => document.getElementById('error').textContent.includes('test')")
    assert posted == [
        {
            "game": "lightcycles",
            "private": True,
            "seats": 3,
            "options": {"rounds": 2, "walls": False, "arena": "small"},
            "bot_fill": False,
        }
    ]
    # The bots box ticked again: bot_fill is not sent at all (today's server refuses it).
    page.get_by_label("Fill empty seats with bots").check()
    page.click("#create-public")
    for _ in range(50):  # the route's handler runs while Playwright waits
        if len(posted) == 2:
            break
        page.wait_for_timeout(100)
    assert len(posted) == 2, posted
    assert posted[1]["private"] is False and "bot_fill" not in posted[1], posted[1]
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)


def test_a_public_match_from_the_form_is_listed_with_its_game(stack_factory, browser):  # noqa: F811
    base = stack_factory(GAMESERVER_BOT_FILL_SECONDS="30").web()
    host = lobby_page(browser, base)  # the server's own list: no kind, bots or options
    host.get_by_label("Seats", exact=True).select_option("2")
    host.click("#create-public")
    host.wait_for_function("() => window.gameserver.match && window.gameserver.match.seats === 2")
    match_id = host.evaluate("() => window.gameserver.match.id")
    assert host.evaluate("() => window.gameserver.match.private") is False
    posted = [url for method, url in host.requests if method == "POST" and "/api/matches" in url]
    assert posted == [f"{base}/api/matches"], posted

    other = lobby_page(browser, base)
    row = f"#open-matches li[data-match='{match_id}']"
    other.wait_for_selector(row, timeout=10_000)
    assert other.text_content(f"{row} .game-tag") == "Light Cycles"
    assert "tester" in other.text_content(row)
    for page in (host, other):
        assert page.errors == [] and page.violations == [], (page.errors, page.violations)


def test_a_game_without_a_browser_client_is_said_so_and_the_page_goes_on(stack_factory, browser):  # noqa: F811
    base = stack_factory().web()
    page = lobby_page(browser, base, [LIGHTCYCLES, CHECKERS, UNSAFE])
    page.wait_for_function(
        "() => [...document.querySelectorAll('#game-select option')]"
        ".filter((o) => o.textContent.includes('no browser client yet')).length === 2"
    )
    page.select_option("#game-select", "checkers")
    assert "Checkers has no browser client yet" in page.text_content("#game-about")
    assert page.is_disabled("#quickplay") and page.is_disabled("#create-private")
    assert page.get_by_label("Fill empty seats with bots").count() == 0  # "bots": false
    page.select_option("#game-select", "lightcycles")
    assert page.is_enabled("#quickplay") and page.is_enabled("#create-private")

    # A code can lead to any game: the seat comes back, the page says why it cannot play it.
    for game, title in (("checkers", "Checkers"), ("../lightcycles", "Sneaky")):
        answer = {"match": match_of(game), "seat": 0, "ticket": "not-used"}
        page.route("**/api/join-by-code", answering(answer))
        page.fill("#join-code", "K7QM4ZPA")
        page.click("#join-code-btn")
        page.wait_for_function(
            "(title) => document.getElementById('error').textContent"
            ".startsWith(title + ' has no browser client yet')",
            arg=title,
        )
        assert page.is_visible("#lobby") and page.is_hidden("#game")
        page.unroute("**/api/join-by-code")

    # Watching one: the same, and no stream is opened for it.
    watched = match_of("checkers")
    answer = {"match": watched, "ticket": "t", "role": "spectator", "delay": 0, "stream": "/x"}
    page.route("**/api/matches/*/watch", answering(answer))
    page.evaluate("() => document.getElementById('error').textContent = ''")
    page.goto(f"{base}/#watch={watched['id']}")
    page.wait_for_function(
        "() => document.getElementById('error').textContent.includes('no browser client yet')"
    )
    assert page.is_visible("#lobby") and page.is_hidden("#game")
    assert page.evaluate("() => location.hash") == ""

    modules = {url for _, url in page.requests if "/static/js/games/" in url}
    allowed = re.compile(re.escape(base) + r"/static/js/games/(lightcycles|checkers)/")
    assert modules and all(allowed.match(url) for url in modules), modules
    assert not [url for url in page.sockets if "/ws/play/" in url], page.sockets
    assert not [url for _, url in page.requests if url.endswith("/x")]
    assert page.errors == [] and page.violations == [], (page.errors, page.violations)
