"""A redis-server that a fault test can take away and bring back on the same port.

Persistence is off (`--save "" --appendonly no`), so a restart loses every key: tickets,
leases, fencing counters, checkpoints and the queue, as a real restart of a cache-only Redis
does. `restart(keep_data=True)` saves a snapshot first and loads it again, for a restart that
keeps the data; `pause()` is a blip with no restart at all (CLIENT PAUSE).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import redis

from tests.support import Process, free_port, redis_answers, wait_for

START_TIMEOUT = 15  # seconds for redis-server to answer after it is started


class RestartableRedis:
    """One redis-server on a fixed loopback port; every start logs to its own file."""

    def __init__(self, log_dir: Path, port: int | None = None):
        self.log_dir = log_dir
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = log_dir / "redis-data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process: Process | None = None
        self.starts = 0
        self.stopped_at: float | None = None  # time.monotonic() of the last stop
        self.answering_at: float | None = None  # ...and of the first PING answered after a start

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def start(self, *, keep_data: bool = False) -> float:
        """Start redis-server and wait until it answers; returns when it did (monotonic).
        Without `keep_data` any snapshot left in the data directory is removed first."""
        if self.process is not None and self.process.alive():
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        snapshot = self.data_dir / "dump.rdb"
        if not keep_data:
            snapshot.unlink(missing_ok=True)
        self.starts += 1
        args = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.data_dir),
            "--dbfilename", "dump.rdb",
        ]  # fmt: skip
        self.process = Process(f"redis-{self.starts}", args, dict(os.environ), self.log_dir)
        try:
            wait_for(lambda: self._answers(), START_TIMEOUT, f"redis-server on port {self.port}")
        except TimeoutError:
            raise RuntimeError(
                f"redis-server on port {self.port} did not answer (is the port taken?):\n"
                + self.process.output()
            ) from None
        self.answering_at = time.monotonic()
        return self.answering_at

    def _answers(self) -> bool:
        if self.process is not None and not self.process.alive():
            raise RuntimeError(f"redis-server exited:\n{self.process.output()}")
        return redis_answers(self.url)

    def stop(self, sig: int = signal.SIGTERM, *, keep_data: bool = False) -> float:
        """Stop the server (SIGTERM: a clean shutdown; SIGKILL: a crash); returns when it was
        gone (monotonic). `keep_data` saves a snapshot first, for start(keep_data=True)."""
        if self.process is None or not self.process.alive():
            raise RuntimeError(f"redis-server on port {self.port} is not running")
        if keep_data:
            self.client().save()
        self.process.stop(sig)
        self.stopped_at = time.monotonic()
        return self.stopped_at

    def restart(
        self, down: float, sig: int = signal.SIGTERM, *, keep_data: bool = False
    ) -> tuple[float, float]:
        """Stop, stay down for `down` seconds, start again on the same port; returns the times
        it went away and answered again (monotonic)."""
        stopped = self.stop(sig, keep_data=keep_data)
        time.sleep(max(0.0, down - (time.monotonic() - stopped)))
        return stopped, self.start(keep_data=keep_data)

    def pause(self, seconds: float) -> None:
        """A blip without a restart: every client's commands wait `seconds`, data is kept."""
        self.client().execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def close(self) -> None:
        """Stop for good (the fixture's teardown): killed if it does not stop in time."""
        if self.process is not None:
            self.process.stop(signal.SIGTERM, timeout=5)
