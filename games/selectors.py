"""Reads of matches and seats, shaped for the API, the socket and the engine."""

from __future__ import annotations

from typing import Any

from games.models import Ban, Match, Participant
from games.rules import GAMES
from games.rules.base import Seat, kind


def open_matches(*, game: str | None, limit: int = 50) -> list[Match]:
    matches = Match.objects.filter(private=False, status=Match.Status.WAITING)
    if game:
        matches = matches.filter(game=game)
    return list(matches.order_by("created_at").prefetch_related("participants")[:limit])


def running_matches(*, game: str | None, limit: int = 50) -> list[Match]:
    """Public matches being played now, the newest first: the ones to watch."""
    matches = Match.objects.filter(private=False, status=Match.Status.RUNNING)
    if game:
        matches = matches.filter(game=game)
    return list(matches.order_by("-started_at").prefetch_related("participants")[:limit])


def ban_reason(*, user_id: int) -> str | None:
    """Why the user may not play ("" when no reason was given), or None: not banned."""
    return Ban.objects.filter(user_id=user_id).values_list("reason", flat=True).first()


def match_get(*, match_id: str) -> Match | None:
    return Match.objects.prefetch_related("participants").filter(public_id=match_id).first()


def match_roster(*, match_id: str) -> list[Seat]:
    return [
        Seat(index=p.seat, name=p.display_name, bot=p.bot)
        for p in Participant.objects.filter(match__public_id=match_id).order_by("seat")
    ]


def seat_holder(*, match_id: str, seat: int) -> tuple[int, bool] | None:
    """The user id in `seat` and whether they left it, to check a ticket against the seat."""
    row = (
        Participant.objects.filter(match__public_id=match_id, seat=seat, bot=False)
        .values_list("user_id", "left_at")
        .first()
    )
    return None if row is None else (row[0], row[1] is not None)


def match_endings(match_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Of these matches, those that are over (or gone from the database): their result, None
    when there is none (abandoned, deleted)."""
    rows = dict(Match.objects.filter(public_id__in=match_ids).values_list("public_id", "status"))
    results = dict(Match.objects.filter(public_id__in=match_ids).values_list("public_id", "result"))
    ended = (Match.Status.FINISHED, Match.Status.ABANDONED)
    return {
        m: results.get(m) if rows.get(m) == Match.Status.FINISHED else None
        for m in match_ids
        if m not in rows or rows[m] in ended
    }


def _kind(game: str) -> str | None:
    """How the game runs (ticking or events), so a client knows how frames come; None for a
    game this server no longer has."""
    return kind(GAMES[game]) if game in GAMES else None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def match_json(match: Match, *, viewer_id: int | None = None) -> dict[str, Any]:
    """The public shape of a match; the join code only for people seated in it."""
    participants = list(match.participants.all())
    data: dict[str, Any] = {
        "id": match.public_id,
        "game": match.game,
        "status": match.status,
        "private": match.private,
        "seats": match.seats,
        "tick_rate": match.tick_rate,
        "kind": _kind(match.game),
        "options": match.options,
        "bot_fill": match.bot_fill,
        "spectator_chat": match.spectator_chat,
        "players": [
            {
                "seat": p.seat,
                "name": p.display_name,
                "bot": p.bot,
                "score": p.score,
                "placement": p.placement,
            }
            for p in sorted(participants, key=lambda p: p.seat)
        ],
        "created": _iso(match.created_at),
        "started": _iso(match.started_at),
        "ended": _iso(match.ended_at),
        "result": match.result,
    }
    if (
        match.private
        and viewer_id is not None
        and any(p.user_id == viewer_id for p in participants)
    ):
        data["code"] = match.join_code
    return data


def lobby_lists(limit: int = 50) -> dict[str, list[dict[str, Any]]]:
    """What the live lobby shows: public matches waiting for players, and running ones."""
    return {
        "open": [match_json(m) for m in open_matches(game=None, limit=limit)],
        "live": [match_json(m) for m in running_matches(game=None, limit=limit)],
    }
