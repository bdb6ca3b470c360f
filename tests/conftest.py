"""Fixtures that start real servers; every process a test starts is stopped after it."""

from __future__ import annotations

import os

import pytest

from games.loadtest.stack import Stack, redis_answers, start_redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """REDIS_URL if it answers, else a throwaway redis-server on a free port."""
    url = os.environ.get("GAMESERVER_TEST_REDIS_URL", "")
    if url and redis_answers(url):
        yield url
        return
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        process.stop()


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
