"""Shared coordination state: tickets, the queue of new matches, leases and checkpoints.

Redis when REDIS_URL is set, so that any web process can redeem a ticket another issued and
exactly one engine host owns a match. Without it an in-process store with the same methods
serves the embedded single-process mode. Views are synchronous, so the two calls they make
(issue a ticket, queue a match) are synchronous; everything else is async for the event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from functools import lru_cache

from django.conf import settings

# Both scripts check the lease value, so a host that lost its lease (a "zombie") cannot renew
# it or overwrite the new owner's checkpoint: the value holds the fencing token.
# One call per second renews every lease an engine holds, one call per tick saves every
# checkpoint due: an engine with 150 matches makes a few Redis calls a second, not hundreds.
RENEW_LUA = """
local renewed = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed[i] = 1
  else
    renewed[i] = 0
  end
end
return renewed
"""
FENCED_SET_LUA = """
local saved = {}
for i = 1, #KEYS / 2 do
  if redis.call('GET', KEYS[2 * i - 1]) == ARGV[2 * i - 1] then
    redis.call('SET', KEYS[2 * i], ARGV[2 * i], 'PX', ARGV[#ARGV])
    saved[i] = 1
  else
    saved[i] = 0
  end
end
return saved
"""
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
CHECKPOINT_TTL_MS = 3600 * 1000


class RedisStore:
    def __init__(self, url: str, prefix: str):
        import redis
        import redis.asyncio

        self.url = url
        self.prefix = prefix
        self._sync = redis.Redis.from_url(url)
        self._async_module = redis.asyncio
        self._async = None
        self._async_loop = None

    @property
    def aio(self):
        # A redis.asyncio client is bound to the loop it first ran on.
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            self._async = self._async_module.Redis.from_url(self.url)
            self._async_loop = loop
        return self._async

    def ping(self) -> None:
        self._sync.ping()

    # Tickets
    def issue_ticket(self, ticket: str, payload: bytes, ttl: float) -> None:
        self._sync.set(self.prefix + "ticket:" + ticket, payload, px=int(ttl * 1000))

    async def redeem_ticket(self, ticket: str) -> bytes | None:
        return await self.aio.getdel(self.prefix + "ticket:" + ticket)

    # The queue of matches no engine has claimed yet
    def enqueue_match(self, match_id: str) -> None:
        self._sync.lpush(self.prefix + "queue", match_id)

    async def next_queued_match(self, timeout: float) -> str | None:
        item = await self.aio.brpop([self.prefix + "queue"], timeout=timeout)
        return item[1].decode() if item else None

    # Leases
    async def lease_acquire(self, match_id: str, owner: str, ttl: float) -> str | None:
        token = await self.aio.incr(self.prefix + "fence:" + match_id)
        value = f"{owner} {token}"
        ok = await self.aio.set(
            self.prefix + "lease:" + match_id, value, nx=True, px=int(ttl * 1000)
        )
        return value if ok else None

    async def leases_renew(self, leases: dict[str, str], ttl: float) -> set[str]:
        """Renew every (match -> lease) given; returns the matches whose lease was lost."""
        if not leases:
            return set()
        keys = [self.prefix + "lease:" + match_id for match_id in leases]
        renewed = await self.aio.eval(
            RENEW_LUA, len(keys), *keys, int(ttl * 1000), *leases.values()
        )
        return {match_id for match_id, ok in zip(leases, renewed, strict=True) if not ok}

    async def lease_release(self, match_id: str, lease: str) -> None:
        await self.aio.eval(RELEASE_LUA, 1, self.prefix + "lease:" + match_id, lease)

    async def owner_of(self, match_id: str) -> str | None:
        value = await self.aio.get(self.prefix + "lease:" + match_id)
        return value.decode().split(" ")[0] if value else None

    # Checkpoints and the set of matches some engine should be running
    async def checkpoints_save(self, items: list[tuple[str, str, bytes]]) -> list[bool]:
        """Save (match, lease, data) checkpoints, each only while `lease` is still the owner's."""
        if not items:
            return []
        keys, args = [], []
        for match_id, lease, data in items:
            keys += [self.prefix + "lease:" + match_id, self.prefix + "checkpoint:" + match_id]
            args += [lease, data]
        saved = await self.aio.eval(FENCED_SET_LUA, len(keys), *keys, *args, CHECKPOINT_TTL_MS)
        return [bool(ok) for ok in saved]

    async def checkpoint_load(self, match_id: str) -> bytes | None:
        return await self.aio.get(self.prefix + "checkpoint:" + match_id)

    async def active_add(self, match_id: str) -> None:
        await self.aio.sadd(self.prefix + "active", match_id)

    async def active_remove(self, match_id: str) -> None:
        await self.aio.srem(self.prefix + "active", match_id)
        await self.aio.delete(self.prefix + "checkpoint:" + match_id)

    async def active_list(self) -> list[str]:
        return sorted(m.decode() for m in await self.aio.smembers(self.prefix + "active"))


class MemoryStore:
    """The same contract inside one process; views call it from worker threads, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[object, float]] = {}
        self._queue: deque[str] = deque()
        self._fence = 0
        self._active: set[str] = set()

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

    async def redeem_ticket(self, ticket: str) -> bytes | None:
        with self._lock:
            value = self._get("ticket:" + ticket)
            self._values.pop("ticket:" + ticket, None)
            return value

    def enqueue_match(self, match_id: str) -> None:
        with self._lock:
            self._queue.appendleft(match_id)

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
            self._fence += 1
            if self._get("lease:" + match_id) is not None:
                return None
            value = f"{owner} {self._fence}"
            self._set("lease:" + match_id, value, ttl)
            return value

    async def leases_renew(self, leases: dict[str, str], ttl: float) -> set[str]:
        lost = set()
        with self._lock:
            for match_id, lease in leases.items():
                if self._get("lease:" + match_id) == lease:
                    self._set("lease:" + match_id, lease, ttl)
                else:
                    lost.add(match_id)
        return lost

    async def lease_release(self, match_id: str, lease: str) -> None:
        with self._lock:
            if self._get("lease:" + match_id) == lease:
                del self._values["lease:" + match_id]

    async def owner_of(self, match_id: str) -> str | None:
        with self._lock:
            value = self._get("lease:" + match_id)
        return value.split(" ")[0] if isinstance(value, str) else None

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


@lru_cache(maxsize=1)
def get_store() -> RedisStore | MemoryStore:
    """The process's store, chosen by REDIS_URL."""
    if settings.REDIS_URL:
        return RedisStore(settings.REDIS_URL, settings.GAMESERVER["REDIS_PREFIX"])
    return MemoryStore()
