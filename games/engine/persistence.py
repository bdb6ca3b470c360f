"""The engine's database calls: each retried until the database answers, however long.

A result is never given up on: the match stays held (lease, final checkpoint) while its
result waits, so a restarted or replacing engine finds it and writes it. Every write is
conditional, so a retry after an answer that was lost changes nothing (exactly once).
"""

from __future__ import annotations

import datetime
from typing import Any

from channels.db import database_sync_to_async

from games import metrics, services
from games.models import Match
from games.rules.base import Result, Seat
from games.selectors import match_roster
from games.supervise import retry_forever

RETRY_BACKOFF = 2.0  # at most this long between tries while the database is away


def _load(match_id: str) -> Match | None:
    return Match.objects.filter(public_id=match_id).first()


def _live() -> list[tuple[str, str, datetime.datetime]]:
    rows = Match.objects.filter(status__in=[Match.Status.WAITING, Match.Status.RUNNING])
    return list(rows.values_list("public_id", "status", "created_at"))


class Persistence:
    """`name` goes into the log lines of calls that keep failing."""

    def __init__(self, name: str):
        self.name = name

    async def _retry(self, what: str, call: Any, **kwargs: Any) -> Any:
        # database_sync_to_async closes a connection the outage broke, so the retry reconnects.
        return await retry_forever(
            f"engine {self.name}: {what}",
            lambda: database_sync_to_async(call)(**kwargs),
            max_backoff=RETRY_BACKOFF,
        )

    async def load(self, match_id: str) -> Match | None:
        """One try: a claim that fails here is released and claimed again later."""
        return await database_sync_to_async(_load)(match_id)

    async def roster(self, match_id: str) -> list[Seat]:
        return await self._retry(
            f"reading the seats of {match_id}", match_roster, match_id=match_id
        )

    async def start(self, match_id: str) -> list[Seat] | None:
        return await self._retry(
            f"starting match {match_id}", services.match_start, match_id=match_id
        )

    async def finish(self, match_id: str, result: Result) -> bool:
        tries = 0

        def write(**kwargs: Any) -> bool:
            nonlocal tries
            tries += 1
            if tries > 1:
                metrics.RESULT_WRITE_RETRIES.inc()
            return services.match_finish(**kwargs)

        return await self._retry(
            f"writing the result of {match_id}", write, match_id=match_id, result=result
        )

    async def abandon(self, match_id: str) -> bool:
        return await self._retry(
            f"abandoning match {match_id}", services.match_abandon, match_id=match_id
        )

    async def lose(self, match_id: str, why: str) -> bool:
        return await self._retry(
            f"recording that match {match_id} was lost",
            services.match_lose,
            match_id=match_id,
            why=why,
        )

    async def leave(self, match_id: str, seat: int) -> None:
        await self._retry(
            f"recording that seat {seat} left {match_id}",
            services.participant_leave,
            match_id=match_id,
            seat=seat,
        )

    async def live(self) -> list[tuple[str, str, datetime.datetime]]:
        """(public id, status, created at) of every waiting and running match; one try."""
        return await database_sync_to_async(_live)()
