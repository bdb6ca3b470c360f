"""/readyz names Redis while it is away and is ready again once it is back; /healthz stays."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request

import pytest

from tests.support import wait_for

pytestmark = pytest.mark.timeout(90)


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_readyz_follows_redis_and_healthz_does_not(restartable_redis, stack_factory):
    stack = stack_factory(restartable_redis.url)
    stack.engine()
    web = stack.web("web", server="uvicorn")
    wait_for(lambda: get(web + "/readyz")[0] == 200, 15, "/readyz to answer 200")

    restartable_redis.stop()
    status, body = get(web + "/readyz")
    assert status == 503, body
    assert "redis" in body["failing"] and body["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert get(web + "/healthz") == (200, {"ok": True})

    restartable_redis.start()
    wait_for(lambda: get(web + "/readyz")[0] == 200, 20, "/readyz to answer 200 again")
    assert get(web + "/healthz") == (200, {"ok": True})


def test_readyz_names_the_engines_when_none_is_live(restartable_redis, stack_factory):
    stack = stack_factory(
        restartable_redis.url, GAMESERVER_ENGINE_HEARTBEAT="0.2", GAMESERVER_ENGINE_SILENT="1"
    )
    engine = stack.engine()
    web = stack.web("web", server="uvicorn")
    wait_for(lambda: get(web + "/readyz")[0] == 200, 15, "/readyz to answer 200")

    engine.stop(signal.SIGKILL)
    wait_for(lambda: get(web + "/readyz")[0] == 503, 10, "/readyz to answer 503")
    status, body = get(web + "/readyz")
    assert body["failing"] == ["engines"], body
    assert get(web + "/healthz") == (200, {"ok": True})
