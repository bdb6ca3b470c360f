"""Supervised loops: they outlive their faults, log them without flooding, and resume."""

from __future__ import annotations

import asyncio
import logging

import pytest

from games import supervise
from games.supervise import FaultLog, ThrottleRepeats, retry_forever, run_forever


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(supervise, "FIRST_BACKOFF", 0.001)


async def test_a_loop_survives_failing_passes_and_says_when_it_recovered(caplog):
    calls = []

    async def one_pass():
        calls.append(1)
        if 2 <= len(calls) <= 40:
            raise ConnectionError("Redis went away")
        if len(calls) > 45:
            await asyncio.sleep(3600)

    with caplog.at_level(logging.INFO, logger="games.supervise"):
        task = asyncio.create_task(run_forever("test loop", one_pass, max_backoff=0.002))
        while len(calls) <= 45:
            await asyncio.sleep(0.01)
        task.cancel()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "test loop failed: ConnectionError: Redis went away"
    assert caplog.records[0].exc_info is None  # an outage is one line, not a traceback
    assert lines[1].startswith("test loop recovered after 39 failures in ")
    assert len(lines) == 2


async def test_a_bug_is_logged_with_its_traceback(caplog):
    faults = FaultLog("worker")
    with caplog.at_level(logging.ERROR):
        try:
            {}["missing"]
        except KeyError as error:
            faults.failed(error)
    assert caplog.records[0].exc_info is not None


async def test_a_long_fault_is_logged_again_only_every_log_every_seconds(caplog, monkeypatch):
    faults = FaultLog("worker")
    clock = [1000.0]
    monkeypatch.setattr(supervise.time, "monotonic", lambda: clock[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(100):  # a failure a second for 100 s
            faults.failed(TimeoutError("timed out"))
            clock[0] += 1
    assert len(caplog.records) == 1 + 100 // int(supervise.LOG_EVERY)
    assert "still failing: 30 more failures in 30 s" in caplog.records[1].getMessage()


async def test_retry_forever_returns_the_value_once_the_call_works():
    attempts = []

    async def call():
        attempts.append(1)
        if len(attempts) < 4:
            raise OSError("database refused the connection")
        return "written"

    assert await retry_forever("writing", call, max_backoff=0.002) == "written"
    assert len(attempts) == 4


def test_a_chatty_library_is_held_to_a_line_per_log_every_seconds():
    throttle = ThrottleRepeats()
    records = [
        logging.LogRecord("channels_redis.pubsub", logging.ERROR, "", 0, "receive failed", (), None)
        for _ in range(50)
    ]
    assert [throttle.filter(r) for r in records].count(True) == 1
    other = logging.LogRecord("games.hub", logging.ERROR, "", 0, "receive failed", (), None)
    assert throttle.filter(other)  # our own loggers throttle themselves (FaultLog)
