"""Fixtures that start real servers; every process a test starts is stopped after it."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import Stack, free_port, redis_answers, wait_for


@pytest.fixture(scope="session")
def redis_url():
    """REDIS_URL if it answers, else a throwaway redis-server on a free port."""
    url = os.environ.get("GAMESERVER_TEST_REDIS_URL", "")
    if url and redis_answers(url):
        yield url
        return
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(lambda: redis_answers(url), 15, "redis-server to answer")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def stack_factory(tmp_path):
    stacks: list[Stack] = []

    def make(redis_url: str | None = None, **settings: str) -> Stack:
        stack = Stack(tmp_path, redis_url, **settings)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
