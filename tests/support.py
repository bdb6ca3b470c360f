"""Test support: the process stack (games/loadtest/stack.py) and an HTTP API client of the game."""

from __future__ import annotations

import http.cookiejar
import json
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from games.loadtest.stack import (  # noqa: F401  (re-exported for the tests)
    PYTHON,
    ROOT,
    Process,
    Stack,
    free_port,
    redis_answers,
    wait_for,
)


class Api:
    """A player's browser session against the HTTP API: cookies and the CSRF header."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.get("/api/session")

    def _csrf(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": self._csrf(),
                "Referer": self.base + "/",
                "Origin": self.base,
            },
        )
        try:
            with self.opener.open(req, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (status, body)
        return body

    def post(self, path: str, body: Any = None, expect: int | tuple = (200, 201)) -> Any:
        status, answer = self.request("POST", path, body if body is not None else {})
        expected = expect if isinstance(expect, tuple) else (expect,)
        assert status in expected, (status, answer)
        return answer

    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws/play/"


STAFF_PASSWORD = "correct-horse-battery-staple"


def make_staff(stack: Stack, *names: str) -> None:
    """Superusers with STAFF_PASSWORD in the stack's database, made the way an operator would."""
    script = (
        "from django.contrib.auth import get_user_model as m\n"
        f"for name in {list(names or ['ops'])!r}: "
        f"m().objects.create_superuser(name, None, {STAFF_PASSWORD!r})"
    )
    subprocess.run([PYTHON, "manage.py", "shell", "-c", script], env=stack.env, cwd=ROOT,
                   check=True)  # fmt: skip


def stored_match(api: Api, match_id: str, timeout: float = 5) -> dict[str, Any]:
    """The match as the API has it once it is finished: the engine writes the result while
    `over` goes out, so a client may see `over` a moment before the database has it."""
    match = api.get(f"/api/matches/{match_id}")["match"]
    deadline = time.monotonic() + timeout
    while match["status"] != "finished" and time.monotonic() < deadline:
        time.sleep(0.1)
        match = api.get(f"/api/matches/{match_id}")["match"]
    return match
