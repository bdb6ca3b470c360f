"""A real nginx in front of a web process, configured with docs/DEPLOY.md's own site file.

The site file is read out of DEPLOY.md (between the `nginx-site` markers) and only its
addresses and paths are replaced, each one checked to be there, so the proxy the tests attack is
the one the deployment guide tells operators to run. What a test needs on top (a pid file, logs
and temp paths in its tmp dir) goes in the `nginx.conf` around it, as Debian's
/etc/nginx/nginx.conf wraps /etc/nginx/sites-enabled/*. nginx runs as the test's own process in
the foreground, never as the system service.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import os
import re
import shutil
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
import websockets

from games.loadtest.stack import ROOT, Process, Stack, free_port, wait_for
from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX
from tests.players import Player
from tests.support import Api

DEPLOY_MD = ROOT / "docs" / "DEPLOY.md"
BEGIN, END = "<!-- nginx-site:begin -->", "<!-- nginx-site:end -->"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def deployed_site() -> str:
    """The nginx site file exactly as DEPLOY.md shows it."""
    text = DEPLOY_MD.read_text()
    assert BEGIN in text and END in text, f"{DEPLOY_MD} lost its {BEGIN} … {END} markers"
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    found = re.search(r"```nginx\n(.*?)```", block, re.DOTALL)
    assert found, f"no ```nginx block between the markers in {DEPLOY_MD}"
    return found.group(1)


def directive(site: str, name: str) -> str:
    """The value of a directive the site sets (the same in each server), e.g.
    `client_header_timeout` -> '10s'."""
    values = {v.strip() for v in re.findall(rf"^\s*{name}\s+([^;]+);", site, re.MULTILINE)}
    assert len(values) == 1, f"{name} has the values {values} in DEPLOY.md's site"
    return values.pop()


def seconds(value: str) -> float:
    """An nginx time ('10s', '1m', '500ms', '15') in seconds."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)?", value).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[unit]


def local_site(site: str, replacements: dict[str, str]) -> str:
    """`site` with its production addresses and paths replaced by the test's."""
    for production, local in replacements.items():
        assert production in site, f"DEPLOY.md's site no longer has {production!r}"
        site = site.replace(production, local)
    return site


@dataclass
class FrontDoor:
    """nginx on free loopback ports in front of one web process."""

    https: str  # https://127.0.0.1:PORT, the players' address
    http: str  # the plain-HTTP listener, which only redirects
    site: str  # the site file as DEPLOY.md has it (before the local replacements)
    context: ssl.SSLContext  # trusts the test CA only
    process: Process

    @property
    def wss(self) -> str:
        return self.https.replace("https://", "wss://") + "/ws/play/"

    @property
    def port(self) -> int:
        return int(self.https.rsplit(":", 1)[1])


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def start_front_door(stack: Stack, web_base: str) -> FrontDoor:
    """nginx with DEPLOY.md's site in front of `web_base` (http://127.0.0.1:PORT), TLS with a
    certificate for 127.0.0.1 from a throwaway CA; stopped with the stack."""
    assert NGINX, "nginx is missing"
    tmp = stack.tmp / "nginx"
    (tmp / "temp").mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(tmp / "cert.pem")
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(tmp / "cert.pem", append=True)
    cert.private_key_pem.write_to_path(tmp / "key.pem")
    https_port, http_port = free_port(), free_port()
    site = deployed_site()
    local = local_site(
        site,
        {
            "server 127.0.0.1:8000;": f"server {web_base.removeprefix('http://')};",
            "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "/etc/ssl/play.example.com.pem": str(tmp / "cert.pem"),
            "/etc/ssl/play.example.com.key": str(tmp / "key.pem"),
            "/srv/gameserver/staticfiles/": f"{ROOT / 'static'}/",
        },
    )
    # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700 tmp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""{user}
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} info;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp / "access.log"};
{temp}
# ---- DEPLOY.md's site ----
{local}
}}
"""
    )
    args = [NGINX, "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(conf),
            "-g", "daemon off;"]  # fmt: skip
    process = Process("nginx", args, dict(os.environ), stack.tmp)
    stack.processes.append(process)
    context = client_context(ca)
    https = f"https://127.0.0.1:{https_port}"

    def ready() -> bool:
        if not process.alive():
            errors = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited:\n{process.output()}\n{errors}")
        try:
            url = https + "/api/session"
            return urllib.request.urlopen(url, timeout=1, context=context).status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    wait_for(ready, 20, f"nginx to answer on {https}")
    return FrontDoor(https, f"http://127.0.0.1:{http_port}", site, context, process)


# Clients of the front door. All of 127.0.0.0/8 is this machine's, so a client that connects
# from 127.0.0.3 is, to nginx, another address than one from 127.0.0.1.


class _SourceHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext, source: str):
        super().__init__(context=context)
        self.source = source

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(http.client.HTTPSConnection, source_address=(self.source, 0))
        return self.do_open(connection, req, context=self._context)


class DoorApi(Api):
    """A browser session through the proxy from address `source`, which may add its own
    X-Forwarded-For to every request."""

    def __init__(self, door: FrontDoor, source: str = "127.0.0.1", forwarded_for: str = ""):
        self.base = door.https
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies),
            _SourceHTTPSHandler(door.context, source),
        )
        if forwarded_for:
            self.opener.addheaders.append(("X-Forwarded-For", forwarded_for))
        self.get("/api/session")


def door_socket(
    door: FrontDoor, source: str = "127.0.0.1", forwarded_for: str = "", ticket: str = ""
) -> Any:
    """websockets' connect() through the proxy from `source`, like the page would, with a
    spoofed X-Forwarded-For if given."""
    return websockets.connect(
        door.wss,
        subprotocols=[SUBPROTOCOL_JSON] + ([TICKET_PREFIX + ticket] if ticket else []),
        origin=door.https,
        additional_headers={"X-Forwarded-For": forwarded_for} if forwarded_for else None,
        ssl=door.context,
        local_addr=(source, 0),
        compression=None,
        proxy=None,
        open_timeout=10,
    )


class DoorPlayer(Player):
    """tests/players.py's scripted player, through the proxy over wss:// from `source`."""

    def __init__(self, door: FrontDoor, seat_answer: dict[str, Any], source: str = "127.0.0.1"):
        super().__init__(door.wss, seat_answer, door.https)
        self.door = door
        self.source = source

    async def connect(self) -> None:
        self.ws = await door_socket(self.door, self.source, ticket=self.ticket)
