"""Shared coordination state: tickets, the queue of new matches, leases and checkpoints.

Redis when REDIS_URL is set, so that any web process can redeem a ticket another issued and
exactly one engine host owns a match. Without it an in-process store with the same methods
(games/memory_store.py) serves the embedded single-process mode. Views are synchronous, so
the calls they make (issue a ticket, queue a match, is a match served) are synchronous and
raise StoreUnavailable when Redis does not answer (the API turns it into 503); everything
else is async for the event loop, and its callers retry (games/supervise.py).

Redis may lose everything at any time (a restart without persistence): the database says
which matches exist, engines re-assert the leases of the matches they run, and the reconciler
re-queues what nobody owns (docs/RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import json
import time
from functools import lru_cache

from django.conf import settings

from games import redis_client
from games.memory_store import MemoryStore
from games.store_types import (
    CHECKPOINT_TTL_MS,
    LeaseRenewal,
    StoreUnavailable,
    clock_ms,
    engines_seen,
    lease_token,
    online_counts,
)

__all__ = [
    "MemoryStore",
    "RedisStore",
    "StoreUnavailable",
    "LeaseRenewal",
    "get_store",
    "lease_token",
]

# Both scripts check the lease value, so a host that lost its lease (a "zombie") cannot renew
# it or overwrite the new owner's checkpoint: the value holds the fencing token.
# One call per second renews every lease an engine holds, one call per tick saves every
# checkpoint due: an engine with 150 matches makes a few Redis calls a second, not hundreds.
# A fencing token only grows, also across a Redis that lost its data: it is at least the
# acquiring engine's clock in milliseconds (engines' clocks agree to well within a lease).
ACQUIRE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local token = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if token < floor then
  token = floor
  redis.call('SET', KEYS[2], token)
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local value = ARGV[1] .. ' ' .. token
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
"""
# Per lease: 1 renewed, 0 gone (expired, or Redis lost it), -1 another engine holds it.
RENEW_LUA = """
local renewed = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('GET', key)
  if value == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    renewed[i] = 1
  elseif value then
    renewed[i] = -1
  else
    renewed[i] = 0
  end
end
return renewed
"""
# A short lock: taken when free, kept (renewed) by its holder.
HOLD_LUA = """
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] or not value then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
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
FENCE_TTL_MS = 86400 * 1000  # the clock floor keeps tokens growing after a fence expires


class RedisStore:
    def __init__(self, url: str, prefix: str, timeout: float):
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self._sync = redis_client.sync_client(url, timeout=timeout)
        self._async = None
        self._async_loop = None

    @property
    def aio(self):
        # A redis.asyncio client is bound to the loop it first ran on.
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            self._async = redis_client.async_client(self.url, timeout=self.timeout)
            self._async_loop = loop
        return self._async

    def _call(self, what: str, call, *args, **kwargs):
        """A synchronous call for a view: a Redis fault becomes StoreUnavailable."""
        import redis

        try:
            return call(*args, **kwargs)
        except redis.RedisError as error:
            raise StoreUnavailable(
                f"Redis ({redis_client.display(self.url)}) did not answer while trying to {what}: "
                f"{type(error).__name__}"
            ) from error

    def ping(self) -> None:
        self._call("ping", self._sync.ping)

    # Tickets
    def issue_ticket(self, ticket: str, payload: bytes, ttl: float) -> None:
        key = self.prefix + "ticket:" + ticket
        self._call("issue a ticket", self._sync.set, key, payload, px=int(ttl * 1000))

    async def redeem_ticket(self, ticket: str) -> bytes | None:
        return await self.aio.getdel(self.prefix + "ticket:" + ticket)

    # The queue of matches no engine has claimed yet
    def enqueue_match(self, match_id: str) -> None:
        self._call("queue a new match", self._sync.lpush, self.prefix + "queue", match_id)

    def queue_length(self) -> int:
        """New matches no engine has claimed yet (the API refuses more past a bound)."""
        key = self.prefix + "queue"
        return self._call("measure the queue of new matches", self._sync.llen, key)

    def served(self, match_ids: list[str]) -> set[str]:
        """Which of these matches an engine owns or will claim from the queue."""
        if not match_ids:
            return set()

        def look() -> set[str]:
            with self._sync.pipeline(transaction=False) as pipe:
                pipe.lrange(self.prefix + "queue", 0, -1)
                pipe.mget([self.prefix + "lease:" + m for m in match_ids])
                queue, leases = pipe.execute()
            queued = {m.decode() for m in queue}
            return {m for m, lease in zip(match_ids, leases, strict=True) if lease or m in queued}

        return self._call("look up which matches engines run", look)

    async def next_queued_match(self, timeout: float) -> str | None:
        # The socket timeout must outlast the blocking pop.
        timeout = min(timeout, self.timeout / 2)
        item = await self.aio.brpop([self.prefix + "queue"], timeout=timeout)
        return item[1].decode() if item else None

    async def queued(self) -> set[str]:
        return {m.decode() for m in await self.aio.lrange(self.prefix + "queue", 0, -1)}

    async def requeue(self, match_ids: list[str]) -> None:
        if match_ids:
            await self.aio.lpush(self.prefix + "queue", *match_ids)

    # Leases
    async def lease_acquire(self, match_id: str, owner: str, ttl: float) -> str | None:
        keys = [self.prefix + "lease:" + match_id, self.prefix + "fence:" + match_id]
        value = await self.aio.eval(
            ACQUIRE_LUA, 2, *keys, owner, int(ttl * 1000), clock_ms(), FENCE_TTL_MS
        )
        return value.decode() if value else None

    async def leases_renew(self, leases: dict[str, str], ttl: float) -> LeaseRenewal:
        """Renew every (match -> lease) given; says which were gone and which taken."""
        if not leases:
            return LeaseRenewal()
        keys = [self.prefix + "lease:" + match_id for match_id in leases]
        renewed = await self.aio.eval(
            RENEW_LUA, len(keys), *keys, int(ttl * 1000), *leases.values()
        )
        found = dict(zip(leases, renewed, strict=True))
        return LeaseRenewal(
            gone={m for m, ok in found.items() if ok == 0},
            taken={m for m, ok in found.items() if ok == -1},
        )

    async def lease_release(self, match_id: str, lease: str) -> None:
        await self.aio.eval(RELEASE_LUA, 1, self.prefix + "lease:" + match_id, lease)

    async def owner_of(self, match_id: str) -> str | None:
        value = await self.aio.get(self.prefix + "lease:" + match_id)
        return value.decode().split(" ")[0] if value else None

    async def owners_of(self, match_ids: list[str]) -> dict[str, str | None]:
        if not match_ids:
            return {}
        values = await self.aio.mget([self.prefix + "lease:" + m for m in match_ids])
        return {
            m: v.decode().split(" ")[0] if v else None
            for m, v in zip(match_ids, values, strict=True)
        }

    async def hold(self, name: str, holder: str, ttl: float) -> bool:
        """Take or keep the short lock `name`; False while someone else holds it."""
        key = self.prefix + "lock:" + name
        return bool(await self.aio.eval(HOLD_LUA, 1, key, holder, int(ttl * 1000)))

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

    async def checkpointed(self, match_ids: list[str]) -> set[str]:
        if not match_ids:
            return set()
        async with self.aio.pipeline(transaction=False) as pipe:
            for match_id in match_ids:
                pipe.exists(self.prefix + "checkpoint:" + match_id)
            found = await pipe.execute()
        return {m for m, n in zip(match_ids, found, strict=True) if n}

    async def active_add(self, match_id: str) -> None:
        await self.aio.sadd(self.prefix + "active", match_id)

    async def active_remove(self, match_id: str) -> None:
        await self.aio.srem(self.prefix + "active", match_id)
        await self.aio.delete(self.prefix + "checkpoint:" + match_id)

    async def active_list(self) -> list[str]:
        return sorted(m.decode() for m in await self.aio.smembers(self.prefix + "active"))

    # Spectators: per match a sorted set of "hub|socket|name", scored by when each expires
    # (hubs refresh theirs every heartbeat), so a web process that dies takes its away.
    def spectator_counts(self, match_ids: list[str]) -> dict[str, int]:
        def count() -> list[int]:
            now = time.time()
            with self._sync.pipeline(transaction=False) as pipe:
                for match_id in match_ids:
                    pipe.zcount(self.prefix + "watch:" + match_id, now, "+inf")
                return pipe.execute()

        return dict(zip(match_ids, self._call("count spectators", count), strict=True))

    def grant_watch(self, user_id: int, match_id: str, ttl: float) -> None:
        """This player may stream that private match for `ttl` (they sent its code)."""
        key = f"{self.prefix}grant:{user_id}:{match_id}"
        self._call("remember a watch grant", self._sync.set, key, 1, px=int(ttl * 1000))

    def watch_granted(self, user_id: int, match_id: str) -> bool:
        key = f"{self.prefix}grant:{user_id}:{match_id}"
        return bool(self._call("read a watch grant", self._sync.exists, key))

    async def spectators_enter(self, match_id: str, member: str, ttl: float) -> None:
        await self.spectators_refresh({match_id: [member]}, ttl)

    async def spectators_refresh(
        self, members: dict[str, list[str]], ttl: float, gone: dict[str, list[str]] | None = None
    ) -> None:
        """Renew `members`' entries and remove `gone`'s, in one round trip."""
        now = time.time()
        async with self.aio.pipeline(transaction=False) as pipe:
            for match_id, names in (gone or {}).items():
                pipe.zrem(self.prefix + "watch:" + match_id, *names)
            for match_id, names in members.items():
                key = self.prefix + "watch:" + match_id
                pipe.zadd(key, {member: now + ttl for member in names})
                pipe.zremrangebyscore(key, "-inf", now)
                pipe.expire(key, max(1, int(ttl * 2)))
            await pipe.execute()

    async def spectators_of(self, match_ids: list[str]) -> dict[str, list[str]]:
        now = time.time()
        async with self.aio.pipeline(transaction=False) as pipe:
            for match_id in match_ids:
                pipe.zrangebyscore(self.prefix + "watch:" + match_id, now, "+inf")
            found = await pipe.execute()
        pairs = zip(match_ids, found, strict=True)
        return {match_id: sorted(v.decode() for v in members) for match_id, members in pairs}

    # Engine heartbeats: one hash, a field per engine, for the admin and /readyz
    async def write_engine_heartbeat(self, name: str, info: dict, ttl: float) -> None:
        """The hash outlives the newest heartbeat by `ttl`; older fields are dropped on read."""
        key = self.prefix + "engines"
        now = time.time()
        data = json.dumps({**info, "last_seen": now, "forget_at": now + ttl})
        async with self.aio.pipeline(transaction=False) as pipe:
            pipe.hset(key, name, data)
            pipe.expire(key, max(1, int(ttl)))
            await pipe.execute()

    async def live_engines(self) -> list[dict]:
        key = self.prefix + "engines"
        found = await self.aio.hgetall(key)
        infos = {name.decode(): json.loads(data) for name, data in found.items()}
        silent_after = settings.GAMESERVER["ENGINE_SILENT"]
        engines, forgotten = engines_seen(infos, time.time(), silent_after)
        if forgotten:
            await self.aio.hdel(key, *forgotten)
        return engines

    # Who is online: each web process's count of open connections, a field per process
    async def online_report(self, process: str, count: int, ttl: float) -> int:
        """Write this process's count; the total of every process heard from within `ttl`."""
        key = self.prefix + "online"
        now = time.time()
        async with self.aio.pipeline(transaction=False) as pipe:
            pipe.hset(key, process, f"{count}|{now + ttl}")
            pipe.expire(key, max(1, int(ttl * 2)))
            pipe.hgetall(key)
            found = (await pipe.execute())[-1]
        counts, gone = online_counts({k.decode(): v.decode() for k, v in found.items()}, now)
        if gone:
            await self.aio.hdel(key, *gone)
        return sum(counts)


@lru_cache(maxsize=1)
def get_store() -> RedisStore | MemoryStore:
    """The process's store, chosen by REDIS_URL."""
    if settings.REDIS_URL:
        config = settings.GAMESERVER
        return RedisStore(settings.REDIS_URL, config["REDIS_PREFIX"], config["REDIS_TIMEOUT"])
    return MemoryStore()
