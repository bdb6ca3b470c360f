"""Pages the browser tests open (a player in a started quick-play match, a staff login) and a
scripted player beside them."""

from __future__ import annotations

import asyncio
import json
import re
import threading

from tests.browser.test_client import policy_violations
from tests.matches import close_all, start, steer, stop_tasks
from tests.players import Player
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


class BackgroundPlayer:
    """A scripted player (tests/players.py) on an event loop of its own, beside the sync
    Playwright calls: it acks, and steers clear of crashes until ride_straight()."""

    def __init__(self, base: str, answer: dict, steering: bool = True):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.player = Player(base.replace("http://", "ws://") + "/ws/play/", answer, base)
        self.reader = self.steering = None
        self._call(self._start(steering))

    def _call(self, coroutine, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start(self, steering: bool) -> None:
        self.reader = await start(self.player)
        if steering:
            self.steering = asyncio.create_task(steer(self.player))

    async def _stop_steering(self) -> None:
        if self.steering is not None:
            await stop_tasks(self.steering)

    def ride_straight(self) -> None:
        """Stop steering: the cycle rides into a wall or a trail within seconds."""
        self._call(self._stop_steering())

    def say(self, text: str) -> None:
        """A line in the match's chat, from this player's game socket."""
        self._call(self.player.ws.send(json.dumps({"type": "chat", "text": text})))

    def close(self) -> None:
        async def finish() -> None:
            await self._stop_steering()
            await close_all([self.player], [self.reader])

        try:
            self._call(finish())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


# Records what the page sends on its sockets, so the test can see the acks.
RECORD_SENDS = """
window.__sent = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  try {
    const m = JSON.parse(data);
    window.__sent.push({ at: performance.now(), type: m.type, ack: m.ack });
  } catch (e) {}
  return send.call(this, data);
};
"""


# Records the `data` of every input the page sends on its sockets, so a test can see what a
# click or a key sent (and that one sent nothing).
RECORD_INPUTS = """
window.__inputs = [];
const sendInput = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  try {
    const m = JSON.parse(data);
    if (m.type === "input") window.__inputs.push(m.data);
  } catch (e) {}
  return sendInput.call(this, data);
};
"""


def game_lobby_page(browser, base: str, name: str, game: str, **context):
    """A fresh context's page in the lobby as `name`, with `game` chosen once the server's list
    offers it. The page records the inputs it sends (RECORD_INPUTS). `page.received` gets every
    `frame` message its sockets receive, decoded; `page.errors` its script errors and console
    errors (but those of another game's missing client); `page.violations` the refusals of the
    Content-Security-Policy. `context` goes to browser.new_context (viewport, has_touch…)."""
    context.setdefault("viewport", {"width": 1100, "height": 900})
    page = browser.new_context(**context).new_page()
    page.violations = policy_violations(page)
    page.errors, page.received = [], []
    page.on("pageerror", lambda error: page.errors.append(str(error)))

    def on_console(message) -> None:
        # The lobby loads every listed game's client; another game's missing (or half-made)
        # one is not this page's fault.
        url = message.location.get("url", "")
        other = re.search(r"/static/js/games/(\w+)/", f"{url} {message.text}")
        if message.type == "error" and not (other and other.group(1) != game):
            page.errors.append(f"{message.text} ({url})")

    page.on("console", on_console)

    def on_socket(ws) -> None:
        def on_frame(payload) -> None:
            message = json.loads(payload) if isinstance(payload, str) else None
            if message and message.get("type") == "frame":
                page.received.append(message)

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    page.add_init_script(RECORD_INPUTS)
    page.goto(base + "/")
    page.fill("#name", name)
    page.wait_for_function(
        "(game) => [...document.querySelectorAll('#game-select option')]"
        ".some((o) => o.value === game && o.textContent.includes('players'))",
        arg=game,
    )
    page.select_option("#game-select", game)
    return page
