"""Single-use, short-lived tickets that let one player's socket into one match.

A ticket is issued by an authenticated, CSRF-protected HTTP call and redeemed by the socket:
a session cookie alone never opens a game socket, and a ticket read from a log is useless after
its first use or a few seconds.
"""

from __future__ import annotations

import re
import secrets

import msgspec
from django.conf import settings

from games.store import get_store

TICKET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class Ticket(msgspec.Struct, frozen=True):
    match_id: str
    user_id: int
    seat: int  # -1 for a spectator
    name: str  # "" for a spectator who watches unnamed
    spectator: bool = False


def ticket_issue(
    *, match_id: str, user_id: int, seat: int, name: str, spectator: bool = False
) -> str:
    token = secrets.token_urlsafe(24)
    claims = Ticket(match_id=match_id, user_id=user_id, seat=seat, name=name, spectator=spectator)
    payload = msgspec.json.encode(claims)
    get_store().issue_ticket(token, payload, settings.GAMESERVER["TICKET_TTL"])
    return token


async def ticket_redeem(token: str) -> Ticket | None:
    """The ticket's claims, or None if it is malformed, unknown, expired or already used."""
    if not isinstance(token, str) or not TICKET_PATTERN.match(token):
        return None
    payload = await get_store().redeem_ticket(token)
    if payload is None:
        return None
    return msgspec.json.decode(payload, type=Ticket)
