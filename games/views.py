"""The HTTP JSON API (docs/PROTOCOL.md): guests, the lobby, matchmaking and tickets."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie

from games import metrics, ratelimit, services
from games.models import Match, Participant
from games.rules import GAMES
from games.rules.base import kind, offers_bots, options_of
from games.selectors import ban_reason, match_get, match_json, open_matches
from games.services import ServiceError
from games.staff import BANNED
from games.store import StoreUnavailable
from games.tickets import ticket_issue

MAX_BODY_BYTES = 4096
RETRY_AFTER_SECONDS = 2
STAFF_REFUSED = "staff accounts cannot play: use a guest in another browser"
TYPE_NAMES = {str: "a string", bool: "true or false", int: "a whole number",
              dict: "an object of option names to values"}  # fmt: skip

log = logging.getLogger(__name__)


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def api(
    *methods: str,
    player: bool = False,
    limit: str | None = None,
    fields: dict[str, type] | None = None,
) -> Callable:
    """Method check; `player`: a POST needs a player, and not a staff account; `limit`: the
    rate limits a POST counts against (games/ratelimit.py); the JSON body's `fields` and
    their types (no others). ServiceError -> its JSON error (with Retry-After when it says),
    Redis or the database away -> 503 `unavailable`, anything else -> a logged JSON 500."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(405, "method_not_allowed", f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            retry_after: float | None = None
            try:
                response = _serve(request, view, args, kwargs, player, limit, fields or {})
            except ServiceError as failure:
                response = error(failure.status, failure.code, failure.message)
                retry_after = failure.retry_after
            except (StoreUnavailable, DatabaseError) as fault:  # django.request logs the 503
                metrics.count_fault(fault)
                response = error(503, "unavailable", "the game service is recovering from a "
                                 "fault: try again in a few seconds")  # fmt: skip
            except Exception:
                log.exception("%s %s failed", request.method, request.path)
                response = error(500, "server_error", "the server failed on this request (it "
                                 "is logged): try again later")  # fmt: skip
                response._has_been_logged = True  # or django.request logs it a second time
            if retry_after is None and response.status_code == 503:
                retry_after = RETRY_AFTER_SECONDS
            if retry_after is not None:
                response["Retry-After"] = str(max(1, math.ceil(retry_after)))
            return response

        return wrapped

    return decorate


def _serve(
    request: HttpRequest,
    view: Callable,
    args: tuple,
    kwargs: dict,
    player: bool,
    limit: str | None,
    fields: dict[str, type],
) -> HttpResponse:
    if request.method == "POST":
        user = request.user  # reads the session: the database
        if player and not user.is_authenticated:
            return error(401, "no_player", "choose a name first: POST /api/guest")
        if player and (user.is_staff or user.is_superuser):
            return error(403, "staff", STAFF_REFUSED)
        if player and (reason := ban_reason(user_id=user.pk)) is not None:
            why = f": {reason}" if reason else ""
            return error(403, "banned", f"{BANNED}{why}")
        if limit:
            ratelimit.check(request, limit, seat=kwargs.get("match_id"))
    body: dict[str, Any] = {}
    if request.method == "POST" and request.body:
        if len(request.body) > MAX_BODY_BYTES:
            return error(413, "too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return error(400, "bad_json", "the body must be a JSON object")
        except RecursionError:
            return error(400, "bad_json", "the body is nested too deeply")
        if not isinstance(body, dict):
            return error(400, "bad_json", "the body must be a JSON object")
        body = _checked(body, fields)
    return view(request, body, *args, **kwargs)


def _checked(body: dict[str, Any], fields: dict[str, type]) -> dict[str, Any]:
    """The body's fields, each of its declared type (an int is not a bool); null is the same
    as leaving a field out."""
    for name, value in body.items():
        kind = fields.get(name)
        if kind is None:
            takes = ", ".join(fields) or "no fields"
            raise ServiceError("bad_field", f"unknown field {name[:40]!r}: this call takes {takes}")
        if value is not None and (
            not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        ):
            raise ServiceError(f"bad_{name}", f"{name} must be {TYPE_NAMES[kind]}")
    return {name: value for name, value in body.items() if value is not None}


def seat_response(
    request: HttpRequest, match: Match, participant: Participant, status: int = 200
) -> JsonResponse:
    try:
        ticket = ticket_issue(
            match_id=match.public_id,
            user_id=request.user.pk,
            seat=participant.seat,
            name=participant.display_name,
        )
    except StoreUnavailable:
        if getattr(participant, "is_new", False):
            services.seat_undo(participant=participant)  # no ticket, no seat
        raise
    fresh = match_get(match_id=match.public_id)
    return JsonResponse(
        {
            "match": match_json(fresh, viewer_id=request.user.pk),
            "seat": participant.seat,
            "ticket": ticket,
        },
        status=status,
    )


def player_json(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return {"id": user.pk, "name": services.display_name_of(user)}


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    page = (settings.BASE_DIR / "static" / "index.html").read_text(encoding="utf-8")
    return HttpResponse(page)


@ensure_csrf_cookie
@api("GET")
def session(request: HttpRequest, body: dict) -> JsonResponse:
    return JsonResponse({"player": player_json(request)})


@api("POST", limit="guest", fields={"name": str})
def guest(request: HttpRequest, body: dict) -> JsonResponse:
    name = services.clean_display_name(body.get("name"))
    if request.user.is_authenticated and (request.user.is_staff or request.user.is_superuser):
        return error(403, "staff", STAFF_REFUSED)
    if request.user.is_authenticated:
        services.guest_rename(user=request.user, name=name)
    else:
        user = services.guest_create(name=name)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return JsonResponse({"player": player_json(request)})


@api("GET")
def games(request: HttpRequest, body: dict) -> JsonResponse:
    return JsonResponse(
        {
            "games": [
                {
                    "name": game.name,
                    "title": game.title,
                    "tick_rate": game.tick_rate,
                    "min_seats": game.min_seats,
                    "max_seats": game.max_seats,
                    "default_seats": game.default_seats,
                    "kind": kind(game),
                    "bots": offers_bots(game),
                    "options": [option.to_json() for option in options_of(game)],
                }
                for game in GAMES.values()
                if game.listed
            ]
        }
    )


@api("GET", "POST", player=True, limit="create",
     fields={"game": str, "private": bool, "seats": int, "spectator_chat": bool,
             "options": dict, "bot_fill": bool})  # fmt: skip
def matches(request: HttpRequest, body: dict) -> JsonResponse:
    if request.method == "GET":
        found = open_matches(game=request.GET.get("game") or None)
        viewer = request.user.pk if request.user.is_authenticated else None
        return JsonResponse({"matches": [match_json(m, viewer_id=viewer) for m in found]})
    match = services.match_create(
        game=body.get("game", ""),
        private=body.get("private", False),
        seats=body.get("seats"),
        user=request.user,
        address=ratelimit.client_address(request),
        spectator_chat=body.get("spectator_chat"),
        options=body.get("options"),
        bot_fill=body.get("bot_fill"),
    )
    return seat_response(request, match, match.participants.get(user=request.user), status=201)


@api("GET")
def match_detail(request: HttpRequest, body: dict, match_id: str) -> JsonResponse:
    match = match_get(match_id=match_id)
    if match is None:
        return error(404, "no_such_match", f"there is no match {match_id!r}")
    viewer = request.user.pk if request.user.is_authenticated else None
    return JsonResponse({"match": match_json(match, viewer_id=viewer)})


@api("POST", player=True, limit="join")
def match_join(request: HttpRequest, body: dict, match_id: str) -> JsonResponse:
    match, participant = services.match_join(match_id=match_id, user=request.user)
    return seat_response(request, match, participant)


@api("POST", player=True, limit="join_code", fields={"code": str})
def join_by_code(request: HttpRequest, body: dict) -> JsonResponse:
    ratelimit.check_code_lockout(request)
    try:
        match, participant = services.match_join_by_code(code=body.get("code"), user=request.user)
    except ServiceError as failure:
        if failure.code == "no_such_code":
            ratelimit.code_failed(request)
        raise
    return seat_response(request, match, participant)


@api("POST", player=True, limit="quickplay", fields={"game": str})
def quickplay(request: HttpRequest, body: dict) -> JsonResponse:
    game = body.get("game")
    if game not in GAMES:
        raise ServiceError("unknown_game", f"game must be one of {sorted(GAMES)}")
    match, participant = services.match_quickplay(
        game=game, user=request.user, address=ratelimit.client_address(request)
    )
    return seat_response(request, match, participant)


@api("POST", player=True, limit="ticket")
def ticket(request: HttpRequest, body: dict, match_id: str) -> JsonResponse:
    participant = (
        Participant.objects.filter(match__public_id=match_id, user=request.user, bot=False)
        .select_related("match")
        .first()
    )
    if participant is None:
        return error(404, "no_seat", "you hold no seat in that match")
    services.seat_check_return(participant.match, participant)
    return seat_response(request, participant.match, participant)


def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other path under /api/: a JSON 404 too."""
    return error(404, "not_found", f"there is no API call {request.path[:80]!r}: see PROTOCOL.md")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return error(
        403,
        "csrf",
        f"missing or wrong CSRF token: send the csrftoken cookie's value as X-CSRFToken ({reason})",
    )
