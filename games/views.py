"""The HTTP JSON API (docs/PROTOCOL.md): guests, the lobby, matchmaking and tickets."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie

from games import services
from games.models import Match, Participant
from games.rules import GAMES
from games.selectors import match_get, match_json, open_matches
from games.services import ServiceError
from games.store import StoreUnavailable
from games.tickets import ticket_issue

MAX_BODY_BYTES = 4096
RETRY_AFTER_SECONDS = 2


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def api(*methods: str, player: bool = False) -> Callable:
    """Method check, JSON body parsing, a player requirement; ServiceError -> its JSON
    error, Redis or the database away -> 503 `unavailable` with Retry-After."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(405, "method_not_allowed", f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                response = _serve(request, view, args, kwargs, player)
            except ServiceError as failure:
                response = error(failure.status, failure.code, failure.message)
            except (StoreUnavailable, DatabaseError):  # django.request logs the 503
                response = error(503, "unavailable", "the game service is recovering from a "
                                 "fault: try again in a few seconds")  # fmt: skip
            if response.status_code == 503:
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response

        return wrapped

    return decorate


def _serve(
    request: HttpRequest, view: Callable, args: tuple, kwargs: dict, player: bool
) -> HttpResponse:
    if player and not request.user.is_authenticated:  # reads the session: the database
        return error(401, "no_player", "choose a name first: POST /api/guest")
    body: dict[str, Any] = {}
    if request.method == "POST" and request.body:
        if len(request.body) > MAX_BODY_BYTES:
            return error(413, "too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return error(400, "bad_json", "the body must be a JSON object")
        if not isinstance(body, dict):
            return error(400, "bad_json", "the body must be a JSON object")
    return view(request, body, *args, **kwargs)


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


@api("POST")
def guest(request: HttpRequest, body: dict) -> JsonResponse:
    name = services.clean_display_name(body.get("name"))
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
                }
                for game in GAMES.values()
                if game.listed
            ]
        }
    )


@api("GET", "POST")
def matches(request: HttpRequest, body: dict) -> JsonResponse:
    if request.method == "GET":
        found = open_matches(game=request.GET.get("game") or None)
        viewer = request.user.pk if request.user.is_authenticated else None
        return JsonResponse({"matches": [match_json(m, viewer_id=viewer) for m in found]})
    if not request.user.is_authenticated:
        return error(401, "no_player", "choose a name first: POST /api/guest")
    private = body.get("private", False)
    if not isinstance(private, bool):
        raise ServiceError("bad_private", "private must be true or false")
    match = services.match_create(
        game=str(body.get("game", "")), private=private, seats=body.get("seats"), user=request.user
    )
    return seat_response(request, match, match.participants.get(user=request.user), status=201)


@api("GET")
def match_detail(request: HttpRequest, body: dict, match_id: str) -> JsonResponse:
    match = match_get(match_id=match_id)
    if match is None:
        return error(404, "no_such_match", f"there is no match {match_id!r}")
    viewer = request.user.pk if request.user.is_authenticated else None
    return JsonResponse({"match": match_json(match, viewer_id=viewer)})


@api("POST", player=True)
def match_join(request: HttpRequest, body: dict, match_id: str) -> JsonResponse:
    match, participant = services.match_join(match_id=match_id, user=request.user)
    return seat_response(request, match, participant)


@api("POST", player=True)
def join_by_code(request: HttpRequest, body: dict) -> JsonResponse:
    match, participant = services.match_join_by_code(code=body.get("code"), user=request.user)
    return seat_response(request, match, participant)


@api("POST", player=True)
def quickplay(request: HttpRequest, body: dict) -> JsonResponse:
    game = body.get("game")
    if not isinstance(game, str) or game not in GAMES:
        raise ServiceError("unknown_game", f"game must be one of {sorted(GAMES)}")
    match, participant = services.match_quickplay(game=game, user=request.user)
    return seat_response(request, match, participant)


@api("POST", player=True)
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


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return error(
        403,
        "csrf",
        f"missing or wrong CSRF token: send the csrftoken cookie's value as X-CSRFToken ({reason})",
    )
