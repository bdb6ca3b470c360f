"""A throwaway PostgreSQL database per test, on the machine's server at 127.0.0.1:5432 (user
postgres, trust auth), that a test can make refuse connections for a while.

An outage of one database without touching the server (other tests may share it):
`ALTER DATABASE ... ALLOW_CONNECTIONS false` turns new connections away ("database ... is not
currently accepting connections") and pg_terminate_backend cuts the open ones, as a failover
or a restart of the server would; `ALLOW_CONNECTIONS true` ends it.
"""

from __future__ import annotations

import time
import uuid

import psycopg
from psycopg import sql

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"


def server_problem() -> str | None:
    """Why the machine's PostgreSQL cannot serve the tests, or None when it can."""
    try:
        with psycopg.connect(host=HOST, port=PORT, user=USER, dbname="postgres", connect_timeout=3):
            return None
    except psycopg.Error as error:
        cause = " ".join(str(error).split())
        return f"no PostgreSQL at {USER}@{HOST}:{PORT} with trust auth ({cause})"


def _admin() -> psycopg.Connection:
    return psycopg.connect(
        host=HOST, port=PORT, user=USER, dbname="postgres", autocommit=True, connect_timeout=5
    )


class PostgresDatabase:
    """A database created for one test and dropped after it, whatever the test left open."""

    def __init__(self) -> None:
        self.name = f"gs_fault_{uuid.uuid4().hex[:12]}"
        self.url = f"postgres://{USER}@{HOST}:{PORT}/{self.name}"
        self.refused_at: float | None = None  # time.monotonic() the last outage began
        self.allowed_at: float | None = None  # ...and ended
        with _admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def refuse_connections(self) -> int:
        """Turn new connections away and cut the open ones; returns how many were cut."""
        with _admin() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                    sql.Identifier(self.name)
                )
            )
            self.refused_at = time.monotonic()
            return self._terminate(conn)

    def allow_connections(self) -> None:
        with _admin() as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(
                    sql.Identifier(self.name)
                )
            )
        self.allowed_at = time.monotonic()

    def answers(self) -> bool:
        """Does the database take a new connection now?"""
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def backends(self) -> int:
        """Connections open to the database (the stack's processes), this one not counted."""
        with _admin() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.name]
            ).fetchone()
        return int(row[0])

    def _terminate(self, conn: psycopg.Connection) -> int:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.name],
        ).fetchall()
        return len(rows)

    def drop(self) -> None:
        """Drop the database even if connections are still open (PostgreSQL 13+: FORCE)."""
        with _admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )
