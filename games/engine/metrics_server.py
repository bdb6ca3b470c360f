"""An engine's own tiny HTTP server: `/metrics` (Prometheus text) and `/healthz` (JSON).

It runs on the engine's event loop, so a `/healthz` answer also says that the loop is not
stuck. It reads one request line and the headers, answers and closes: just enough for a
Prometheus scraper and a process manager's probe, on a port kept off the public network.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from games.engine.host import EngineHost

READ_SECONDS = 5.0  # a client that sends no request in this long is dropped
MAX_HEADER_LINES = 100


async def start_metrics_server(host: EngineHost, bind: str, port: int) -> asyncio.Server:
    """Serve the engine's /metrics and /healthz on `bind`:`port` until closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            path = await asyncio.wait_for(_read_path(reader), READ_SECONDS)
            status, content_type, body = _answer(host, path)
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client that went away or spoke no HTTP: nothing to answer
        finally:
            writer.close()

    return await asyncio.start_server(handle, bind, port)


async def _read_path(reader: asyncio.StreamReader) -> str:
    request = (await reader.readline()).decode("latin-1").split()
    if len(request) < 2:
        raise ValueError("not an HTTP request")
    for _ in range(MAX_HEADER_LINES):  # the headers are read and ignored
        if (await reader.readline()) in (b"\r\n", b"\n", b""):
            break
    return request[1].split("?", 1)[0]


def _answer(host: EngineHost, path: str) -> tuple[str, str, bytes]:
    if path == "/metrics":
        return "200 OK", CONTENT_TYPE_LATEST, generate_latest()
    if path == "/healthz":
        health = {"ok": True, "name": host.name, "matches": len(host.runtimes),
                  "started": bool(host.channel)}  # fmt: skip
        return "200 OK", "application/json", json.dumps(health).encode()
    return "404 Not Found", "application/json", b'{"error": "try /metrics or /healthz"}'
