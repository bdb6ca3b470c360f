"""Response headers of a production-mode server: the Content-Security-Policy and
Permissions-Policy on every page (the game, the API, the admin, errors), and a client's
`X-Forwarded-Proto` believed only with DJANGO_BEHIND_PROXY (games/middleware.py, settings)."""

from __future__ import annotations

import secrets
import string
import urllib.error
import urllib.request
from email.message import Message

import pytest

from tests.security.sockets import serve

pytestmark = pytest.mark.timeout(90)

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "".join(secrets.choice(string.ascii_letters) for _ in range(50)),
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "GAMESERVER_ALLOWED_ORIGINS": "http://127.0.0.1:*",
    "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback: no TLS in front here
    "DJANGO_SECURE_COOKIES": "0",
}


def fetch(url: str, **headers: str) -> tuple[int, Message]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def policy(headers: Message) -> dict[str, str]:
    value = headers["Content-Security-Policy"]
    assert value, "no Content-Security-Policy header"
    directives = (part.strip().split(" ", 1) for part in value.split(";") if part.strip())
    return {name: rest for name, rest in directives}


def test_every_page_carries_the_policy(stack_factory):
    base = serve(stack_factory, "uvicorn", **PRODUCTION)
    host = base.removeprefix("http://")
    for path, status in [
        ("/", 200),
        ("/api/session", 200),
        ("/admin/login/", 200),
        ("/static/js/main.js", 200),
        ("/api/no-such-thing", 404),
    ]:
        answer, headers = fetch(base + path)
        assert answer == status, path
        csp = policy(headers)
        assert csp["default-src"] == "'self'", path
        assert csp["connect-src"] == f"'self' ws://{host} wss://{host}", path
        assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'", path
        assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'", path
        assert "unsafe" not in headers["Content-Security-Policy"], path
        assert "camera=()" in headers["Permissions-Policy"], path
        assert "microphone=()" in headers["Permissions-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        if not path.startswith("/static/"):  # whitenoise answers before the clickjacking one
            assert headers["X-Frame-Options"] == "DENY", path


def test_x_forwarded_proto_from_a_client_is_ignored_unless_behind_a_proxy(stack_factory):
    """daphne (no proxy handling of its own): only Django decides what is HTTPS. Believed, the
    header turns HSTS on and limits the socket to wss://; it must not be from any client."""
    spoofed = {"X-Forwarded-Proto": "https"}
    direct = serve(stack_factory, "daphne", **PRODUCTION)
    status, headers = fetch(direct + "/api/session", **spoofed)
    assert status == 200
    assert headers["Strict-Transport-Security"] is None
    assert "ws://" in policy(headers)["connect-src"]

    proxied = serve(stack_factory, "daphne", **PRODUCTION, DJANGO_BEHIND_PROXY="1")
    status, headers = fetch(proxied + "/api/session", **spoofed)
    assert status == 200
    # A year, without includeSubDomains or preload unless asked for (DJANGO_HSTS_*).
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    host = proxied.removeprefix("http://")
    assert policy(headers)["connect-src"] == f"'self' wss://{host}"
