"""The HTTP side of watching (docs/PROTOCOL.md, "Watching"): the running matches to watch, and
spectator tickets. The stream itself is games/stream.py."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from games import ratelimit
from games.engine.spectators import spectator_delay
from games.rules import get_game
from games.selectors import ban_reason, match_get, match_json, running_matches
from games.services import ServiceError, display_name_of
from games.staff import BANNED
from games.store import get_store
from games.tickets import ticket_issue
from games.views import api, error

FULL_RETRY_SECONDS = 10


@api("GET")
def live(request: HttpRequest, body: dict) -> JsonResponse:
    """Running public matches, with how many watch each."""
    found = [match_json(m) for m in running_matches(game=request.GET.get("game") or None)]
    counts = get_store().spectator_counts([m["id"] for m in found]) if found else {}
    return JsonResponse({"matches": [{**m, "spectators": counts[m["id"]]} for m in found]})


@api("POST", limit="watch", fields={"code": str, "anonymous": bool})
def watch(request: HttpRequest, body: dict, match_id: str) -> JsonResponse:
    """A spectator ticket for the socket; for a private match (its code, or a seat in it)
    also a grant that lets this session's EventSource stream it."""
    user = request.user
    if not user.is_authenticated:
        return error(401, "no_player", "choose a name first: POST /api/guest")
    if (reason := ban_reason(user_id=user.pk)) is not None:
        return error(403, "banned", f"{BANNED}: {reason}" if reason else BANNED)
    match = match_get(match_id=match_id)
    if match is None:
        return error(404, "no_such_match", f"there is no match {match_id!r}")
    if match.is_over:
        return error(409, "match_over", "that match is over")
    if match.private and not match.participants.filter(user=user).exists():
        ratelimit.check_code_lockout(request)
        code = (body.get("code") or "").strip().upper()
        if code != match.join_code:
            ratelimit.code_failed(request)
            raise ServiceError("private_match", "that match is private: send its code", 403)
    most = settings.GAMESERVER["MAX_SPECTATORS"]
    store = get_store()
    if store.spectator_counts([match_id])[match_id] >= most:
        raise ServiceError("too_many_spectators", f"{most} people are watching that match "
                           "already: try again later", 429, FULL_RETRY_SECONDS)  # fmt: skip
    if match.private:
        store.grant_watch(user.pk, match_id, settings.GAMESERVER["WATCH_GRANT"])
    name = "" if body.get("anonymous") else display_name_of(user)
    ticket = ticket_issue(match_id=match_id, user_id=user.pk, seat=-1, name=name, spectator=True)
    return JsonResponse({
        "match": match_json(match),
        "ticket": ticket,
        "role": "spectator",
        "delay": spectator_delay(get_game(match.game)),
        "stream": f"/api/matches/{match_id}/stream",
    })  # fmt: skip
