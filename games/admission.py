"""Who may open a socket or a stream on a match: the checks run in a worker thread (they read
the database and the store) when a ticket is redeemed, for players and for spectators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from games import protocol
from games.selectors import ban_reason, match_get, match_json, seat_holder
from games.services import SEAT_GONE
from games.staff import BANNED
from games.store import get_store
from games.tickets import Ticket

MATCH_OVER = "that match is over"


@dataclass(frozen=True)
class Refusal:
    """Why not: the close code of a socket (a stream answers the HTTP status instead)."""

    close: int
    code: str
    message: str
    status: int = 403
    retry_after: float | None = None


def admit(ticket: Ticket) -> dict[str, Any] | Refusal:
    """The match as the ticket's holder sees it, or why their socket may not join it. A
    ticket issued just before a ban, a kick or the end of the match opens nothing."""
    if ticket.spectator:
        return admit_spectator(ticket.match_id, user_id=ticket.user_id, private_ok=True)
    match = match_get(match_id=ticket.match_id)
    if match is None or match.is_over:
        return Refusal(protocol.CLOSE_MATCH_GONE, "match_gone", MATCH_OVER, 404)
    if ban_reason(user_id=ticket.user_id) is not None:
        return Refusal(protocol.CLOSE_FORBIDDEN, "banned", BANNED)
    holder_id, left = seat_holder(match_id=ticket.match_id, seat=ticket.seat) or (None, False)
    if left:
        return Refusal(protocol.CLOSE_SEAT_GONE, "seat_gone", SEAT_GONE, 410)
    if holder_id != ticket.user_id:
        return Refusal(protocol.CLOSE_FORBIDDEN, "not_your_seat", "that seat is not yours")
    return match_json(match, viewer_id=ticket.user_id)


def admit_spectator(
    match_id: str, *, user_id: int | None, private_ok: bool
) -> dict[str, Any] | Refusal:
    """A spectator of `match_id`: a private match needs a ticket or a grant (`private_ok`);
    a match past its spectator cap refuses more."""
    match = match_get(match_id=match_id)
    if match is None or match.is_over:
        return Refusal(protocol.CLOSE_MATCH_GONE, "match_gone", MATCH_OVER, 404)
    if match.private and not private_ok:
        return Refusal(protocol.CLOSE_FORBIDDEN, "private_match",
                       "that match is private: POST /api/matches/<id>/watch with its code "
                       "first")  # fmt: skip
    if user_id is not None and ban_reason(user_id=user_id) is not None:
        return Refusal(protocol.CLOSE_FORBIDDEN, "banned", BANNED)
    most = settings.GAMESERVER["MAX_SPECTATORS"]
    if get_store().spectator_counts([match_id])[match_id] >= most:
        return Refusal(protocol.CLOSE_RATE_LIMITED, "too_many_spectators",
                       f"{most} people are watching that match already: try again later",
                       429)  # fmt: skip
    return match_json(match)
