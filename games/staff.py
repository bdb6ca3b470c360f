"""What staff do to the live service from the admin: end a match, kick a player, send a
notice, ban and unban a user, mute and unmute one, delete chat lines. Each action that took
effect is recorded as a StaffAction (the audit trail); one on a live match goes to the engine
that owns it, through the channel layer, so it works whatever process runs the match
(games/engine/control.py applies it)."""

from __future__ import annotations

import asyncio

import msgspec
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from games import bus
from games.models import Ban, ChatMessage, Match, Mute, Participant, StaffAction
from games.store import get_store

ANSWER_TIMEOUT = 5.0  # seconds the owner engine has to answer
BANNED = "this account may not play"


class StaffError(Exception):
    """The action could not be done; the message says why, for the operator."""


def _record(
    staff: AbstractBaseUser,
    kind: str,
    *,
    match: Match | None = None,
    target: AbstractBaseUser | None = None,
    detail: str = "",
    reason: str = "",
) -> None:
    StaffAction.objects.create(
        staff=staff,
        staff_name=staff.get_username(),
        kind=kind,
        match=match,
        target=target,
        detail=detail[:200],
        reason=reason[:500],
    )


async def _ask_owner(match_id: str, **fields: object) -> bus.ControlAnswer:
    """Send a control message to the match's owner engine and wait for its answer."""
    owner = await get_store().owner_of(match_id)
    if owner is None:
        raise StaffError(
            "no engine runs this match right now (it may be between owners): "
            "try again in a few seconds"
        )
    layer = get_channel_layer()
    reply = await layer.new_channel("staff.")
    message = bus.EngineControl(match=match_id, reply=reply, **fields)
    await layer.send(owner, bus.pack(message))
    try:
        raw = await asyncio.wait_for(layer.receive(reply), ANSWER_TIMEOUT)
        return bus.unpack_answer(raw)
    except TimeoutError:
        raise StaffError(f"the engine did not answer within {ANSWER_TIMEOUT:g} s") from None
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as error:
        raise StaffError(f"the engine's answer was malformed: {error}") from None


def _control(match: Match, **fields: object) -> str:
    if match.status != Match.Status.RUNNING:
        raise StaffError(f"the match is {match.status}, not running")
    answer = async_to_sync(_ask_owner)(match.public_id, **fields)
    if not answer.ok:
        raise StaffError(answer.message)
    return answer.message


def end_match(staff: AbstractBaseUser, match: Match, reason: str = "") -> str:
    """Finish the match now; its result's reason says staff ended it."""
    said = _control(match, action="end", text=reason)
    _record(staff, StaffAction.Kind.END, match=match, detail=said, reason=reason)
    return said


def send_notice(staff: AbstractBaseUser, match: Match, text: str) -> str:
    text = " ".join(text.split())[:200]
    if not text:
        raise StaffError("a notice needs some text")
    said = _control(match, action="notice", text=text)
    _record(staff, StaffAction.Kind.NOTICE, match=match, detail=said, reason=text)
    return said


def kick(staff: AbstractBaseUser, participant: Participant, remove: bool, reason: str = "") -> str:
    """Close the player's socket (4403 `kicked`), refuse them new tickets for the match, and
    either give the seat to a bot or remove the player (the rules' leave runs)."""
    match = participant.match
    if participant.bot or participant.user_id is None:
        raise StaffError(f"seat {participant.seat} holds a bot, not a person")
    if participant.kicked_at is not None:
        raise StaffError(f"{participant.display_name} was already kicked")
    said = _control(match, action="kick", seat=participant.seat, remove=remove)
    now = timezone.now()
    Participant.objects.filter(pk=participant.pk).update(kicked_at=now)
    Participant.objects.filter(pk=participant.pk, left_at=None).update(left_at=now)
    detail = f"seat {participant.seat} ({participant.display_name}): {said}"
    _record(
        staff,
        StaffAction.Kind.KICK,
        match=match,
        target=participant.user,
        detail=detail,
        reason=reason,
    )
    return said


def ban(staff: AbstractBaseUser, user: AbstractBaseUser, reason: str = "") -> str:
    """No ticket and no new match from now on, and the user's open sockets are closed."""
    if user.is_staff or user.is_superuser:
        raise StaffError("staff accounts are not banned: take away their staff status instead")
    with transaction.atomic():
        Ban.objects.update_or_create(
            user=user, defaults={"reason": reason[:200], "banned_by": staff}
        )
        _record(staff, StaffAction.Kind.BAN, target=user, reason=reason)
    closing = bus.HubBanned(user=user.pk, message=BANNED)
    try:
        async_to_sync(get_channel_layer().group_send)(bus.HUBS_GROUP, bus.pack(closing))
    except Exception as error:  # Redis away: the ban holds, the sockets outlive it for now
        return (
            f"{user.get_username()} is banned, but their open sockets could not be closed "
            f"({error}): ban again once the service has recovered"
        )
    return f"{user.get_username()} is banned; their open sockets are being closed"


def unban(staff: AbstractBaseUser, user: AbstractBaseUser, reason: str = "") -> str:
    _lift(Ban, StaffAction.Kind.UNBAN, staff, user, reason, "banned")
    return f"{user.get_username()} may play again"


def _lift(model: type, kind: str, staff: AbstractBaseUser, user: AbstractBaseUser,
          reason: str, what: str) -> None:  # fmt: skip
    """Delete the user's ban or mute, and record that staff lifted it."""
    with transaction.atomic():
        deleted, _ = model.objects.filter(user=user).delete()
        if not deleted:
            raise StaffError(f"{user.get_username()} is not {what}")
        _record(staff, kind, target=user, reason=reason)


def mute(staff: AbstractBaseUser, user: AbstractBaseUser, reason: str = "") -> str:
    """The user's chat lines are refused (`muted`) from now on; they may still play."""
    with transaction.atomic():
        Mute.objects.update_or_create(
            user=user, defaults={"reason": reason[:200], "muted_by": staff}
        )
        _record(staff, StaffAction.Kind.MUTE, target=user, reason=reason)
    return f"{user.get_username()} is muted"


def unmute(staff: AbstractBaseUser, user: AbstractBaseUser, reason: str = "") -> str:
    _lift(Mute, StaffAction.Kind.UNMUTE, staff, user, reason, "muted")
    return f"{user.get_username()} may chat again"


def delete_chat(staff: AbstractBaseUser, line: ChatMessage, reason: str = "") -> str:
    """Hide a line: marked deleted (kept for the audit trail), and taken off every screen."""
    if line.deleted_at is not None:
        raise StaffError("that message was deleted already")
    with transaction.atomic():
        ChatMessage.objects.filter(pk=line.pk).update(deleted_at=timezone.now())
        _record(staff, StaffAction.Kind.DELETE_CHAT, match=line.match, target=line.user,
                detail=f"{line.name}: {line.text}", reason=reason)  # fmt: skip
    room = line.match.public_id if line.match_id else ""
    gone = bus.HubChatDeleted(match=room, id=line.pk)
    try:
        async_to_sync(get_channel_layer().group_send)(bus.HUBS_GROUP, bus.pack(gone))
    except Exception as error:  # Redis away: deleted for newcomers; open screens keep it
        return f"deleted, but open screens could not be told ({error})"
    return "deleted"
