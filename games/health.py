"""What operators and their machines ask a web process: `/metrics` for Prometheus, `/healthz`
for a process manager (does it answer?), `/readyz` for a load balancer (can it serve players
now?). docs/DEPLOY.md, "Metrics and health checks", says how each is used."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from games.store import get_store
from games.views import error

CHECK_SECONDS = 2.0  # a dependency that has not answered by then counts as failing


def metrics_allowed(request: HttpRequest) -> bool:
    """Open in DEBUG; else the bearer token, or a client address on the allow list."""
    if settings.DEBUG:
        return True
    config = settings.GAMESERVER
    token = config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    return _address_allowed(request.META.get("REMOTE_ADDR", ""), config["METRICS_ALLOW_IPS"])


def _address_allowed(address: str, allowed: list[str]) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if client in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a bad entry allows nobody
    return False


def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return error(
            403,
            "forbidden",
            "metrics need 'Authorization: Bearer <GAMESERVER_METRICS_TOKEN>' or a client "
            "address in GAMESERVER_METRICS_ALLOW_IPS",
        )
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is asked, so a restart is never caused by Redis."""
    return JsonResponse({"ok": True})


async def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers and, with Redis, Redis answers and an engine is live.
    Each check is bounded in time and never raises: it reports."""
    checks: dict[str, Any] = {"database": await _check(sync_to_async(_database_answers)())}
    if settings.REDIS_URL:
        store = get_store()
        checks["redis"] = await _check(asyncio.to_thread(store.ping))
        checks["engines"] = await _check(_live_engines(store))
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"ok": not failing, "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


async def _check(work: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(work, CHECK_SECONDS)
    except TimeoutError:
        answer: dict[str, Any] = {"ok": False, "error": f"no answer in {CHECK_SECONDS:g} s"}
    except Exception as failure:
        answer = {"ok": False, "error": f"{type(failure).__name__}: {failure}"}
    else:
        answer = {"ok": True} if detail is None else detail
    answer["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return answer


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _live_engines(store: Any) -> dict[str, Any]:
    live_engines = getattr(store, "live_engines", None)
    if live_engines is None:  # a store without engine heartbeats: this cannot be checked
        return {"ok": True, "live": None}
    live = [engine["name"] for engine in await live_engines() if not engine.get("silent")]
    if not live:
        return {"ok": False, "live": [], "error": "no engine has written a heartbeat lately"}
    return {"ok": True, "live": live}
