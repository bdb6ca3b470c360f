"""Headers on every response (a Content-Security-Policy and a Permissions-Policy), and the
count of responses by status for /metrics.

Django 5.2 has no CSP of its own (6.0 has), and the policy names the request's host for the
game socket, so this is a small middleware rather than a fixed header. It sits first in
MIDDLEWARE so that redirects, static files and error pages carry the headers too.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from games import metrics

# The page, its modules and its stylesheet come from this origin; nothing is inline
# (static/index.html has no inline script or style, keep it so). `data:` images: the page's
# empty favicon (`<link rel="icon" href="data:,">`).
POLICY = (
    "default-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)

# Browser features the game never uses, so a script that got in cannot use them either.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


def content_security_policy(request: HttpRequest) -> str:
    """The policy for this request. `connect-src` adds the game socket's origin explicitly:
    CSP 3 lets 'self' match ws(s) of the same host, but older browsers need it spelled out.
    A page served over HTTPS may only open wss://."""
    connect = ["'self'"]
    try:
        host = request.get_host()  # validated against ALLOWED_HOSTS: safe to echo
    except DisallowedHost:
        host = ""
    if host:
        connect += [f"wss://{host}"] if request.is_secure() else [f"ws://{host}", f"wss://{host}"]
    return "; ".join((*POLICY, "connect-src " + " ".join(connect)))


def _add_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request))
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    return response


@sync_and_async_middleware
def security_headers(get_response: Callable) -> Callable:
    """Adds the two headers to every response, in whichever mode the handler runs."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            response = await get_response(request)
            return _add_headers(request, response)

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        return _add_headers(request, get_response(request))

    return sync_middleware


def _count(response: HttpResponse) -> HttpResponse:
    metrics.HTTP_REQUESTS.labels(str(response.status_code)).inc()
    return response


@sync_and_async_middleware
def count_responses(get_response: Callable) -> Callable:
    """Counts every response by status; first in MIDDLEWARE, so it sees the final one."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return _count(await get_response(request))

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        return _count(get_response(request))

    return sync_middleware
