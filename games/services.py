"""Every database write of the app: players, seats, match start and the one result write."""

from __future__ import annotations

import secrets
import unicodedata
import zlib
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from games.lobby_news import lobby_changed
from games.models import JOIN_CODE_LENGTH, Match, Participant, new_join_code
from games.rules import get_game
from games.rules.base import Result, Seat, offers_bots, parse_options
from games.selectors import match_roster
from games.store import StoreUnavailable, get_store

NAME_MAX = 24
BOT_NAMES = ["Ada", "Bit", "Cog", "Dot", "Eon", "Fox", "Gnu", "Hex"]


# Retry-After of a refused new match: a quota frees up when a waiting match starts (bots fill
# it within seconds of someone connecting) or is abandoned; a busy fleet drains its queue.
QUOTA_RETRY_SECONDS = 10
BUSY_RETRY_SECONDS = 5
QUOTA_LOCKS = {"user": 1, "address": 2}  # first keys of PostgreSQL's two-key advisory locks

SEAT_GONE = "you left that match (or were away longer than the reconnect grace to come back)"


class ServiceError(Exception):
    """A request that cannot be done as asked; `code` is a stable slug for clients, and
    `retry_after` (seconds) says when asking again may work (a limit, a quota, a busy fleet)."""

    def __init__(
        self, code: str, message: str, status: int = 400, retry_after: float | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


def clean_display_name(raw: object) -> str:
    if not isinstance(raw, str):
        raise ServiceError("bad_name", "name must be a string of 1 to 24 characters")
    name = " ".join(raw.split())
    if not 1 <= len(name) <= NAME_MAX:
        raise ServiceError("bad_name", f"name must be 1 to {NAME_MAX} characters long")
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ServiceError("bad_name", "name must not contain control characters")
    return name


def guest_create(*, name: str) -> AbstractBaseUser:
    """A guest is an ordinary user with no password, so admin, FKs and sessions just work."""
    user = get_user_model()(username=f"guest-{secrets.token_hex(8)}", first_name=name)
    user.set_unusable_password()
    user.save()
    return user


def guest_rename(*, user: AbstractBaseUser, name: str) -> None:
    user.first_name = name
    user.save(update_fields=["first_name"])


def display_name_of(user: AbstractBaseUser) -> str:
    return user.first_name or user.get_username()


def match_create(
    *,
    game: str,
    private: bool,
    seats: int | None,
    user: AbstractBaseUser,
    address: str = "",
    spectator_chat: bool | None = None,
    options: Any = None,
    bot_fill: bool | None = None,
) -> Match:
    """A new waiting match with `user` in seat 0, queued for an engine once committed.
    `address` is the client's (games.ratelimit.client_address), for its open-match quota;
    `options` the game's per-match options (the defaults for those not given)."""
    try:
        rules = get_game(game)
    except KeyError:
        raise ServiceError("unknown_game", f"there is no game called {game!r}") from None
    seats = rules.default_seats if seats is None else seats
    if isinstance(seats, bool) or not isinstance(seats, int):
        seats = -1  # refused just below, with the range in the message
    if not rules.min_seats <= seats <= rules.max_seats:
        raise ServiceError(
            "bad_seats", f"seats must be a whole number from {rules.min_seats} to {rules.max_seats}"
        )
    try:
        chosen = parse_options(rules, options)
    except ValueError as error:
        raise ServiceError("bad_options", str(error)) from None
    bots = offers_bots(rules)
    if bot_fill and not bots:
        raise ServiceError("bad_options", f"{rules.title} has no bots: set bot_fill to false")
    _check_queue()
    for _ in range(10):
        try:
            with transaction.atomic():
                _check_open_quota(user=user, address=address)
                match = Match.objects.create(
                    game=game,
                    private=private,
                    join_code=new_join_code() if private else None,
                    seats=seats,
                    tick_rate=rules.tick_rate,
                    options=chosen,
                    bot_fill=bots if bot_fill is None else bot_fill,
                    created_by=user,
                    created_from=address,
                    spectator_chat=(
                        settings.GAMESERVER["SPECTATOR_CHAT"]
                        if spectator_chat is None
                        else spectator_chat
                    ),
                )
                _take_seat(match, user)
                # Engines claim new matches from the queue; only once the row is visible.
                transaction.on_commit(partial(_enqueue_or_undo, match.public_id))
                return match
        except IntegrityError:
            continue  # join code collision; draw another
    raise ServiceError("busy", "could not allocate a join code, try again", status=503)


def _check_queue() -> None:
    """A fleet that has this many new matches still unclaimed cannot start another soon."""
    limit = settings.GAMESERVER_HTTP["MAX_QUEUED"]
    if get_store().queue_length() > limit:
        raise ServiceError(
            "busy",
            f"more than {limit} new matches are waiting for an engine: try again shortly",
            status=503,
            retry_after=BUSY_RETRY_SECONDS,
        )


def _check_open_quota(*, user: AbstractBaseUser, address: str) -> None:
    """At most a few waiting matches made by one player and from one address: each costs an
    engine a seat in its queue and its memory until it starts or is abandoned."""
    config = settings.GAMESERVER_HTTP
    if not config["LIMITS"]:
        return
    waiting = Match.objects.filter(status=Match.Status.WAITING)
    scopes = [("user", str(user.pk), {"created_by": user}, "by one player")]
    if address:
        scopes.append(("address", address, {"created_from": address}, "from one address"))
    for kind, key, mine, where in scopes:
        _lock_quota(kind, key)
        most = config[f"MAX_OPEN_MATCHES_PER_{kind.upper()}"]
        if waiting.filter(**mine).count() >= most:
            raise ServiceError(
                "open_match_quota",
                f"at most {most} matches waiting for players made {where}: play or wait "
                "for one of them to start (or to be abandoned) first",
                status=429,
                retry_after=QUOTA_RETRY_SECONDS,
            )


def _lock_quota(kind: str, key: str) -> None:
    """Held until the transaction ends, so that two requests at once cannot both pass the
    count. SQLite's IMMEDIATE transactions are already taken one at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [QUOTA_LOCKS[kind], zlib.crc32(key.encode()) - 2**31],
            )


def _enqueue_or_undo(match_id: str) -> None:
    """A match no engine will ever claim must not stay behind: Redis away means no match."""
    try:
        get_store().enqueue_match(match_id)
    except StoreUnavailable:
        Match.objects.filter(public_id=match_id).delete()
        raise


def match_join(
    *, match_id: str, user: AbstractBaseUser, by_code: bool = False
) -> tuple[Match, Participant]:
    """Give `user` a seat, or the seat they already hold. A private match gives new seats
    only to those who sent its code (`by_code`). A new seat is marked `is_new`, so that it
    can be given back if the ticket for it cannot be issued (seat_undo)."""
    with transaction.atomic():
        match = Match.objects.select_for_update().filter(public_id=match_id).first()
        if match is None:
            raise ServiceError("no_such_match", f"there is no match {match_id!r}", status=404)
        existing = match.participants.filter(user=user, bot=False).first()
        if existing is not None:
            seat_check_return(match, existing)
            return match, existing
        if match.private and not by_code:
            raise ServiceError(
                "private_match",
                "that match is private: join it with its code (POST /api/join-by-code)",
                status=403,
            )
        if match.status != Match.Status.WAITING:
            raise ServiceError("match_started", "that match has already started", status=409)
        if not get_store().served([match.public_id]):
            raise ServiceError(
                "unavailable", "no engine runs that match right now: try again shortly", 503
            )
        return match, _take_seat(match, user)


def seat_undo(*, participant: Participant) -> None:
    """Give back a seat taken in this request (its ticket could not be issued), and the
    match too if nobody else sits in it yet."""
    with transaction.atomic():
        match_id = participant.match_id
        participant.delete()
        Match.objects.filter(
            pk=match_id, status=Match.Status.WAITING, participants__isnull=True
        ).delete()
        lobby_changed()


def seat_check_return(match: Match, participant: Participant) -> None:
    """May the holder of a seat come back to it (a new ticket, a reconnect)?"""
    if match.is_over:
        raise ServiceError("match_over", "that match is over", status=409)
    if participant.kicked_at is not None:
        raise ServiceError("kicked", "staff removed you from this match", status=403)
    if participant.left_at is not None:
        raise ServiceError("seat_gone", SEAT_GONE, status=410)


def match_join_by_code(*, code: object, user: AbstractBaseUser) -> tuple[Match, Participant]:
    if not isinstance(code, str) or not code.strip():
        raise ServiceError(
            "bad_code", f"code must be the {JOIN_CODE_LENGTH}-character code of a private match"
        )
    match = Match.objects.filter(join_code=code.strip().upper()[:16]).first()
    if match is None:
        raise ServiceError("no_such_code", "no match has that code; check it with your friend", 404)
    return match_join(match_id=match.public_id, user=user, by_code=True)


def match_quickplay(
    *, game: str, user: AbstractBaseUser, address: str = ""
) -> tuple[Match, Participant]:
    """Join the oldest open public match of `game` with a free seat, or create one.

    One quick play of a game at a time: players arriving together (each request runs in its
    own thread, on any web process) would otherwise all find no open match and each start one.
    """
    with transaction.atomic():
        _lock_matchmaking(game)
        candidates = Match.objects.filter(
            game=game, private=False, status=Match.Status.WAITING
        ).order_by("created_at")[:20]
        served = get_store().served([m.public_id for m in candidates])  # never an orphan
        for match in candidates:
            if match.public_id not in served:
                continue
            try:
                return match_join(match_id=match.public_id, user=user)
            except ServiceError as error:
                if error.code not in ("match_full", "match_started"):
                    raise
        match = match_create(game=game, private=False, seats=None, user=user, address=address)
        return match, match.participants.get(user=user)


def _lock_matchmaking(game: str) -> None:
    """Held until the transaction ends. SQLite needs nothing more: its transactions begin
    IMMEDIATE (settings.py), so they already take the database's one write lock in turn."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(game.encode())])


def _take_seat(match: Match, user: AbstractBaseUser) -> Participant:
    taken = set(match.participants.values_list("seat", flat=True))
    free = [seat for seat in range(match.seats) if seat not in taken]
    if not free:
        raise ServiceError("match_full", "that match has no free seat", status=409)
    participant = Participant.objects.create(
        match=match, user=user, seat=free[0], display_name=display_name_of(user)[:32]
    )
    participant.is_new = True
    lobby_changed()
    return participant


def match_start(*, match_id: str) -> list[Seat] | None:
    """Close the match to joiners and seat bots in the free seats; None if it cannot start."""
    with transaction.atomic():
        match = Match.objects.select_for_update().filter(public_id=match_id).first()
        if match is None or match.status != Match.Status.WAITING:
            return None
        taken = {p.seat for p in match.participants.all()}
        for seat in range(match.seats):
            if seat not in taken:
                Participant.objects.create(
                    match=match, seat=seat, bot=True, display_name=BOT_NAMES[seat % len(BOT_NAMES)]
                )
        match.status = Match.Status.RUNNING
        match.started_at = timezone.now()
        match.save(update_fields=["status", "started_at"])
        lobby_changed()
        return match_roster(match_id=match_id)


def match_finish(*, match_id: str, result: Result) -> bool:
    """Write the result once; a second call (a replay after failover) changes nothing."""
    with transaction.atomic():
        updated = Match.objects.filter(
            public_id=match_id, status__in=[Match.Status.WAITING, Match.Status.RUNNING]
        ).update(status=Match.Status.FINISHED, ended_at=timezone.now(), result=result.to_json())
        if not updated:
            return False
        lobby_changed()
        for standing in result.standings:
            Participant.objects.filter(match__public_id=match_id, seat=standing.seat).update(
                score=standing.score, placement=standing.placement
            )
        return True


def match_abandon(*, match_id: str) -> bool:
    lobby_changed()
    return bool(
        Match.objects.filter(
            public_id=match_id, status__in=[Match.Status.WAITING, Match.Status.RUNNING]
        ).update(status=Match.Status.ABANDONED, ended_at=timezone.now())
    )


def match_lose(*, match_id: str, why: str) -> bool:
    """A match nobody can run any more (its engine and its checkpoint are gone): abandoned,
    with a result that says so, once."""
    result = {"winner": None, "reason": "lost", "detail": why, "standings": []}
    lobby_changed()
    return bool(
        Match.objects.filter(
            public_id=match_id, status__in=[Match.Status.WAITING, Match.Status.RUNNING]
        ).update(status=Match.Status.ABANDONED, ended_at=timezone.now(), result=result)
    )


def participant_leave(*, match_id: str, seat: int) -> None:
    lobby_changed()
    Participant.objects.filter(match__public_id=match_id, seat=seat, left_at=None).update(
        left_at=timezone.now()
    )
