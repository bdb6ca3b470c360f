"""REDIS_URL parsing: plain Redis URLs as before, `redis+sentinel://` for Sentinel, a message a
person can act on for a malformed URL, and no password in what is shown or logged. Building a
client connects to nothing, so these need no server."""

from __future__ import annotations

import pytest
import redis.asyncio.sentinel
import redis.sentinel
from channels_redis.utils import create_pool

from games.redis_client import (
    SentinelUrl,
    async_client,
    channel_layer_hosts,
    display,
    parse_sentinel,
    sync_client,
)

SENTINELS = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380,[::1]:26381/gamemaster/2"


def test_plain_urls_are_not_sentinel_urls():
    for url in ("redis://127.0.0.1:6379/0", "rediss://:pw@cache:6380/1", "unix:///run/r.sock"):
        assert parse_sentinel(url) is None
        assert channel_layer_hosts(url) == [url]


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db():
    assert parse_sentinel(SENTINELS) == SentinelUrl(
        sentinels=[("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381)],
        master="gamemaster",
        db=2,
    )


def test_defaults_credentials_and_tls():
    config = parse_sentinel("redis+sentinel://s1,s2:5000/mymaster")
    assert config.sentinels == [("s1", 26379), ("s2", 5000)] and config.db == 0
    assert config.password is None and not config.tls
    config = parse_sentinel(
        "rediss+sentinel://app:p%40ss%3Aword@s1:26379/my%2Fmaster/3/?sentinel_password=sp"
    )
    assert (config.username, config.password) == ("app", "p@ss:word")
    assert (config.master, config.db, config.sentinel_password) == ("my/master", 3, "sp")
    assert config.tls
    config = parse_sentinel("redis+sentinel://:secret@s1:26379/m")
    assert (config.username, config.password) == (None, "secret")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+sentinel://s1:26379", "names no master"),
        ("redis+sentinel://s1:26379/", "names no master"),
        ("redis+sentinel:///gamemaster", "names no sentinels"),
        ("redis+sentinel://s1:26379,/gamemaster", "empty sentinel address"),
        ("redis+sentinel://s1:port/gamemaster", "not a sentinel address"),
        ("redis+sentinel://s1:/gamemaster", "no valid port"),
        ("redis+sentinel://s1:70000/gamemaster", "no valid port"),
        ("redis+sentinel://s1:26379/gamemaster/zero", "'zero' is not a number"),
        ("redis+sentinel://s1:26379/gamemaster/0/1", "more than /master_name/db"),
        ("redis+sentinel://s1:26379/gamemaster?timeout=1", "unknown option timeout"),
    ],
)
def test_a_malformed_sentinel_url_says_what_is_wrong_and_the_form(url, reason):
    for build in (parse_sentinel, channel_layer_hosts, lambda u: sync_client(u, timeout=0.5)):
        with pytest.raises(ValueError) as caught:
            build(url)
        assert reason in str(caught.value)
        assert "redis+sentinel://[:password@]host:port[,host:port...]/master_name[/db]" in str(
            caught.value
        )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("127.0.0.1:6379", "no scheme"),
        ("http://127.0.0.1:6379/0", "unknown scheme 'http://'"),
        ("sentinel://127.0.0.1:26379/m", "unknown scheme 'sentinel://'"),
        ("redis://127.0.0.1:63x9/0", "port is not a number"),
        ("redis://127.0.0.1:6379/zero", "'zero' is not a number"),
    ],
)
def test_a_malformed_plain_url_says_what_is_wrong(url, reason):
    with pytest.raises(ValueError) as caught:
        async_client(url, timeout=0.5)
    assert reason in str(caught.value) and "redis://[:password@]host:port/db" in str(caught.value)


def test_display_hides_every_password():
    assert display("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert display("redis://:hunter2@cache:6379/0") == "redis://***@cache:6379/0"
    assert display("rediss://app:hunter2@cache:6379/0") == "rediss://***@cache:6379/0"
    assert display("redis://cache:6379/0?password=hunter2") == "redis://cache:6379/0?password=***"
    shown = display("redis+sentinel://:hunter2@s1:1,s2:2/m/0?sentinel_password=hunter3")
    assert shown == "redis+sentinel://***@s1:1,s2:2/m/0?sentinel_password=***"
    with pytest.raises(ValueError) as caught:
        parse_sentinel("redis+sentinel://:hunter2@s1:1/m?sentinel_password=hunter3&x=1")
    assert "hunter" not in str(caught.value)


def test_the_sync_client_asks_the_sentinels_with_short_timeouts():
    client = sync_client("redis+sentinel://:pw@s1:1,s2:2/gamemaster/4", timeout=0.25)
    pool = client.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
    assert pool.service_name == "gamemaster" and pool.is_master
    kwargs = pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"]) == (4, "pw")
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.25
    assert kwargs["retry"].get_retries() == 1
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [1, 2]
    for sentinel in sentinels:
        options = sentinel.connection_pool.connection_kwargs
        assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.25
        assert options["retry"].get_retries() == 0, "a dead sentinel is skipped, not retried"
        assert options.get("password") is None, "the servers' password is not the sentinels'"


def test_the_async_client_asks_the_sentinels_too():
    client = async_client("rediss+sentinel://s1:1/gamemaster", timeout=0.25)
    pool = client.connection_pool
    assert isinstance(pool, redis.asyncio.sentinel.SentinelConnectionPool)
    assert pool.connection_class is redis.asyncio.sentinel.SentinelManagedSSLConnection
    assert pool.connection_kwargs["socket_timeout"] == 0.25
    assert pool.connection_kwargs["retry"].get_retries() == 1
    (sentinel,) = pool.sentinel_manager.sentinels
    assert sentinel.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.25


def test_plain_clients_keep_the_url():
    client = sync_client("redis://:pw@127.0.0.1:6390/3", timeout=0.5)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "127.0.0.1",
        6390,
        3,
        "pw",
    )
    assert kwargs["socket_timeout"] == 0.5


def test_channels_redis_builds_a_sentinel_pool_from_the_layer_hosts():
    (host,) = channel_layer_hosts("redis+sentinel://:pw@s1:1,s2:2/gamemaster/5")
    assert host["sentinels"] == [("s1", 1), ("s2", 2)] and host["master_name"] == "gamemaster"
    assert (host["db"], host["password"]) == (5, "pw")
    assert host["sentinel_kwargs"]["socket_timeout"] > 0
    assert host["socket_keepalive"], "a subscriber notices a primary whose host vanished"
    pool = create_pool(host)  # what RedisPubSubChannelLayer does with each host
    assert isinstance(pool, redis.asyncio.sentinel.SentinelConnectionPool)
    assert pool.service_name == "gamemaster" and pool.connection_kwargs["db"] == 5
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [1, 2]
    assert all(s.connection_pool.connection_kwargs["socket_timeout"] for s in sentinels)
