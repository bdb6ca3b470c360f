"""Watching a match in real Chromium (docs/PROTOCOL.md, "Watching"): from the lobby's Live
matches over Server-Sent Events, the watcher sees the ticks, players and scores the player's
page sees, and the standings at the end; after a network cut (tests/proxy.py) its EventSource
comes back by itself; `#watch=<id>&via=ws` watches over the game socket, which acks but sends
no inputs. All under the site's Content-Security-Policy."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.pages import RECORD_SENDS, BackgroundPlayer
from tests.browser.test_client import browser, policy_violations  # noqa: F401  (fixture)
from tests.matches import guest
from tests.proxy import FaultyProxy
from tests.support import ROOT

pytestmark = pytest.mark.timeout(90)

ARTIFACTS = ROOT / "test-artifacts"

# What the page sends on its game sockets (acks, inputs), as tests/browser/test_reconnect.py.
# Each tick the HUD shows, with the players' rows (seat, name, score) shown with it; the HUD
# sets both in one go, so the observer sees them together.
RECORD_HUD = """() => {
  window.__hud = {};
  const tick = document.getElementById('hud-tick');
  const rows = () => [...document.querySelectorAll('#hud-players li')].map((li) => [
    Number(li.dataset.seat), li.querySelector('.name').firstChild.textContent,
    li.querySelector('.score').textContent]);
  new MutationObserver(() => { window.__hud[tick.textContent] = rows(); })
    .observe(tick, { childList: true, characterData: true, subtree: true });
}"""
# Every status the page showed, however briefly.
RECORD_STATUS = """() => {
  window.__status = [];
  const el = document.getElementById('status');
  new MutationObserver(() => window.__status.push(el.textContent))
    .observe(el, { childList: true, characterData: true, subtree: true });
}"""
STANDINGS = """() => [...document.querySelectorAll('#standings tr')].map((tr) =>
  [Number(tr.dataset.seat), tr.lastChild.textContent])"""
WATCH = """() => { const w = window.gameserver.watch;
  return w && {tick: w.tick, via: w.via, over: w.over, reconnects: w.reconnects, role: w.role,
    seat: w.seat, down: w.down, open: Boolean(w.stream && w.stream.open),
    spectators: w.spectators || null, match: w.match && w.match.id}; }"""


def open_page(browser, url: str, record_sends: bool = False, on_socket=None):  # noqa: F811
    """A page in its own browser context (its own cookies: its own guest), with the policy
    violations (`violations`), uncaught errors (`errors`), load count (`loads`) and the event
    stream requests (`streams`) it had; on_socket(ws) sees each WebSocket it opens."""
    page = browser.new_context(viewport={"width": 1100, "height": 760}).new_page()
    page.violations = policy_violations(page)
    page.errors, page.streams, page.loads = [], [], 0

    def loaded() -> None:
        page.loads += 1

    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("load", loaded)
    page.on("request", lambda r: r.url.endswith("/stream") and page.streams.append(r.url))
    if on_socket is not None:
        page.on("websocket", on_socket)
    if record_sends:
        page.add_init_script(RECORD_SENDS)
    page.goto(url)
    page.evaluate(RECORD_HUD)
    page.evaluate(RECORD_STATUS)
    return page


def watch_state(page) -> dict:
    return page.evaluate(WATCH)


def hud_tick(page) -> int:
    return int(page.text_content("#hud-tick"))


def wait_for_watched_tick(page, above: int, timeout: float = 15_000) -> None:
    page.wait_for_function(
        f"() => window.gameserver.watch && window.gameserver.watch.tick > {above}",
        timeout=timeout,
    )


def quick_play_match(base: str, name: str) -> dict:
    """A quick-play seat over the API: a 4-seat public match that bots fill after a second."""
    return guest(base, name).post("/api/quickplay", {"game": "lightcycles"})


def test_a_spectator_sees_what_the_player_sees_and_the_standings(stack_factory, browser):  # noqa: F811
    # Bots fill the free seat 4 s after the first connection: time for the page to join.
    base = stack_factory(GAMESERVER_BOT_FILL_SECONDS="4").web()
    watcher = open_page(browser, base + "/")
    player = open_page(browser, base + "/")
    player.fill("#name", "player")
    # Three seats: a scripted host that steers (the match lasts while it does), the page's
    # player (it rides straight and crashes early: it goes on watching) and a bot.
    made = guest(base, "host").post(
        "/api/matches", {"game": "lightcycles", "private": False, "seats": 3}
    )
    match_id = made["match"]["id"]
    host = BackgroundPlayer(base, made)
    try:
        player.click("#quickplay")  # joins the open public match
        player.wait_for_function(
            f"() => window.gameserver.match && window.gameserver.match.id === '{match_id}'",
            timeout=10_000,
        )
        watch_button = f"#live-matches button[data-match='{match_id}']"
        watcher.wait_for_selector(watch_button, timeout=20_000)  # polled with the open list
        assert "host" in watcher.text_content(f"#live-matches li[data-match='{match_id}']")
        watcher.click(watch_button)
        wait_for_watched_tick(watcher, 0)
        state = watch_state(watcher)
        assert state["via"] == "sse" and state["match"] == match_id, state
        assert watcher.streams == [f"{base}/api/matches/{match_id}/stream"], watcher.streams
        assert watcher.is_visible("#spectating-badge")
        assert watcher.text_content("#spectating-badge").strip() == "Spectating"
        assert not player.is_visible("#spectating-badge")
        assert watcher.is_hidden("#lobby")

        # The same tick, within a few, as the player's page: read one right after the other.
        player.wait_for_function("() => window.gameserver.model.phase === 'play'", timeout=20_000)
        for _ in range(5):
            mine, theirs = hud_tick(player), hud_tick(watcher)
            assert abs(mine - theirs) <= 5, (mine, theirs)
            player.wait_for_timeout(300)
        watcher.wait_for_function(
            "() => document.getElementById('hud-watchers').textContent === '1'", timeout=10_000
        )
        ARTIFACTS.mkdir(exist_ok=True)
        watcher.screenshot(path=str(ARTIFACTS / "browser-watch.png"))
        # The same players and scores at every tick both pages showed.
        seen = {p: p.evaluate("() => window.__hud") for p in (player, watcher)}
        common = sorted(set(seen[player]) & set(seen[watcher]) - {"–"}, key=int)
        assert len(common) >= 20, (len(seen[player]), len(seen[watcher]))
        for tick in common:
            assert seen[watcher][tick] == seen[player][tick], tick
        names = [name for _, name, _ in seen[watcher][common[-1]]]
        assert len(names) == 3 and "host" in names and "player" in names, names

        host.ride_straight()  # the host crashes: the bot is the last one standing
        for page in (player, watcher):
            page.wait_for_selector("#gameover", state="visible", timeout=30_000)
        assert watcher.evaluate(STANDINGS) == player.evaluate(STANDINGS)
        assert len(watcher.evaluate(STANDINGS)) == 3
        assert watch_state(watcher)["over"] is True
        assert watcher.text_content("#status") == "over"
        assert watcher.is_visible("#watch-another") and watcher.is_visible("#watch-play")
        assert not watcher.is_visible("#play-again")
        assert player.is_visible("#play-again") and not player.is_visible("#watch-another")

        watcher.click("#watch-another")  # no other match runs
        watcher.wait_for_selector("#watch-none", state="visible", timeout=5_000)
        watcher.click("#watch-play")  # quick play: a seat in a match of its own
        watcher.wait_for_function(
            "() => window.gameserver.match && window.gameserver.seat !== null"
            f" && window.gameserver.match.id !== '{match_id}' && !window.gameserver.watch",
            timeout=10_000,
        )
        assert not watcher.is_visible("#spectating-badge")
        for page in (player, watcher):
            assert page.errors == [] and page.violations == [], (page.errors, page.violations)
    finally:
        host.close()


def test_a_watcher_comes_back_after_a_network_cut(stack_factory, browser):  # noqa: F811
    base = stack_factory().web()
    proxy = FaultyProxy(int(base.rsplit(":", 1)[1]))
    answer = quick_play_match(base, "host")
    match_id = answer["match"]["id"]
    host = BackgroundPlayer(base, answer)
    try:
        watcher = open_page(browser, f"{proxy.base}/#watch={match_id}")
        wait_for_watched_tick(watcher, 0, timeout=20_000)
        watcher.evaluate("() => { window.marker = 'same page'; }")
        before = watch_state(watcher)
        assert before["open"] and before["reconnects"] == 0, before

        deadline = time.monotonic() + 2  # every connection, and each new one, is reset
        while time.monotonic() < deadline:
            proxy.cut()
            time.sleep(0.05)
        cut_at = watch_state(watcher)["tick"]

        watcher.wait_for_function(
            "() => window.gameserver.watch.reconnects >= 1 && !window.gameserver.watch.down",
            timeout=15_000,
        )
        wait_for_watched_tick(watcher, cut_at + 20, timeout=5_000)  # a second more of frames
        after = watch_state(watcher)
        assert after["open"] and after["match"] == match_id, after
        assert "reconnecting…" in watcher.evaluate("() => window.__status")
        assert watcher.text_content("#status") != "reconnecting…"
        assert len(watcher.streams) >= 2, watcher.streams  # the EventSource asked again
        assert watcher.evaluate("() => window.marker") == "same page" and watcher.loads == 1
        assert hud_tick(watcher) > cut_at
        assert watcher.errors == [] and watcher.violations == []
    finally:
        host.close()
        proxy.close()


def test_watching_over_the_game_socket(stack_factory, browser):  # noqa: F811
    base = stack_factory().web()
    answer = quick_play_match(base, "host")
    match_id = answer["match"]["id"]
    host = BackgroundPlayer(base, answer, steering=False)
    try:
        received: list[dict] = []
        sockets: list[str] = []

        def on_socket(ws) -> None:
            sockets.append(ws.url)
            ws.on("framereceived", lambda payload: received.append(json.loads(payload)))

        url = f"{base}/#watch={match_id}&via=ws"
        watcher = open_page(browser, url, record_sends=True, on_socket=on_socket)
        wait_for_watched_tick(watcher, 0, timeout=20_000)
        welcome = next(m for m in received if m["type"] == "welcome")
        assert welcome["role"] == "spectator" and welcome["seat"] is None, welcome
        assert sockets == [f"{base.replace('http', 'ws')}/ws/play/"], sockets  # no ticket in it
        state = watch_state(watcher)
        assert (state["via"], state["role"], state["seat"]) == ("ws", "spectator", None), state
        assert watcher.streams == [], "an EventSource was opened too"
        assert watcher.is_visible("#spectating-badge")
        watcher.wait_for_function(  # the socket's `spectators` message reaches the HUD
            "() => document.getElementById('hud-watchers').textContent === '1'", timeout=10_000
        )

        first = hud_tick(watcher)
        for key in ("ArrowUp", "ArrowLeft", "ArrowDown", "ArrowRight"):
            watcher.keyboard.press(key)
            watcher.wait_for_timeout(250)
        wait_for_watched_tick(watcher, first + 10, timeout=5_000)
        assert hud_tick(watcher) > first
        watcher.wait_for_function(
            "() => window.__sent.filter((m) => m.ack !== undefined).length >= 10", timeout=5_000
        )
        frames = [m for m in received if m["type"] == "frame"]
        assert len(frames) > 20 and frames[0]["key"], frames[:1]
        sent = watcher.evaluate("() => window.__sent")
        assert not [m for m in sent if m["type"] == "input"], "a spectator sent inputs"
        acks = [m["at"] for m in sent if m.get("ack") is not None]
        gaps = [b - a for a, b in zip(acks, acks[1:], strict=False)]
        assert len(acks) >= 8 and max(gaps[-8:]) <= 300, gaps  # flow control, as players do
        assert not [m for m in received if m["type"] == "error"], received[-3:]
        assert watcher.errors == [] and watcher.violations == []
    finally:
        host.close()
