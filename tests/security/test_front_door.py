"""The front door of docs/DEPLOY.md, attacked through a real nginx started with that guide's own
site file (tests/security/nginx.py) in front of a uvicorn web process run with the Procfile's
flags, which trusts X-Forwarded-For from 127.0.0.1 only.

The attacks are the issue's: slowloris connections, oversize request heads (a 9 KB
Sec-WebSocket-Protocol, 64 MB of headers), a spoofed X-Forwarded-For against the per-address
socket cap and the HTTP rate limits; and a whole game over wss:// through the proxy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import os
import re
import shlex
import socket
import ssl
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from games.loadtest.stack import ROOT, Stack, uvicorn_args
from tests.security.nginx import (
    NGINX,
    DoorApi,
    DoorPlayer,
    FrontDoor,
    directive,
    door_socket,
    seconds,
    start_front_door,
)
from tests.security.sockets import assert_rejected, play_to_the_end

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        NGINX is None, reason="nginx is missing: apt-get install nginx (make test installs it)"
    ),
]

SLOWLORIS = 15
# Guests per minute from one address: low, so the test can reach the limit through the proxy.
GUESTS_PER_ADDRESS = 2


class Front:
    def __init__(self, stack: Stack, web: str, door: FrontDoor):
        self.stack, self.web, self.door = stack, web, door

    def web_rss_mb(self) -> float:
        status = Path(f"/proc/{self.stack.webs[0].proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    """One uvicorn web process (embedded mode) behind one nginx for the whole module; each test
    speaks from loopback addresses of its own, so that one's counts never reach another's."""
    stack = Stack(
        tmp_path_factory.mktemp("front-door"),
        None,
        GAMESERVER_MAX_SOCKETS_PER_IP="2",
        GAMESERVER_LIMIT_GUEST_PER_ADDRESS=f"{GUESTS_PER_ADDRESS}/minute",
        GAMESERVER_ALLOWED_ORIGINS="https://127.0.0.1:*",
    )
    try:
        web = stack.web("web", server="uvicorn")
        yield Front(stack, web, start_front_door(stack, web))
    finally:
        stack.stop()


async def tls_connection(door: FrontDoor) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        "127.0.0.1", door.port, ssl=door.context, server_hostname="127.0.0.1"
    )


async def slowloris(reader, writer, budget: float) -> tuple[float | None, bytes]:
    """Trickle a request head one byte a second; (seconds until the server ended the
    connection or None if it never did within `budget`, what it sent before that)."""
    head = b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
    start = time.monotonic()
    received = b""
    try:
        for byte in head:
            if time.monotonic() - start > budget:
                return None, received
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(4096), 1.0)
            except TimeoutError:
                continue
            received += data
            if not data:
                break
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()
    return time.monotonic() - start, received


async def silent(reader, writer, budget: float) -> tuple[float | None, bytes]:
    """Send nothing at all; like slowloris()."""
    start = time.monotonic()
    try:
        received = await asyncio.wait_for(reader.read(4096), budget)
    except TimeoutError:
        return None, b""
    except (ConnectionError, ssl.SSLError):
        received = b""
    finally:
        writer.close()
    return time.monotonic() - start, received


async def test_slowloris_connections_are_closed_by_the_proxy_within_its_header_timeout(front):
    """15 connections trickling their headers a byte a second, one that sends nothing after
    its TLS handshake and one that never starts it: nginx ends every one of them within
    client_header_timeout (plus slack) and sends nothing; the site answers others meanwhile.
    The same trickle straight to uvicorn is still open then (why DEPLOY.md makes the proxy
    mandatory)."""
    timeout = seconds(directive(front.door.site, "client_header_timeout"))
    assert timeout <= 15, "a slow request head may hold a connection this long: too long"
    connections = [await tls_connection(front.door) for _ in range(SLOWLORIS)]
    web_host, web_port = front.web.removeprefix("http://").split(":")
    bare = await asyncio.open_connection(web_host, int(web_port))
    attacks = [asyncio.create_task(slowloris(r, w, timeout + 5)) for r, w in connections]
    no_tls = await asyncio.open_connection("127.0.0.1", front.door.port)
    for reader, writer in (await tls_connection(front.door), no_tls):
        attacks.append(asyncio.create_task(silent(reader, writer, timeout + 5)))
    bare_attack = asyncio.create_task(slowloris(*bare, timeout + 3))

    await asyncio.sleep(timeout / 2)
    session = await asyncio.to_thread(
        lambda: urllib.request.urlopen(
            front.door.https + "/api/session", timeout=5, context=front.door.context
        )
    )
    assert session.status == 200, "the site stops answering others during the attack"

    ended = await asyncio.gather(*attacks)
    for elapsed, received in ended:
        assert elapsed is not None, f"a slowloris connection outlived {timeout + 5:.0f} s"
        assert timeout - 1 <= elapsed <= timeout + 3, ended
        assert received == b"", received
    bare_elapsed, _ = await bare_attack
    assert bare_elapsed is None, (
        "uvicorn itself now ends a slowloris connection: update DEPLOY.md's front-door table"
    )


def handshake(path: str, port: int, extra: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: https://127.0.0.1:{port}\r\n{extra}\r\n"
    ).encode()


async def answer_and_close(reader, writer, request: bytes) -> tuple[bytes, float]:
    """Send `request` whole; everything the server sends until it closes, and how long that
    took (the test fails if it does not close within 5 s)."""
    start = time.monotonic()
    writer.write(request)
    await writer.drain()
    received = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 5):
            received += chunk
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()
    return received, time.monotonic() - start


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


OVERSIZE = (400, 431, 494)


async def test_oversize_request_heads_get_an_error_from_the_proxy_and_are_closed(front):
    """The issue's 9 KB Sec-WebSocket-Protocol handshake and a head of many 1 KB headers get
    nginx's 400 and a closed connection (uvicorn would answer nothing and keep them open);
    64 MB of headers are cut off early and never reach the web process, whose memory stays
    flat."""
    door = front.door
    long_protocol = handshake("/ws/play/", door.port, f"Sec-WebSocket-Protocol: {'p' * 9000}\r\n")
    many_headers = b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(20)
    )
    for request in (long_protocol, many_headers + b"\r\n"):
        response, took = await answer_and_close(*await tls_connection(door), request)
        assert status_of(response) in OVERSIZE, response[:300]
        assert b"nginx" in response, "the refusal comes from the proxy"
        assert took < 5

    rss_before = front.web_rss_mb()
    reader, writer = await tls_connection(door)
    writer.write(b"GET /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    chunk = b"X-Pad: " + b"a" * 1000 + b"\r\n"
    sent, cut = 0, False
    start = time.monotonic()
    try:
        while sent < 64 * 2**20 and time.monotonic() - start < 20:
            writer.write(chunk * 64)
            await asyncio.wait_for(writer.drain(), 5)
            sent += len(chunk) * 64
    except (ConnectionError, ssl.SSLError, TimeoutError):
        cut = True
    response = b""
    with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
        response = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    assert cut or status_of(response) in OVERSIZE, f"sent {sent} bytes of headers, no refusal"
    assert not response or status_of(response) in OVERSIZE, response[:300]
    assert front.web_rss_mb() - rss_before < 10, "the headers reached the web process"


async def test_a_spoofed_forwarded_for_changes_nothing_the_limits_count(front):
    """Through the proxy, a client's own X-Forwarded-For is replaced by its real address, and
    that address is what the server counts: with 2 sockets and 2 guests a minute allowed per
    address, 127.0.0.1 is refused its third of each however it varies the header, while
    127.0.0.3 (another client behind the same proxy) is served."""
    door = front.door
    for n in range(1, GUESTS_PER_ADDRESS + 1):
        DoorApi(door, "127.0.0.1", f"6.6.6.{n}").post("/api/guest", {"name": f"spoof{n}"})
    status, body = DoorApi(door, "127.0.0.1", "6.6.6.9").request(
        "POST", "/api/guest", {"name": "spoof9"}
    )
    assert status == 429 and body["error"]["code"] == "rate_limited", (status, body)
    assert "from one address" in body["error"]["message"], body
    other = DoorApi(door, "127.0.0.3")
    other.post("/api/guest", {"name": "other"})
    seat = other.post("/api/matches", {"game": "lightcycles", "private": True, "seats": 2})

    # Sockets without a ticket count too (the cap comes before auth); they wait for one 5 s.
    held = [await door_socket(door, "127.0.0.1", f"6.6.6.{n}") for n in (1, 2)]
    try:
        refused = await door_socket(door, "127.0.0.1", "6.6.6.3")
        await assert_rejected(refused, 4429, "too_many_sockets")
        async with door_socket(door, "127.0.0.3", "127.0.0.1", ticket=seat["ticket"]) as ws:
            welcome = await asyncio.wait_for(ws.recv(), 10)
            assert '"welcome"' in welcome, welcome
        for ws in held:
            with pytest.raises(TimeoutError):  # still open: no error frame, no close
                await asyncio.wait_for(ws.recv(), 0.2)
    except ConnectionClosed as closed:
        raise AssertionError(f"a socket within the cap was closed: {closed}") from None
    finally:
        for ws in held:
            await ws.close()


async def test_a_game_plays_through_the_proxy_over_wss_to_the_end(front):
    """A guest and a seat over https through nginx, then the whole match over wss:// through
    it: the handshake is nginx's, frames flow, a turn is applied, `over`, close 1000."""
    api = DoorApi(front.door, "127.0.0.4")
    api.post("/api/guest", {"name": "alice"})
    seat = api.post("/api/matches", {"game": "lightcycles", "private": True, "seats": 2})
    alice = DoorPlayer(front.door, seat, "127.0.0.4")
    await alice.connect()
    assert alice.ws.response.headers["Server"].startswith("nginx"), alice.ws.response.headers
    assert alice.ws.transport.get_extra_info("ssl_object").version().startswith("TLS")
    await play_to_the_end(alice, seat, timeout=60)


def test_static_files_come_from_disk_and_plain_http_is_redirected(front):
    """nginx serves /static/ from the files (its own Cache-Control), falls back to whitenoise
    for a file it does not have (the admin's), and sends plain HTTP to https."""
    door = front.door
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=door.context))
    with opener.open(door.https + "/static/js/net.js", timeout=5) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "max-age=3600", dict(response.headers)
        assert response.read() == (ROOT / "static" / "js" / "net.js").read_bytes()
    with opener.open(door.https + "/static/admin/css/base.css", timeout=5) as response:
        assert response.status == 200 and response.headers["Cache-Control"] != "max-age=3600"

    with socket.create_connection(("127.0.0.1", int(door.http.rsplit(":", 1)[1]))) as plain:
        plain.sendall(b"GET /api/session HTTP/1.1\r\nHost: play.example.com\r\n\r\n")
        answer = plain.recv(4096)
    assert status_of(answer) == 301 and b"Location: https://play.example.com/api/session" in answer


def test_an_api_flood_from_one_address_gets_429_from_the_proxy(front):
    """limit_req: one address calling the API as fast as it can is refused by nginx (429) once
    past its burst; the page's files and other addresses are still served."""
    rate = float(re.match(r"[^;]*rate=(\d+)r/s", directive(front.door.site, "limit_req_zone"))[1])
    burst = int(re.search(r"burst=(\d+)", directive(front.door.site, "limit_req"))[1])

    def connect(source: str) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            "127.0.0.1", front.door.port, context=front.door.context, source_address=(source, 0)
        )

    def get(path: str, connection: http.client.HTTPSConnection) -> tuple[int, bytes]:
        connection.request("GET", path)  # over one keep-alive connection: as fast as it goes
        response = connection.getresponse()
        return response.status, response.read()

    with contextlib.closing(connect("127.0.0.5")) as flood:
        start = time.monotonic()
        statuses = [get("/api/games", flood)[0] for _ in range(burst + 30)]
        allowed = burst + 1 + rate * (time.monotonic() - start)
        assert 429 in statuses, f"{len(statuses)} API calls in a row, none refused"
        assert burst <= statuses.index(429) <= allowed, statuses
        status, body = get("/api/games", flood)
        assert status == 429 and b"nginx" in body, (status, body[:200])
        assert get("/static/js/net.js", flood)[0] == 200
    with contextlib.closing(connect("127.0.0.6")) as other:
        assert get("/api/games", other)[0] == 200


def test_the_procfile_runs_the_web_process_the_tests_run():
    """The Procfile's uvicorn flags are games/loadtest/stack.py's (which every uvicorn test
    runs), with the trusted proxies from FORWARDED_ALLOW_IPS (never everyone) and a
    concurrency limit well above the benchmark's 600 sockets per web process."""
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    procfile = shlex.split(line.removeprefix("web:"))
    tested = uvicorn_args(0)[2:]  # past `python -m`
    assert procfile[0] == tested[0] == "uvicorn"

    def flags(args: list[str]) -> dict[str, str]:
        out, i = {}, 1
        while i < len(args):
            takes_value = i + 1 < len(args) and not args[i + 1].startswith("--")
            out[args[i]] = args[i + 1] if takes_value else ""
            i += 2 if takes_value else 1
        return out

    deployed, run = flags(procfile[1:]), flags(tested[1:])
    assert deployed.pop("--forwarded-allow-ips") == "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
    assert run.pop("--forwarded-allow-ips") == "127.0.0.1"
    for where in ("--host", "--port"):
        deployed.pop(where), run.pop(where)
    assert deployed == run
    assert "--proxy-headers" in deployed and int(deployed["--limit-concurrency"]) >= 2000
