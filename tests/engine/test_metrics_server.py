"""The engine's metrics port, and how faults and close codes become labels."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import redis
from django.db import OperationalError

from games import metrics
from games.engine.metrics_server import start_metrics_server
from games.store_types import StoreUnavailable


async def ask(port: int, request: bytes) -> tuple[str, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


class FakeHost:
    name, channel = "e1", "engine.x"
    runtimes = {"m1": SimpleNamespace(phase="playing")}


async def test_the_metrics_port_answers_healthz_metrics_and_nothing_else():
    host = FakeHost()
    metrics.watch_engine(host)
    server = await start_metrics_server(host, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        status, body = await ask(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == "HTTP/1.1 200 OK"
        assert json.loads(body) == {"ok": True, "name": "e1", "matches": 1, "started": True}
        status, body = await ask(port, b"GET /metrics?x=1 HTTP/1.1\r\n\r\n")
        assert status == "HTTP/1.1 200 OK"
        assert b'gameserver_matches{phase="playing"} 1.0' in body
        status, _ = await ask(port, b"GET /other HTTP/1.1\r\n\r\n")
        assert status == "HTTP/1.1 404 Not Found"
        status, body = await ask(port, b"\r\n")  # no HTTP at all: closed without an answer
        assert status == "" and body == b""
    finally:
        server.close()


def test_faults_are_counted_by_what_failed():
    redis_before = metrics.REDIS_ERRORS._value.get()
    database_before = metrics.DATABASE_ERRORS._value.get()
    unavailable = StoreUnavailable("Redis did not answer")
    unavailable.__cause__ = redis.ConnectionError("refused")
    for error in (redis.TimeoutError(), unavailable, OperationalError(), ValueError("a bug")):
        metrics.count_fault(error)
    assert metrics.REDIS_ERRORS._value.get() == redis_before + 2
    assert metrics.DATABASE_ERRORS._value.get() == database_before + 1


def test_a_client_cannot_grow_the_close_code_labels():
    assert metrics.close_code_label(4408, by_client=False) == "4408"
    assert metrics.close_code_label(1001, by_client=True) == "1001"
    assert metrics.close_code_label(4999, by_client=True) == "other"
    assert metrics.close_code_label(None, by_client=True) == "1005"
