"""Redis connections from REDIS_URL, for the store and the channel layer.

Short timeouts and a single immediate retry: a call while Redis is down must fail in well
under a second (the HTTP API answers 503, loops back off), and the one retry replaces a pooled
connection that a Redis restart broke.

REDIS_URL is either a plain Redis URL (`redis://`, `rediss://` for TLS, `unix://`), or names
a Redis Sentinel deployment:

    redis+sentinel://[[username]:password@]host:port[,host:port...]/master_name[/db]
    rediss+sentinel://...   (TLS to the sentinels and to the Redis servers)

The hosts are the sentinels (port 26379 when left out; IPv6 as `[::1]:26379`); each call asks
them for the current primary of `master_name`, so after a failover the next connection goes to
the promoted replica. The username and password are those of the Redis servers; sentinels that
require a password of their own take it as `?sentinel_password=...`. Percent-encode `@`, `:`,
`/` and `,` in names and passwords.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

PLAIN_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEMES = {"redis+sentinel": False, "rediss+sentinel": True}  # scheme -> TLS
SENTINEL_PORT = 26379
SENTINEL_FORM = "redis+sentinel://[:password@]host:port[,host:port...]/master_name[/db]"
# The channel layer's settings take no timeout, so its sentinel connections use this one.
LAYER_TIMEOUT = 1.0
# A subscriber only reads, so a primary whose host vanished (no reset ever comes) would keep it
# waiting on a dead connection for hours; TCP keepalive ends that connection in about 4 s.
# (A primary that is frozen but whose kernel still answers is not caught this way.)
KEEPALIVE = {
    getattr(socket, name): value
    for name, value in (("TCP_KEEPIDLE", 1), ("TCP_KEEPINTVL", 1), ("TCP_KEEPCNT", 3))
    if hasattr(socket, name)
}


@dataclass(frozen=True)
class SentinelUrl:
    """What a `redis+sentinel://` URL names."""

    sentinels: list[tuple[str, int]]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    tls: bool = False


def parse_sentinel(url: str) -> SentinelUrl | None:
    """The sentinel deployment a URL names, None for a plain Redis URL; ValueError says what
    is wrong with a malformed URL of either kind and which form is expected."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SENTINEL_SCHEMES:
        _check_plain(url)
        return None
    rest, _, query = rest.partition("?")
    rest = rest.partition("#")[0]
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    if not hostlist.strip():
        raise _bad(url, "it names no sentinels: list them as host:port,host:port")
    username = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        username = unquote(name) or None
        password = unquote(secret) if colon else None
    master, _, db_text = path.strip("/").partition("/")
    if not master:
        raise _bad(url, "it names no master: add /master_name after the sentinels")
    if "/" in db_text:
        raise _bad(url, "the path has more than /master_name/db")
    if db_text and not db_text.isdigit():
        raise _bad(url, f"the database {db_text!r} is not a number")
    return SentinelUrl(
        sentinels=[_address(url, item) for item in hostlist.split(",")],
        master=unquote(master),
        db=int(db_text or 0),
        username=username,
        password=password,
        sentinel_password=_sentinel_password(url, query),
        tls=SENTINEL_SCHEMES[scheme.lower()],
    )


def _check_plain(url: str) -> None:
    """Fail at startup on a URL redis-py would reject (or quietly misread) at the first call."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in PLAIN_SCHEMES:
        raise _bad_plain(url, f"unknown scheme {scheme + '://'!r}" if sep else "no scheme")
    parts = urlsplit(url)
    try:
        port_ok = parts.port != 0
    except ValueError:  # not a number, or out of range
        port_ok = False
    if not port_ok:
        raise _bad_plain(url, "the port is not a number from 1 to 65535")
    db = parts.path.strip("/")
    if scheme != "unix" and db and not db.isdigit():
        raise _bad_plain(url, f"the database {db!r} is not a number")


def _bad_plain(url: str, why: str) -> ValueError:
    return ValueError(
        f"REDIS_URL {display(url)}: {why}; expected redis://[:password@]host:port/db, "
        f"rediss://... (TLS), unix:///path/to/socket or {SENTINEL_FORM}"
    )


def _address(url: str, item: str) -> tuple[str, int]:
    if not item.strip():
        raise _bad(url, "an empty sentinel address (a stray comma?)")
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d*))?", item.strip())
    if match is None:
        raise _bad(url, f"{item!r} is not a sentinel address: write host:port")
    host, port = match.group(1).strip("[]"), match.group(2)
    if port == "" or (port and not 0 < int(port) < 65536):
        raise _bad(url, f"{item!r} has no valid port (1-65535)")
    return host, int(port) if port else SENTINEL_PORT


def _sentinel_password(url: str, query: str) -> str | None:
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"sentinel_password"})
    if unknown:
        raise _bad(url, f"unknown option {', '.join(unknown)}: only sentinel_password is known")
    values = options.get("sentinel_password")
    return values[-1] if values else None


def _bad(url: str, why: str) -> ValueError:
    return ValueError(f"REDIS_URL {display(url)}: {why}; expected {SENTINEL_FORM}")


def _options(timeout: float) -> dict[str, Any]:
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 0,
    }


def _server_options(config: SentinelUrl, timeout: float) -> dict[str, Any]:
    """Connection options of the primary found through the sentinels."""
    return {
        "db": config.db,
        "username": config.username,
        "password": config.password,
        "ssl": config.tls,
        **_options(timeout),
    }


def _sentinel_options(config: SentinelUrl, timeout: float, retry: Any) -> dict[str, Any]:
    """Options of the connections to the sentinels themselves. No retry: a sentinel that does
    not answer is skipped for the next one, and redis-py's default (ten retries with backoff)
    would hold every call for seconds while one sentinel is down."""
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "password": config.sentinel_password,
        "ssl": config.tls,
        "retry": retry,
    }


def sync_client(url: str, *, timeout: float) -> redis.Redis:
    """A client for the synchronous callers (the HTTP views)."""
    config = parse_sentinel(url)
    if config is None:
        return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), **_options(timeout))
    sentinel = redis.sentinel.Sentinel(
        config.sentinels,
        sentinel_kwargs=_sentinel_options(config, timeout, Retry(NoBackoff(), 0)),
    )
    return sentinel.master_for(
        config.master, retry=Retry(NoBackoff(), 1), **_server_options(config, timeout)
    )


def async_client(url: str, *, timeout: float) -> redis.asyncio.Redis:
    """A client for one event loop (redis.asyncio clients are bound to their loop)."""
    config = parse_sentinel(url)
    if config is None:
        return redis.asyncio.Redis.from_url(
            url, retry=AsyncRetry(NoBackoff(), 1), **_options(timeout)
        )
    sentinel = redis.asyncio.sentinel.Sentinel(
        config.sentinels,
        sentinel_kwargs=_sentinel_options(config, timeout, AsyncRetry(NoBackoff(), 0)),
    )
    return sentinel.master_for(
        config.master, retry=AsyncRetry(NoBackoff(), 1), **_server_options(config, timeout)
    )


def channel_layer_hosts(url: str) -> list[Any]:
    """The `hosts` of channels-redis's CONFIG for this URL: the URL itself, or for Sentinel the
    dict that channels_redis.utils.create_pool turns into a SentinelConnectionPool (its PubSub
    resubscribes on reconnect, and a reconnect asks the sentinels for the current primary)."""
    config = parse_sentinel(url)
    if config is None:
        return [url]
    return [
        {
            "sentinels": config.sentinels,
            "master_name": config.master,
            "sentinel_kwargs": _sentinel_options(config, LAYER_TIMEOUT, AsyncRetry(NoBackoff(), 0)),
            "retry": AsyncRetry(NoBackoff(), 1),
            "socket_keepalive": True,
            "socket_keepalive_options": KEEPALIVE,
            **_server_options(config, LAYER_TIMEOUT),
        }
    ]


def display(url: str) -> str:
    """The URL for messages and logs, without its passwords."""
    scheme, sep, rest = url.partition("://")
    location, question, query = rest.partition("?")
    if sep and "@" in location:
        url = f"{scheme}://***@{location.rpartition('@')[2]}{question}{query}"
    return re.sub(r"([?&](?:sentinel_)?password=)[^&#]*", r"\1***", url)
