"""Fixtures of the fault tests: a Redis they may restart and a PostgreSQL database they may
cut off. Both are stopped or dropped after the test, however it ended; ask for them before
`stack_factory`, so that the stack's processes stop first."""

from __future__ import annotations

import pytest

from tests.faults.postgres import PostgresDatabase, server_problem
from tests.faults.redis_server import RestartableRedis


@pytest.fixture
def restartable_redis(tmp_path):
    """A redis-server of the test's own, on a fixed free port, already answering."""
    server = RestartableRedis(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_db():
    """A fresh database on 127.0.0.1:5432; skips when the machine has no PostgreSQL."""
    problem = server_problem()
    if problem:
        pytest.skip(f"{problem}: the database fault tests need a local PostgreSQL")
    database = PostgresDatabase()
    try:
        yield database
    finally:
        database.drop()
