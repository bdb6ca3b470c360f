"""A throwaway Redis Sentinel deployment on loopback: a primary, one replica and three
sentinels (quorum 2) on free ports, with config files in the test's tmp dir. The sentinels
notice a dead primary after DOWN_AFTER_MS and promote the replica; `stop` ends every process."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import redis

from tests.support import Process, free_port, wait_for

MASTER = "gamemaster"
QUORUM = 2
DOWN_AFTER_MS = 1000  # a primary that has not answered for this long is "subjectively down"
FAILOVER_TIMEOUT_MS = 3000  # how long one failover attempt may take before another is tried


def sentinel_command() -> list[str] | None:
    """redis-sentinel, or redis-server in sentinel mode (the same binary); None if neither."""
    if shutil.which("redis-sentinel"):
        return ["redis-sentinel"]
    if shutil.which("redis-server"):
        return ["redis-server"]
    return None


def _client(port: int) -> redis.Redis:
    return redis.Redis("127.0.0.1", port, socket_timeout=1, socket_connect_timeout=1)


def _answers(port: int) -> bool:
    try:
        return bool(_client(port).ping())
    except redis.RedisError:
        return False


class SentinelCluster:
    """Start with `SentinelCluster(tmp)`; `url` is the REDIS_URL of the deployment."""

    def __init__(self, tmp: Path, db: int = 0):
        command = sentinel_command()
        if command is None:
            raise RuntimeError("neither redis-sentinel nor redis-server is installed")
        self.dir = tmp / "sentinel"
        self.dir.mkdir(exist_ok=True)
        self.processes: list[Process] = []
        try:
            self.primary_port = free_port()
            self.primary = self._server("redis-primary", self.primary_port)
            self.replica_port = free_port()
            self.replica = self._server(
                "redis-replica", self.replica_port, "--replicaof", "127.0.0.1",
                str(self.primary_port),
            )  # fmt: skip
            self.sentinel_ports = [free_port() for _ in range(3)]
            self.sentinels = [
                self._sentinel(command, i, port) for i, port in enumerate(self.sentinel_ports)
            ]
            self.url = "redis+sentinel://{}/{}/{}".format(
                ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports), MASTER, db
            )
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def _server(self, name: str, port: int, *extra: str) -> Process:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--repl-diskless-sync-delay", "0",
                "--dbfilename", f"{name}.rdb", *extra]  # fmt: skip
        process = Process(name, args, dict(os.environ), self.dir)
        self.processes.append(process)
        wait_for(lambda: _answers(port), 15, f"{name} to answer")
        return process

    def _sentinel(self, command: list[str], index: int, port: int) -> Process:
        config = self.dir / f"sentinel-{index}.conf"  # sentinels rewrite their config: own file
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        args = [*command, str(config), *(["--sentinel"] if command == ["redis-server"] else [])]
        process = Process(f"sentinel-{index}", args, dict(os.environ), self.dir)
        self.processes.append(process)
        wait_for(lambda: _answers(port), 15, f"sentinel {index} to answer")
        return process

    def wait_ready(self, timeout: float = 20) -> None:
        """Until the replica is in sync and every sentinel knows the replica and the other two
        sentinels: before that a failover could not be agreed on."""

        def ready() -> bool:
            try:
                info = _client(self.replica_port).info("replication")
                states = [_client(port).sentinel_master(MASTER) for port in self.sentinel_ports]
            except redis.RedisError:
                return False
            return info.get("master_link_status") == "up" and all(
                state["num-other-sentinels"] >= 2 and state["num-slaves"] >= 1 for state in states
            )

        wait_for(ready, timeout, "the sentinels to know the replica and each other", 0.1)

    def master_address(self) -> tuple[str, int] | None:
        """The primary the sentinels agree on (a majority), or None while they do not."""
        seen: dict[tuple[str, int], int] = {}
        for port in self.sentinel_ports:
            try:
                host, master_port = _client(port).sentinel_get_master_addr_by_name(MASTER)
            except (redis.RedisError, TypeError):
                continue
            address = (host.decode() if isinstance(host, bytes) else host, int(master_port))
            seen[address] = seen.get(address, 0) + 1
        agreed = [address for address, votes in seen.items() if votes >= QUORUM]
        return agreed[0] if agreed else None

    def wait_promoted(self, old_port: int, timeout: float = 15) -> float:
        """Seconds until the sentinels name a primary other than `old_port` that takes writes."""
        started = time.monotonic()

        def promoted() -> bool:
            address = self.master_address()
            if address is None or address[1] == old_port:
                return False
            try:
                return _client(address[1]).info("replication")["role"] == "master"
            except redis.RedisError:
                return False

        wait_for(promoted, timeout, "the sentinels to promote the replica", 0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def __enter__(self) -> SentinelCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
