"""What every fault test asserts afterwards, read straight from the stack's database and Redis
(not through Django's ORM, so it holds whatever settings the test process runs under): each
finished match has one result, the one its players were sent in `over`, with the standings in
its seats; and no `waiting`/`running` match is left that no engine owns or will claim."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import dj_database_url
import redis

from tests.players import Player
from tests.support import Process, Stack

OPEN = ("waiting", "running")


@dataclass(frozen=True)
class MatchRow:
    public_id: str
    status: str
    result: dict[str, Any] | None
    ended_at: object | None


@dataclass(frozen=True)
class SeatRow:
    seat: int
    bot: bool
    score: int | None
    placement: int | None
    left_at: object | None


def query(stack: Stack, sql: str) -> list[tuple]:
    db = dj_database_url.parse(stack.env["DATABASE_URL"])
    if db["ENGINE"].endswith("sqlite3"):
        uri = f"file:{db['NAME']}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:  # `with` alone: no close
            return conn.execute(sql).fetchall()
    import psycopg

    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"]}
    params |= {"password": db["PASSWORD"], "dbname": db["NAME"]}
    with psycopg.connect(**{k: v for k, v in params.items() if v}, connect_timeout=5) as conn:
        return conn.execute(sql).fetchall()


def matches(stack: Stack) -> dict[str, MatchRow]:
    """Every match row by public id."""
    rows = query(stack, "SELECT public_id, status, result, ended_at FROM games_match")
    return {
        public_id: MatchRow(public_id, status, _json(result), ended_at)
        for public_id, status, result, ended_at in rows
    }


def _json(value: Any) -> Any:
    """SQLite hands JSON columns back as text, PostgreSQL's jsonb as Python values."""
    return json.loads(value) if isinstance(value, str) else value


def seats(stack: Stack, match_id: str) -> dict[int, SeatRow]:
    """The participants of one match by seat."""
    rows = query(
        stack,
        "SELECT m.public_id, p.seat, p.bot, p.score, p.placement, p.left_at "
        "FROM games_participant p JOIN games_match m ON m.id = p.match_id",
    )
    return {
        seat: SeatRow(seat, bool(bot), score, placement, left_at)
        for public_id, seat, bot, score, placement, left_at in rows
        if public_id == match_id
    }


def redis_client(stack: Stack) -> redis.Redis:
    """The stack's Redis; `redis+sentinel://h:p,h:p/master/db` asks the sentinels."""
    url = stack.env["REDIS_URL"]
    if not url.startswith("redis+sentinel://"):
        return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    from redis.sentinel import Sentinel

    hosts, master, *db = url.removeprefix("redis+sentinel://").split("/")
    nodes = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in hosts.split(",")]
    sentinel = Sentinel(nodes, socket_timeout=2)
    return sentinel.master_for(master, db=int(db[0]) if db and db[0] else 0, socket_timeout=2)


def prefix(stack: Stack) -> str:
    return stack.env["GAMESERVER_REDIS_PREFIX"]


def owner_channel(stack: Stack, match_id: str) -> str | None:
    """The channel of the engine holding the match's lease (its value is "<channel> <token>")."""
    value = redis_client(stack).get(f"{prefix(stack)}:lease:{match_id}")
    return value.decode().split()[0] if value else None


def owner_engine(stack: Stack, match_id: str, timeout: float = 10) -> Process:
    """The engine process running the match: it logs the channel it listens on at start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        channel = owner_channel(stack, match_id)
        found = [e for e in stack.engines if channel and channel in e.output()]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no engine of the stack holds the lease of {match_id}")


def agreed_result(players: Iterable[Player]) -> dict[str, Any]:
    """The one result every player of a match was sent in `over`."""
    results = [p.over["result"] if p.over else None for p in players]
    assert results and all(r is not None for r in results), f"not every player got over: {results}"
    assert all(r == results[0] for r in results), f"players were sent different results {results}"
    return results[0]


def _unowned(stack: Stack) -> list[str]:
    """Waiting/running matches with no lease and not in the queue: nobody will run them."""
    client = redis_client(stack)
    queued = {m.decode() for m in client.lrange(f"{prefix(stack)}:queue", 0, -1)}
    return [
        m.public_id
        for m in matches(stack).values()
        if m.status in OPEN
        and m.public_id not in queued
        and not client.exists(f"{prefix(stack)}:lease:{m.public_id}")
    ]


def _result_problems(stack: Stack, seen: Mapping[str, dict[str, Any]]) -> list[str]:
    rows = matches(stack)
    problems = []
    for match_id, result in seen.items():
        row = rows.get(match_id)
        if row is None or row.status != "finished":
            problems.append(f"{match_id}: {row.status if row else 'no row'}, not finished")
        elif row.result != result:
            problems.append(f"{match_id}: stored {row.result}, players saw {result}")
    for row in rows.values():
        if row.status != "finished":
            continue
        if row.result is None or row.ended_at is None:
            problems.append(f"{row.public_id}: finished with result {row.result}, {row.ended_at}")
            continue
        places = {s.seat: (s.score, s.placement) for s in seats(stack, row.public_id).values()}
        standings = {s["seat"]: (s["score"], s["placement"]) for s in row.result["standings"]}
        if places != standings:
            problems.append(f"{row.public_id}: seats {places} but standings {standings}")
    return problems


def assert_database(
    stack: Stack, seen: Mapping[str, dict[str, Any]], *, wait: float = 10, converge: float = 5
) -> None:
    """`seen` maps each match the players saw end to the result they got in `over`. Waits up to
    `wait` s for those results to be written (an outage may delay it), then up to `converge` s
    for every open match to have an owner or a place in the queue."""
    deadline = time.monotonic() + wait
    while problems := _result_problems(stack, seen):
        if time.monotonic() > deadline:
            raise AssertionError("results in the database:\n" + "\n".join(problems))
        time.sleep(0.2)
    deadline = time.monotonic() + converge
    while unowned := _unowned(stack):
        if time.monotonic() > deadline:
            raise AssertionError(f"open matches that no engine owns nor will claim: {unowned}")
        time.sleep(0.2)
