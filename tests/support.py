"""Real processes for tests: redis-server, daphne, runengine; and an HTTP API client."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DAPHNE = str(Path(PYTHON).parent / "daphne")


def free_port() -> int:
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


class Stack:
    """The processes of one test: each gets the same database, Redis and key prefix."""

    def __init__(self, tmp: Path, redis_url: str | None = None, **settings: str):
        self.tmp = tmp
        self.processes: list[Process] = []
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
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
            env=self.env,
            cwd=ROOT,
            check=True,
        )

    def web(self, name: str = "web") -> str:
        port = free_port()
        args = [
            DAPHNE,
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--ping-interval",
            "20",
            "--ping-timeout",
            "30",
            "--websocket-max-message-size",
            "4096",
            "gameserver.asgi:application",
        ]
        process = Process(name, args, self.env, self.tmp)
        self.processes.append(process)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if not process.alive():
                raise RuntimeError(f"{name} exited:\n{process.output()}")
            try:
                return urllib.request.urlopen(base + "/api/session", timeout=1).status == 200
            except (urllib.error.URLError, ConnectionError, OSError):
                return False

        wait_for(ready, 30, f"{name} to answer on {base}")
        return base

    def engine(self, name: str = "engine") -> Process:
        process = Process(
            name, [PYTHON, "manage.py", "runengine", "--name", name], self.env, self.tmp
        )
        self.processes.append(process)
        wait_for(
            lambda: "running" in process.output() or not process.alive(), 30, f"{name} to start"
        )
        if not process.alive():
            raise RuntimeError(f"{name} exited:\n{process.output()}")
        return process

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


class Api:
    """A player's browser session against the HTTP API: cookies and the CSRF header."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.get("/api/session")

    def _csrf(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": self._csrf(),
                "Referer": self.base + "/",
                "Origin": self.base,
            },
        )
        try:
            with self.opener.open(req, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (status, body)
        return body

    def post(self, path: str, body: Any = None, expect: int | tuple = (200, 201)) -> Any:
        status, answer = self.request("POST", path, body if body is not None else {})
        expected = expect if isinstance(expect, tuple) else (expect,)
        assert status in expected, (status, answer)
        return answer

    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws/play/"
