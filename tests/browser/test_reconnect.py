"""The browser client in real Chromium when the connection fails (docs/PROTOCOL.md, "Dropping
out and reconnecting"): it acks while frames come, gets its seat back after a cut or a silent
connection without reloading the page, shows who else is away, and stops for good when another
tab takes the seat or the grace period runs out. The page talks to the server through a
FaultyProxy (tests/proxy.py) so the test can break the connection."""

from __future__ import annotations

import pytest

from tests.browser.pages import RECORD_SENDS
from tests.browser.test_client import KEYS, PERPENDICULAR, browser  # noqa: F401  (fixture)
from tests.proxy import FaultyProxy

pytestmark = pytest.mark.timeout(120)

# Shows whether the reconnect overlay was ever on screen and what it said, however briefly.
WATCH_OVERLAY = """() => {
  window.__overlay = [];
  const el = document.getElementById('reconnecting');
  new MutationObserver(() => {
    if (!el.hidden) window.__overlay.push(el.innerText);
  }).observe(el, { attributes: true, childList: true, subtree: true, characterData: true });
}"""


@pytest.fixture
def proxied(stack_factory):
    """A web process behind a FaultyProxy; the page talks to the proxy only."""

    def make(**settings: str) -> FaultyProxy:
        base = stack_factory(**settings).web()
        proxy = FaultyProxy(int(base.rsplit(":", 1)[1]))
        proxies.append(proxy)
        return proxy

    proxies: list[FaultyProxy] = []
    yield make
    for proxy in proxies:
        proxy.close()


def new_context(browser):  # noqa: F811  (the fixture's value)
    """A browser profile of its own: its own cookies, so its own player."""
    return browser.new_context(viewport={"width": 1100, "height": 760})


def open_page(context, base: str):
    """A page with `errors` (uncaught exceptions) and `loads` (how often it loaded)."""
    page = context.new_page()
    page.errors = []
    page.loads = 0

    def loaded() -> None:
        page.loads += 1

    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("load", loaded)
    page.add_init_script(RECORD_SENDS)
    page.goto(base + "/")
    return page


def quick_play_until(page, phase: str) -> int:
    """Quick play from the lobby until the match is in `phase`; returns my seat."""
    page.fill("#name", "tester")
    page.click("#quickplay")
    page.wait_for_selector("#game", state="visible")
    wait_for_phase(page, phase)
    return page.evaluate("() => window.gameserver.seat")


def wait_for_phase(page, phase: str) -> None:
    page.wait_for_function(
        "() => window.gameserver && window.gameserver.model"
        f" && window.gameserver.model.phase === '{phase}'",
        timeout=30_000,
    )


def ack_gaps(page, window_ms: int) -> list[float]:
    """Milliseconds between the page's ack-carrying messages (ack or input) in the last
    `window_ms`."""
    return page.evaluate(
        """(windowMs) => {
        const since = performance.now() - windowMs;
        const acks = window.__sent.filter((m) => m.ack !== undefined && m.at > since);
        const at = acks.map((m) => m.at);
        return at.slice(1).map((t, i) => Math.round(t - at[i]));
    }""",
        window_ms,
    )


# Call before breaking the connection: wait_for_reconnect() tells the new socket from this one.
REMEMBER_SOCKET = "() => { window.__oldSocket = window.gameserver.socket; }"


def wait_for_reconnect(page, timeout: int) -> None:
    """Until the page got its seat back on a new, open socket, without reloading."""
    page.wait_for_function(
        """() => {
        const g = window.gameserver;
        return g.reconnects >= 1 && g.socket && g.socket !== window.__oldSocket
          && g.socket.open && !g.model.stale;
    }""",
        timeout=timeout,
    )


def turn_my_cycle(page, seat: int) -> None:
    """A key press still steers: my cycle's heading changes to the key's direction."""
    me = f"window.gameserver.model.players[{seat}]"
    state = page.evaluate(f"() => ({{phase: window.gameserver.model.phase, alive: {me}.alive}})")
    assert state == {"phase": "play", "alive": True}, f"cannot steer any more: {state}"
    turn = PERPENDICULAR[page.evaluate(f"() => {me}.dir")]
    page.keyboard.press(KEYS[turn])
    page.wait_for_function(f"() => {me}.dir === '{turn}'", timeout=5_000)


def test_a_cut_connection_comes_back_to_the_same_seat_without_a_reload(proxied, browser):  # noqa: F811
    proxy = proxied()
    page = open_page(new_context(browser), proxy.base)
    page.evaluate("() => { window.marker = 'same page'; }")
    seat = quick_play_until(page, "countdown")

    # Frames flow during the countdown too: the page acks them at least every 250 ms.
    page.wait_for_timeout(1200)
    gaps = ack_gaps(page, 1000)
    assert len(gaps) >= 3 and max(gaps) <= 300, f"gaps between acks (ms): {gaps}"

    # Cut as soon as the cycles move: straight on, mine is safe for 1.2 s (SPAWN_CLEAR_MOVES),
    # the time a quick reconnect takes, so the key press after it still has a cycle to turn.
    wait_for_phase(page, "play")
    page.evaluate(WATCH_OVERLAY)
    page.evaluate(REMEMBER_SOCKET)
    proxy.cut()
    wait_for_reconnect(page, timeout=15_000)
    resumed_at = page.evaluate("() => window.gameserver.model.tick")
    after = page.evaluate(
        """() => ({seat: window.gameserver.seat, marker: window.marker,
        overlay: window.__overlay, hidden: document.getElementById('reconnecting').hidden,
        oldOpen: window.__oldSocket.open})"""
    )
    assert after["seat"] == seat
    assert after["marker"] == "same page" and page.loads == 1, "the page reloaded"
    assert after["oldOpen"] is False
    assert after["overlay"] and "Reconnecting" in after["overlay"][0], after["overlay"]
    assert "left to get your seat back" in after["overlay"][0], after["overlay"]
    assert after["hidden"], "the reconnect overlay stays up after the reconnect"
    # The new socket's frames move the model on, and a key still steers my cycle.
    page.wait_for_function(f"() => window.gameserver.model.tick > {resumed_at}", timeout=5_000)
    turn_my_cycle(page, seat)
    assert page.errors == []


def test_a_connection_that_goes_silent_is_noticed_and_replaced(proxied, browser):  # noqa: F811
    """A frozen path closes nothing: the page's own watchdog must notice, then reconnect."""
    proxy = proxied()
    page = open_page(new_context(browser), proxy.base)
    seat = quick_play_until(page, "countdown")
    page.evaluate(REMEMBER_SOCKET)
    proxy.freeze()
    page.wait_for_selector("#reconnecting", state="visible", timeout=10_000)
    proxy.thaw()
    wait_for_reconnect(page, timeout=20_000)
    resumed_at = page.evaluate("() => window.gameserver.model.tick")
    page.wait_for_function(f"() => window.gameserver.model.tick > {resumed_at}", timeout=5_000)
    assert page.evaluate("() => window.gameserver.seat") == seat
    assert page.loads == 1
    assert page.errors == []


def test_a_cut_while_waiting_for_players_comes_back_to_the_waiting_room(proxied, browser):  # noqa: F811
    """No frames come before the match starts: the lobby message must end the outage."""
    proxy = proxied(GAMESERVER_PRIVATE_BOT_FILL_SECONDS="60")
    page = open_page(new_context(browser), proxy.base)
    page.fill("#name", "host")
    page.click("#create-private")
    page.wait_for_function(
        "() => document.querySelector('#waiting-text').textContent.includes('host (you)')",
        timeout=15_000,
    )
    page.evaluate(REMEMBER_SOCKET)
    proxy.cut()
    wait_for_reconnect(page, timeout=10_000)
    assert page.is_hidden("#reconnecting"), "the reconnect overlay stays up after the reconnect"
    assert "host (you)" in page.text_content("#waiting-text")
    assert page.text_content("#status") == "waiting…"
    assert page.loads == 1
    assert page.errors == []


def test_other_players_who_drop_out_show_as_away(proxied, browser):  # noqa: F811
    proxy = proxied(GAMESERVER_BOT_FILL_SECONDS="4")
    direct = f"http://127.0.0.1:{proxy.target_port}"
    me = open_page(new_context(browser), direct)
    other_context = new_context(browser)
    other = open_page(other_context, direct)
    for page in (me, other):
        page.fill("#name", "tester")
        page.click("#quickplay")
        page.wait_for_selector("#game", state="visible")
    match_id = me.evaluate("() => window.gameserver.match.id")
    assert other.evaluate("() => window.gameserver.match.id") == match_id
    their_seat = other.evaluate("() => window.gameserver.seat")
    wait_for_phase(me, "play")
    hud_row = f"#hud-players li[data-seat='{their_seat}']"
    assert "away" not in (me.get_attribute(hud_row, "class") or "")

    other_context.close()  # the tab is gone: its socket closes, the seat waits for it
    me.wait_for_selector(f"{hud_row}.away", timeout=5_000)
    assert me.text_content(f"{hud_row} .state") == "(away)"
    assert me.evaluate(f"() => window.gameserver.model.players[{their_seat}].connected") is False
    assert me.errors == []


def test_a_second_tab_takes_the_seat_and_the_first_stops_for_good(proxied, browser):  # noqa: F811
    proxy = proxied()
    context = new_context(browser)
    first = open_page(context, proxy.base)
    quick_play_until(first, "countdown")
    match_id = first.evaluate("() => window.gameserver.match.id")

    # The same player (same cookies) opens the seat in a second tab.
    second = open_page(context, proxy.base)
    second.evaluate(
        """async (matchId) => {
        const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
        const answer = await fetch(`/api/matches/${matchId}/ticket`,
          {method: "POST", headers: {"X-CSRFToken": csrf}, body: "{}"});
        const {ticket} = await answer.json();
        window.__ws = new WebSocket(`ws://${location.host}/ws/play/`,
          ["gameserver.v1.json", "ticket." + ticket]);
        window.__frames = 0;
        window.__ws.onmessage = (e) => {
          if (JSON.parse(e.data).type === "frame") window.__frames += 1;
        };
    }""",
        match_id,
    )
    first.wait_for_selector("#lobby", state="visible", timeout=10_000)
    assert "another tab or device" in first.text_content("#error")
    # No fight over the seat: the first tab stays away, the second keeps playing.
    first.wait_for_timeout(2000)
    assert first.evaluate("() => window.gameserver.reconnects") == 0
    assert first.evaluate("() => window.gameserver.socket") is None
    assert second.evaluate("() => window.__ws.readyState") == 1
    assert second.evaluate("() => window.__frames") > 20
    assert first.errors == []


def test_a_seat_is_lost_when_the_grace_period_runs_out(proxied, browser):  # noqa: F811
    proxy = proxied(GAMESERVER_RECONNECT_GRACE="3")
    page = open_page(new_context(browser), proxy.base)
    quick_play_until(page, "play")
    match_id = page.evaluate("() => window.gameserver.match.id")
    # Every ticket request fails as on a dead network, so the page can only count down.
    page.route("**/api/matches/*/ticket", lambda route: route.abort("connectionreset"))
    page.evaluate(WATCH_OVERLAY)
    proxy.cut()
    page.wait_for_selector("#lobby", state="visible", timeout=10_000)
    error = page.text_content("#error")
    assert "seat was lost" in error, error
    overlay = page.evaluate("() => window.__overlay")
    seconds = {line for text in overlay for line in text.split("\n") if line.endswith(" s")}
    assert {"3 s", "2 s", "1 s"} <= seconds, overlay
    assert any("Attempt 3" in text for text in overlay), overlay
    assert page.evaluate("() => window.gameserver.reconnects") == 0

    # The server agrees: the seat is gone, a new ticket is refused with 410.
    page.unroute("**/api/matches/*/ticket")
    status = page.evaluate(
        """async (matchId) => {
        const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
        for (let i = 0; i < 20; i++) {
          const answer = await fetch(`/api/matches/${matchId}/ticket`,
            {method: "POST", headers: {"X-CSRFToken": csrf}, body: "{}"});
          // 429: one ticket a second per seat (docs/PROTOCOL.md); ask again
          if (answer.status !== 200 && answer.status !== 429) return answer.status;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        return 200;
    }""",
        match_id,
    )
    assert status == 410
    assert page.errors == []
