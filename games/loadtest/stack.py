"""Real processes of the whole stack, for tests and the benchmark: redis-server, web
processes (daphne or uvicorn), engine hosts; each logs to a file and is stopped at the end."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DAPHNE = str(Path(PYTHON).parent / "daphne")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except Exception:
        return False


def daphne_args(port: int) -> list[str]:
    return [
        DAPHNE, "-b", "127.0.0.1", "-p", str(port), "--ping-interval", "10",
        "--ping-timeout", "20", "--websocket-max-message-size", "4096",
        "gameserver.asgi:application",
    ]  # fmt: skip


def uvicorn_args(port: int) -> list[str]:
    return [
        PYTHON, "-m", "uvicorn", "gameserver.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--ws", "websockets-sansio", "--ws-max-size", "4096",
        "--ws-ping-interval", "10", "--ws-ping-timeout", "20", "--ws-per-message-deflate", "false",
        "--lifespan", "off",
        "--loop", "uvloop", "--http", "httptools", "--proxy-headers",
        "--forwarded-allow-ips", "127.0.0.1", "--limit-concurrency", "2000", "--no-access-log",
    ]  # fmt: skip


WEB_SERVERS = {"daphne": daphne_args, "uvicorn": uvicorn_args}


def start_redis(log_dir: Path) -> tuple[Process, str]:
    """A throwaway redis-server on a free port that keeps nothing on disk."""
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]  # fmt: skip
    process = Process("redis", args, dict(os.environ), log_dir)
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: redis_answers(url), 15, "redis-server to answer")
    return process, url


class Process:
    """A child process with its output in a log file, stopped (and killed if need be) at end."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        self.log.close()


def migrate(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT,
                   check=True)  # fmt: skip


def migrated_sqlite(env: dict[str, str]) -> Path:
    """An SQLite database with every migration applied, made once per set of migrations and
    copied for each stack: migrating takes ~2 s, a copy a millisecond."""
    sources = sorted(ROOT.glob("*/migrations/*.py"))
    django = importlib.metadata.version("django").encode()  # its own apps' migrations
    digest = hashlib.sha256(b"".join([django, *(p.read_bytes() for p in sources)]))
    template = Path(tempfile.gettempdir()) / f"gameserver-migrated-{digest.hexdigest()[:16]}.db"
    if not template.exists():
        building = template.with_suffix(f".{os.getpid()}.tmp")
        migrate({**env, "DATABASE_URL": f"sqlite:///{building}"})
        building.replace(template)  # whole or not at all, for a run beside this one
    return template


class Stack:
    """The processes of one test: each gets the same database, Redis and key prefix."""

    def __init__(self, tmp: Path, redis_url: str | None = None, **settings: str):
        self.tmp = tmp
        self.processes: list[Process] = []
        self.webs: list[Process] = []
        self.engines: list[Process] = []
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("GAMESERVER_", "DJANGO_"))
        }
        self.env.pop("REDIS_URL", None)
        self.env.update(
            DJANGO_SETTINGS_MODULE="gameserver.settings",
            DJANGO_DEBUG="1",
            DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
            GAMESERVER_BOT_FILL_SECONDS="1",
            GAMESERVER_PRIVATE_BOT_FILL_SECONDS="1",
            GAMESERVER_REDIS_PREFIX=f"test-{uuid.uuid4().hex[:8]}",
            PYTHONUNBUFFERED="1",
        )
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.env.update(settings)
        if self.env["DATABASE_URL"] == f"sqlite:///{tmp / 'db.sqlite3'}":
            shutil.copyfile(migrated_sqlite(self.env), tmp / "db.sqlite3")
        else:
            migrate(self.env)

    def web(self, name: str = "web", server: str = "daphne") -> str:
        """Start a web process on a free port; `server` is daphne or uvicorn (the Procfile's)."""
        port = free_port()
        return self.serve(name, WEB_SERVERS[server](port), f"http://127.0.0.1:{port}")

    def serve(
        self, name: str, args: list[str], base: str, context: ssl.SSLContext | None = None
    ) -> str:
        """Start a web process from `args` and wait until `base` answers (TLS: `context`)."""
        process = Process(name, args, self.env, self.tmp)
        self.processes.append(process)
        self.webs.append(process)

        def ready() -> bool:
            if not process.alive():
                raise RuntimeError(f"{name} exited:\n{process.output()}")
            try:
                url = base + "/api/session"
                return urllib.request.urlopen(url, timeout=1, context=context).status == 200
            except (urllib.error.URLError, ConnectionError, OSError):
                return False

        wait_for(ready, 30, f"{name} to answer on {base}")
        return base

    def engine(self, name: str = "engine") -> Process:
        process = Process(
            name, [PYTHON, "manage.py", "runengine", "--name", name], self.env, self.tmp
        )
        self.processes.append(process)
        self.engines.append(process)
        wait_for(
            lambda: "running" in process.output() or not process.alive(), 30, f"{name} to start"
        )
        if not process.alive():
            raise RuntimeError(f"{name} exited:\n{process.output()}")
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
