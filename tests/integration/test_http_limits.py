"""The HTTP API's limits on real processes: two uvicorn web processes on one Redis share every
count (rate limits, the join-code lock-out, the open-match quota), a client at another
address is not held back, a long queue answers 503 `busy`, and malformed bodies get JSON 400s
with no traceback in either server's log. (tests/test_api.py has each limit in one process.)
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import json
import sqlite3
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

import pytest
import redis

from tests.support import Api

pytestmark = pytest.mark.timeout(120)

SETTINGS = {
    "GAMESERVER_LIMIT_GUEST_PER_ADDRESS": "5/minute",
    "GAMESERVER_LIMIT_CREATE_PER_USER": "100/minute",  # the quota, not the rate, refuses
    "GAMESERVER_LIMIT_CREATE_PER_ADDRESS": "100/minute",
    "GAMESERVER_MAX_OPEN_MATCHES_PER_ADDRESS": "100",
    "GAMESERVER_CODE_FAILURES": "2",
    "GAMESERVER_MAX_QUEUED": "6",
}
PRIVATE = {"game": "lightcycles", "private": True, "seats": 2}


class SourceHandler(urllib.request.HTTPHandler):
    """Connections from a chosen loopback address: 127.0.0.2 is another client to a server
    on 127.0.0.1."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def http_open(self, req):
        connection = functools.partial(http.client.HTTPConnection, source_address=(self.source, 0))
        return self.do_open(connection, req)


class ApiFrom(Api):
    """Api from `source` instead of 127.0.0.1."""

    def __init__(self, base: str, source: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            SourceHandler(source), urllib.request.HTTPCookieProcessor(self.cookies)
        )
        self.get("/api/session")


def elsewhere(api: Api, base: str) -> Api:
    """The same session on another web process (cookies do not care about the port)."""
    twin = Api.__new__(type(api))
    twin.__dict__.update(api.__dict__, base=base)
    return twin


def guest(api: Api, name: str) -> Api:
    api.post("/api/guest", {"name": name})
    return api


def send(api: Api, path: str, body: Any) -> tuple[int, Any, str]:
    """POST `body` (JSON, or a str sent as it is): status, answer, Retry-After."""
    raw = body if isinstance(body, str) else json.dumps(body)
    req = urllib.request.Request(
        api.base + path,
        data=raw.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-CSRFToken": api._csrf(),
                 "Referer": api.base + "/", "Origin": api.base},
    )  # fmt: skip
    try:
        with api.opener.open(req, timeout=10) as response:
            return response.status, json.loads(response.read()), ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("Retry-After", "")


def assert_refused(answer: tuple[int, Any, str], status: int, code: str) -> str:
    """The answer is `status` with error `code` and a Retry-After; returns its message."""
    got, body, retry_after = answer
    assert got == status and body["error"]["code"] == code, answer
    assert retry_after.isdigit(), answer
    return body["error"]["message"]


def match_rows(stack) -> int:
    with closing(sqlite3.connect(stack.tmp / "db.sqlite3", timeout=10)) as db:
        return db.execute("SELECT count(*) FROM games_match").fetchone()[0]


def test_limits_hold_across_two_web_processes_on_redis(redis_url, stack_factory):
    stack = stack_factory(redis_url, **SETTINGS)
    one, two = stack.web("web1", server="uvicorn"), stack.web("web2", server="uvicorn")

    # Guests: five from 127.0.0.1 over both processes, the sixth refused on either.
    apis = [guest(Api((one, two)[n % 2]), f"p{n}") for n in range(5)]
    for base in (one, two):
        message = assert_refused(
            send(Api(base), "/api/guest", {"name": "six"}), 429, "rate_limited"
        )
        assert message.startswith("at most 5 guests (or renames) per minute from one address")
    far = guest(ApiFrom(two, "127.0.0.2"), "far")  # another address: served

    # 20 private matches asked for at once by one player over both processes: 2 made.
    alice = apis[0]
    sessions = [alice if n % 2 == 0 else elsewhere(alice, two) for n in range(20)]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda api: send(api, "/api/matches", PRIVATE), sessions))
    made = [body for status, body, _ in answers if status == 201]
    assert len(made) == 2, answers
    for answer in answers:
        if answer[0] != 201:
            assert "at most 2 matches" in assert_refused(answer, 429, "open_match_quota")
    assert match_rows(stack) == 2

    # A private match is not joined by its id, on either process.
    for base in (one, two):
        answer = send(elsewhere(apis[2], base), f"/api/matches/{made[1]['match']['id']}/join", {})
        status, body, _ = answer
        assert (status, body["error"]["code"]) == (403, "private_match"), answer
        assert made[1]["match"]["code"] not in json.dumps(body)

    # Guessing codes: two wrong ones are free, the third locks mallory out on both processes.
    code = made[0]["match"]["code"]
    mallory = apis[1]
    for n, guess in enumerate(["AAAAAAAA", "BBBBBBBB", "CCCCCCCC"]):
        status, body, _ = send(elsewhere(mallory, (one, two)[n % 2]), "/api/join-by-code",
                               {"code": guess})  # fmt: skip
        assert (status, body["error"]["code"]) == (404, "no_such_code"), body
    for base in (one, two):
        answer = send(elsewhere(mallory, base), "/api/join-by-code", {"code": code})
        assert "locked out" in assert_refused(answer, 429, "rate_limited")
        assert answer[2] in ("1", "2"), answer
    assert far.post("/api/join-by-code", {"code": code})["seat"] == 1  # the friend gets in

    # More than GAMESERVER_MAX_QUEUED new matches unclaimed (no engine runs): 503 busy.
    queue = redis.Redis.from_url(redis_url)
    key = stack.env["GAMESERVER_REDIS_PREFIX"] + ":queue"
    makers = [guest(ApiFrom((one, two)[n % 2], f"127.0.0.{10 + n}"), f"c{n}") for n in range(6)]
    answers = [send(api, "/api/matches", PRIVATE) for api in makers]
    assert [status for status, _, _ in answers] == [201] * 5 + [503], answers
    assert_refused(answers[-1], 503, "busy")
    assert answers[-1][2] == "5" and queue.llen(key) == 7  # alice's 2 and the first 5

    # Malformed bodies: JSON 400s from both processes, and no traceback in their logs.
    deep = '{"game": ' + "[" * 2000 + "]" * 2000 + "}"
    bad = [
        ("/api/quickplay", {"game": []}, "bad_game"),
        ("/api/quickplay", deep, "bad_json"),
        ("/api/matches", {"game": "lightcycles", "seats": True}, "bad_seats"),
        ("/api/matches", {"game": "lightcycles", "private": "no"}, "bad_private"),
        ("/api/join-by-code", {"code": {"$ne": ""}}, "bad_code"),
    ]
    for base in (one, two):
        for path, body, code in bad:
            status, answer, _ = send(elsewhere(apis[3], base), path, body)
            assert (status, answer["error"]["code"]) == (400, code), answer
    for web in stack.webs:
        assert "Traceback" not in web.output(), web.output()[-3000:]
