"""Rate limits of the HTTP API, and the lock-out of join-code guessers.

Every call that makes something (a guest, a match, a seat, a ticket) is counted per client
address and per player, and a ticket call also per seat; a call over a limit is refused with
429 `rate_limited`, a message naming the limit, and Retry-After (docs/PROTOCOL.md, "Limits of
the HTTP API"). The counts live in Redis when REDIS_URL is set, so that every web process
sees the same ones, and in this process's memory otherwise.

The counting is the `limits` library's (the core of Flask-Limiter and SlowAPI): a moving
window, one Lua call per hit in Redis, keys that expire by themselves. django-ratelimit was
the other candidate, but it counts in a Django cache, and Django's RedisCache cannot reach a
Redis behind Sentinel (REDIS_URL may be `redis+sentinel://`); `limits` takes a redis-py
connection pool, so it gets the same connections as the store (games/redis_client.py:
Sentinel, short timeouts, one retry). Its own Sentinel URL parser reads `/master/db` as a
master name, another reason to hand it the pool rather than the URL.

While Redis does not answer, the limits are counted in this process's memory, and Redis is
tried again after FALLBACK_SECONDS: a fault must not turn guest creation (which needs only
the database) into a 503, and the calls that need Redis answer 503 on their own.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from django.conf import settings
from django.http import HttpRequest
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from games import redis_client
from games.services import ServiceError

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 2.0
# Wrong join codes are remembered this long from the first; past CODE_FAILURES of them each
# one locks the caller out for 2, 4, 8 ... seconds, at most LOCKOUT_MAX.
FAILURE_MEMORY = 3600
LOCKOUT_MAX = 3600

# What each call's limits count, for the message of a refusal.
COUNTED = {
    "guest": "guests (or renames)",
    "create": "new matches",
    "quickplay": "quick plays",
    "join": "joins",
    "join_code": "joins by code",
    "ticket": "tickets",
    "watch": "spectator tickets",
    "stream": "streams opened",
}
SCOPES = {"address": "from one address", "user": "for one player", "seat": "for one seat"}

T = TypeVar("T")


class RateLimited(ServiceError):
    def __init__(self, message: str, retry_after: float):
        super().__init__("rate_limited", message, status=429, retry_after=retry_after)


def client_address(request: HttpRequest) -> str:
    """The client's address as the limits count it: IPv4 as it is, IPv6 by its /64 (what one
    subscriber is usually given). REMOTE_ADDR is the peer, or what a trusted proxy said it is
    (uvicorn's --proxy-headers with FORWARDED_ALLOW_IPS; docs/DEPLOY.md)."""
    return address_key(request.META.get("REMOTE_ADDR") or "")


def address_key(raw: str) -> str:
    """A peer address as the limits count it (client_address)."""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def enabled() -> bool:
    return settings.GAMESERVER_HTTP["LIMITS"]


@lru_cache(maxsize=64)
def _parse(rates: str) -> list[RateLimitItem]:
    return parse_many(rates)


def rates(call: str, scope: str) -> list[RateLimitItem]:
    """The limits of `call` per `scope` (settings GAMESERVER_LIMIT_<CALL>_PER_<SCOPE>)."""
    text = settings.GAMESERVER_HTTP["RATES"].get(f"{call}_per_{scope}".upper())
    return _parse(text) if text else []


def describe(item: RateLimitItem, call: str, scope: str) -> str:
    """'at most 10 guests per minute from one address'."""
    unit = item.GRANULARITY.name
    period = unit if item.multiples == 1 else f"{item.multiples} {unit}s"
    return f"at most {item.amount} {COUNTED[call]} per {period} {SCOPES[scope]}"


class Counts:
    """Where the counts live: Redis (shared by every web process) or this process's memory,
    which also stands in while Redis does not answer."""

    def __init__(self, redis_url: str, prefix: str, timeout: float):
        self.memory = MemoryStorage()
        self.redis: RedisStorage | None = None
        if redis_url:
            pool = redis_client.sync_client(redis_url, timeout=timeout).connection_pool
            self.redis = RedisStorage(
                "redis://", connection_pool=pool, key_prefix=prefix + "limits", wrap_exceptions=True
            )
        self._redis_back_at = 0.0
        self._failing = False
        self._lock = threading.Lock()

    def run(self, work: Callable[[Storage], T]) -> T:
        """`work` on the Redis counts, or on the memory ones while Redis does not answer."""
        if self.redis is not None and time.monotonic() >= self._redis_back_at:
            try:
                value = work(self.redis)
            except StorageError as fault:
                with self._lock:
                    self._redis_back_at = time.monotonic() + FALLBACK_SECONDS
                    first, self._failing = not self._failing, True
                if first:
                    log.warning(
                        "rate limits: Redis did not answer (%s); counting in this process "
                        "until it does",
                        type(fault.storage_error).__name__,
                    )
            else:
                if self._failing:
                    self._failing = False
                    log.info("rate limits: counting in Redis again")
                return value
        return work(self.memory)


@lru_cache(maxsize=1)
def counts() -> Counts:
    config = settings.GAMESERVER
    return Counts(settings.REDIS_URL, config["REDIS_PREFIX"], config["REDIS_TIMEOUT"])


def forget_all() -> None:
    """Drop every count kept in this process (tests: each starts with none)."""
    counts().memory.reset()


def check(request: HttpRequest, call: str, *, seat: str | None = None) -> None:
    """Count one `call` by this client; RateLimited names the first limit it goes over."""
    if not enabled():
        return
    who = [("address", client_address(request))]
    if request.user.is_authenticated:
        who.append(("user", str(request.user.pk)))
        if seat is not None:
            who.append(("seat", f"{seat[:32]}:{request.user.pk}"))
    _count(call, who)


def check_address(call: str, address: str) -> None:
    """The same for a call without a Django request (an SSE stream), by its peer address."""
    if enabled():
        _count(call, [("address", address_key(address))])


def _count(call: str, who: list[tuple[str, str]]) -> None:
    for scope, key in who:
        for item in rates(call, scope):
            refused = counts().run(lambda storage, i=item, s=scope, k=key: _hit(storage, i, s, k))
            if refused is not None:
                message = f"{describe(item, call, scope)}: try again in {refused} s"
                raise RateLimited(message, retry_after=refused)


def _hit(storage: Storage, item: RateLimitItem, scope: str, key: str) -> int | None:
    """None if counted, else the seconds until the window has room again."""
    limiter = MovingWindowRateLimiter(storage)
    if limiter.hit(item, scope, key):
        return None
    reset = limiter.get_window_stats(item, scope, key).reset_time
    return max(1, math.ceil(reset - time.time()))


def _lockout_keys(request: HttpRequest) -> list[tuple[str, str]]:
    keys = [("address", client_address(request))]
    if request.user.is_authenticated:
        keys.append(("user", str(request.user.pk)))
    return keys


def check_code_lockout(request: HttpRequest) -> None:
    """Refuse a join by code from a caller locked out for guessing (address or player)."""
    if not enabled():
        return
    for scope, key in _lockout_keys(request):
        left = counts().run(lambda storage, k=f"code-lock/{scope}/{key}": _seconds_left(storage, k))
        if left:
            raise RateLimited(
                f"too many wrong join codes {SCOPES[scope]}: locked out, try again in {left} s "
                "(each further wrong code doubles the wait)",
                retry_after=left,
            )


def _seconds_left(storage: Storage, key: str) -> int:
    if not storage.get(key):
        return 0
    return max(1, math.ceil(storage.get_expiry(key) - time.time()))


def code_failed(request: HttpRequest) -> None:
    """Count a wrong join code against the caller's address and player; past the free ones,
    each locks them out for twice as long as the one before."""
    if not enabled():
        return
    free = settings.GAMESERVER_HTTP["CODE_FAILURES"]
    for scope, key in _lockout_keys(request):

        def fail(storage: Storage, scope: str = scope, key: str = key) -> None:
            failures = storage.incr(f"code-fail/{scope}/{key}", FAILURE_MEMORY)
            if failures > free:
                lock = f"code-lock/{scope}/{key}"
                storage.clear(lock)
                storage.incr(lock, min(LOCKOUT_MAX, 2 ** min(failures - free, 30)))

        counts().run(fail)
