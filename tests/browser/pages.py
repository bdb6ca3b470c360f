"""Pages the browser tests open (a player in a started quick-play match, a staff login) and a
scripted player beside them."""

from __future__ import annotations

import asyncio
import json
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
