"""wss:// end to end: daphne serving TLS with a certificate from a throwaway CA (trustme), the
HTTP API over https, and a whole match over wss:// from a client that trusts only that CA."""

from __future__ import annotations

import http.cookiejar
import ssl
import urllib.error
import urllib.request

import pytest
import trustme
import websockets

from games.loadtest.stack import DAPHNE, Stack, free_port
from games.protocol import SUBPROTOCOL_JSON, TICKET_PREFIX
from tests.players import Player
from tests.security.sockets import play_to_the_end
from tests.support import Api

pytestmark = pytest.mark.timeout(120)


class HttpsApi(Api):
    """Api over https, trusting `context`'s CAs only."""

    def __init__(self, base: str, context: ssl.SSLContext):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies),
            urllib.request.HTTPSHandler(context=context),
        )
        self.get("/api/session")


class WssPlayer(Player):
    """The scripted player of tests/players.py, connecting with TLS."""

    def __init__(self, url: str, seat_answer: dict, origin: str, context: ssl.SSLContext):
        super().__init__(url, seat_answer, origin)
        self.context = context

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[SUBPROTOCOL_JSON, TICKET_PREFIX + self.ticket],
            origin=self.origin,
            ssl=self.context,
            proxy=None,
            open_timeout=15,
        )


def start_tls_daphne(stack: Stack, ca: trustme.CA, context: ssl.SSLContext) -> str:
    """daphne on a Twisted `ssl:` endpoint with a certificate for 127.0.0.1 and localhost,
    stopped with the stack; returns https://127.0.0.1:PORT once it answers."""
    pem = stack.tmp / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(pem)
    port = free_port()
    endpoint = f"ssl:{port}:privateKey={pem}:certKey={pem}:interface=127.0.0.1"
    args = [DAPHNE, "-e", endpoint, "--websocket-max-message-size", "4096",
            "gameserver.asgi:application"]  # fmt: skip
    return stack.serve("daphne-tls", args, f"https://127.0.0.1:{port}", context)


async def test_a_match_over_wss_from_https_api_to_the_result(stack_factory):
    """The production path end to end over TLS: a guest and a seat over https, then wss:// with
    the page's https origin (on the allow-list); welcome, frames, a turn the server applies,
    and the match's end (close 1000)."""
    stack = stack_factory(GAMESERVER_ALLOWED_ORIGINS="https://127.0.0.1:*,http://127.0.0.1:*")
    ca = trustme.CA()
    context = ssl.create_default_context()
    ca.configure_trust(context)
    base = start_tls_daphne(stack, ca, context)

    api = HttpsApi(base, context)
    api.post("/api/guest", {"name": "alice"})
    seat = api.post("/api/matches", {"game": "lightcycles", "private": True, "seats": 2})
    alice = WssPlayer(base.replace("https://", "wss://") + "/ws/play/", seat, base, context)
    await alice.connect()
    assert alice.ws.transport.get_extra_info("ssl_object").version().startswith("TLS")
    await play_to_the_end(alice, seat, timeout=100)
    match = api.get(f"/api/matches/{seat['match']['id']}")["match"]
    assert match["status"] == "finished" and match["result"] == alice.over["result"]
