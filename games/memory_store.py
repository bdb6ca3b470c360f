"""The store inside one process, for the embedded default (no REDIS_URL): the same contract
as games.store.RedisStore, for a single process that needs no Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

from django.conf import settings

from games.store_types import (
    CHECKPOINT_TTL_MS,
    LeaseRenewal,
    clock_ms,
    engines_seen,
    online_counts,
)

PURGE_EVERY = 100  # tickets issued between sweeps for expired values


class MemoryStore:
    """The same contract inside one process; views call it from worker threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[object, float]] = {}
        self._queue: deque[str] = deque()
        self._fence = 0
        self._active: set[str] = set()
        self._issued = 0
        self._engines: dict[str, dict] = {}
        self._online: dict[str, str] = {}
        self._watch: dict[str, dict[str, float]] = {}  # match -> spectator -> expires at

    def _get(self, key: str) -> object | None:
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] < time.monotonic():
            del self._values[key]
            return None
        return item[0]

    def _set(self, key: str, value: object, ttl: float) -> None:
        self._values[key] = (value, time.monotonic() + ttl)

    def ping(self) -> None:
        pass

    def issue_ticket(self, ticket: str, payload: bytes, ttl: float) -> None:
        with self._lock:
            self._set("ticket:" + ticket, payload, ttl)
            self._issued += 1
            if self._issued % PURGE_EVERY == 0:
                self._purge()

    def _purge(self) -> None:
        """Expired values are dropped on read; those never read again (tickets nobody
        redeemed) are dropped here, so that memory does not grow with what clients ask for."""
        now = time.monotonic()
        for key in [key for key, (_, expires) in self._values.items() if expires < now]:
            del self._values[key]

    async def redeem_ticket(self, ticket: str) -> bytes | None:
        with self._lock:
            value = self._get("ticket:" + ticket)
            self._values.pop("ticket:" + ticket, None)
            return value

    def enqueue_match(self, match_id: str) -> None:
        with self._lock:
            self._queue.appendleft(match_id)

    def queue_length(self) -> int:
        with self._lock:
            return len(self._queue)

    def served(self, match_ids: list[str]) -> set[str]:
        with self._lock:
            return {m for m in match_ids if m in self._queue or self._get("lease:" + m)}

    async def queued(self) -> set[str]:
        with self._lock:
            return set(self._queue)

    async def requeue(self, match_ids: list[str]) -> None:
        with self._lock:
            self._queue.extendleft(match_ids)

    async def next_queued_match(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._queue:
                    return self._queue.pop()
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)

    async def lease_acquire(self, match_id: str, owner: str, ttl: float) -> str | None:
        with self._lock:
            if self._get("lease:" + match_id) is not None:
                return None
            self._fence = max(self._fence + 1, clock_ms())
            value = f"{owner} {self._fence}"
            self._set("lease:" + match_id, value, ttl)
            return value

    async def leases_renew(self, leases: dict[str, str], ttl: float) -> LeaseRenewal:
        renewal = LeaseRenewal()
        with self._lock:
            for match_id, lease in leases.items():
                value = self._get("lease:" + match_id)
                if value == lease:
                    self._set("lease:" + match_id, lease, ttl)
                elif value is None:
                    renewal.gone.add(match_id)
                else:
                    renewal.taken.add(match_id)
        return renewal

    async def lease_release(self, match_id: str, lease: str) -> None:
        with self._lock:
            if self._get("lease:" + match_id) == lease:
                del self._values["lease:" + match_id]

    async def owner_of(self, match_id: str) -> str | None:
        with self._lock:
            value = self._get("lease:" + match_id)
        return value.split(" ")[0] if isinstance(value, str) else None

    async def owners_of(self, match_ids: list[str]) -> dict[str, str | None]:
        return {match_id: await self.owner_of(match_id) for match_id in match_ids}

    async def hold(self, name: str, holder: str, ttl: float) -> bool:
        with self._lock:
            value = self._get("lock:" + name)
            if value not in (None, holder):
                return False
            self._set("lock:" + name, holder, ttl)
            return True

    async def checkpoints_save(self, items: list[tuple[str, str, bytes]]) -> list[bool]:
        saved = []
        with self._lock:
            for match_id, lease, data in items:
                owner = self._get("lease:" + match_id) == lease
                if owner:
                    self._set("checkpoint:" + match_id, data, CHECKPOINT_TTL_MS / 1000)
                saved.append(owner)
        return saved

    async def checkpoint_load(self, match_id: str) -> bytes | None:
        with self._lock:
            return self._get("checkpoint:" + match_id)

    async def checkpointed(self, match_ids: list[str]) -> set[str]:
        with self._lock:
            return {m for m in match_ids if self._get("checkpoint:" + m) is not None}

    async def active_add(self, match_id: str) -> None:
        with self._lock:
            self._active.add(match_id)

    async def active_remove(self, match_id: str) -> None:
        with self._lock:
            self._active.discard(match_id)
            self._values.pop("checkpoint:" + match_id, None)

    async def active_list(self) -> list[str]:
        with self._lock:
            return sorted(self._active)

    def spectator_counts(self, match_ids: list[str]) -> dict[str, int]:
        now = time.time()
        with self._lock:
            return {m: sum(t > now for t in self._watch.get(m, {}).values()) for m in match_ids}

    def grant_watch(self, user_id: int, match_id: str, ttl: float) -> None:
        with self._lock:
            self._set(f"grant:{user_id}:{match_id}", True, ttl)

    def watch_granted(self, user_id: int, match_id: str) -> bool:
        with self._lock:
            return bool(self._get(f"grant:{user_id}:{match_id}"))

    async def spectators_enter(self, match_id: str, member: str, ttl: float) -> None:
        await self.spectators_refresh({match_id: [member]}, ttl)

    async def spectators_refresh(
        self, members: dict[str, list[str]], ttl: float, gone: dict[str, list[str]] | None = None
    ) -> None:
        now = time.time()
        with self._lock:
            for match_id, names in (gone or {}).items():
                for member in names:
                    self._watch.get(match_id, {}).pop(member, None)
            for match_id, names in members.items():
                entries = self._watch.setdefault(match_id, {})
                entries.update({member: now + ttl for member in names})
            for match_id in list(self._watch):
                entries = self._watch[match_id]
                for member in [m for m, t in entries.items() if t <= now]:
                    del entries[member]
                if not entries:
                    del self._watch[match_id]

    async def spectators_of(self, match_ids: list[str]) -> dict[str, list[str]]:
        now = time.time()
        with self._lock:
            return {
                m: sorted(k for k, t in self._watch.get(m, {}).items() if t > now)
                for m in match_ids
            }

    async def online_report(self, process: str, count: int, ttl: float) -> int:
        now = time.time()
        with self._lock:
            self._online[process] = f"{count}|{now + ttl}"
            counts, gone = online_counts(self._online, now)
            for name in gone:
                del self._online[name]
        return sum(counts)

    async def write_engine_heartbeat(self, name: str, info: dict, ttl: float) -> None:
        now = time.time()
        with self._lock:
            self._engines[name] = {**info, "last_seen": now, "forget_at": now + ttl}

    async def live_engines(self) -> list[dict]:
        silent_after = settings.GAMESERVER["ENGINE_SILENT"]
        with self._lock:
            engines, forgotten = engines_seen(self._engines, time.time(), silent_after)
            for name in forgotten:
                del self._engines[name]
        return engines
