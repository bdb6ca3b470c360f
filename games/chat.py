"""Chat: a line said in the lobby or in a match is checked (length, content, mute), stored, and
published once to every web process's hub (bus.HubChat), which writes it to the room's sockets
(games/hub_rooms.py). Text only: it is stored and sent as typed, and clients show it as text."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from games import bus, protocol
from games.limits import TokenBucket
from games.models import Ban, ChatMessage, Match, Mute
from games.protocol import ProtocolError
from games.supervise import FaultLog

MAX_CHARS = 200
PER_USER_SECONDS = 10  # the window of CHAT_PER_USER, across all of a player's sockets
# Control characters (newlines too) and the bidirectional overrides that can make a line read
# as something else become spaces.
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_faults = FaultLog("chat", logging.getLogger(__name__))


@dataclass(frozen=True)
class Speaker:
    """Who says a line, and where: `match` "" is the lobby; `seat` None for a spectator or
    the lobby; `name` "" means the user's display name, read when the line is stored."""

    user_id: int | None
    match: str = ""
    seat: int | None = None
    name: str = ""
    spectator: bool = False


def chat_bucket() -> TokenBucket:
    """A socket's allowance of chat lines, apart from its inputs."""
    return TokenBucket(settings.GAMESERVER["CHAT_RATE"], settings.GAMESERVER["CHAT_BURST"])


def rate_refusal() -> ProtocolError:
    config = settings.GAMESERVER
    return ProtocolError(
        "chat_rate_limited",
        f"at most {config['CHAT_BURST']:g} chat messages at once, then one every "
        f"{1 / config['CHAT_RATE']:g} s: this one was not sent",
    )


def clean(text: str) -> str:
    text = _UNSHOWN.sub(" ", text).strip()
    if not text:
        raise ProtocolError("chat_empty", "a chat message needs some text")
    if len(text) > MAX_CHARS:
        raise ProtocolError(
            "chat_too_long", f"chat messages are at most {MAX_CHARS} characters, not {len(text)}"
        )
    return text


def _store(speaker: Speaker, text: str) -> tuple[dict[str, Any], bool]:
    """The line as sent to the room, and whether the match keeps its chat to its players."""
    if speaker.user_id is None:
        raise ProtocolError("no_player", "choose a name first (POST /api/guest), then chat")
    if Ban.objects.filter(user_id=speaker.user_id).exists():
        raise ProtocolError("banned", "this account may not play or chat")
    if Mute.objects.filter(user_id=speaker.user_id).exists():
        raise ProtocolError("muted", "the staff muted you: your chat messages are not shown")
    since = timezone.now() - timedelta(seconds=PER_USER_SECONDS)
    most = settings.GAMESERVER["CHAT_PER_USER"]
    if ChatMessage.objects.filter(user_id=speaker.user_id, at__gte=since).count() >= most:
        said = f"at most {most} chat messages in {PER_USER_SECONDS} s from one player"
        raise ProtocolError("chat_rate_limited", said + ", whatever the socket")
    match = None
    if speaker.match:
        match = Match.objects.only("id", "spectator_chat").get(public_id=speaker.match)
        if speaker.spectator and not match.spectator_chat:
            raise ProtocolError("chat_closed", "this match's chat is for its players only")
    name = speaker.name
    if not name:
        user = get_user_model().objects.only("first_name", "username").get(pk=speaker.user_id)
        name = user.first_name or user.get_username()
    line = ChatMessage.objects.create(
        match=match, user_id=speaker.user_id, name=name[:32], seat=speaker.seat, text=text
    )
    players_only = match is not None and not match.spectator_chat
    return line_json(line, spectator=speaker.spectator), players_only


def line_json(line: ChatMessage, *, spectator: bool = False) -> dict[str, Any]:
    return {
        "type": "chat",
        "id": line.id,
        "room": "match" if line.match_id else "lobby",
        "name": line.name,
        "seat": line.seat,
        "spectator": spectator,
        "text": line.text,
        "at": round(line.at.timestamp() * 1000),
    }


async def say(layer: Any, speaker: Speaker, text: str) -> None:
    """Store the line and publish it; raises ProtocolError with what the speaker is told."""
    text = clean(text)
    message = None
    try:
        message, players_only = await database_sync_to_async(_store)(speaker, text)
        publish = bus.HubChat(match=speaker.match, id=message["id"], players_only=players_only,
                              text=protocol.encode(message),
                              binary=protocol.encode_msgpack(message))  # fmt: skip
        await layer.group_send(bus.HUBS_GROUP, bus.pack(publish))
    except ProtocolError:
        raise
    except Exception as error:  # the database or Redis is away: nothing half-said stays
        _faults.failed(error)
        await _forget(message)
        raise ProtocolError(
            "unavailable", "chat is not available right now: try again in a moment"
        ) from None
    _faults.succeeded()


async def _forget(message: dict[str, Any] | None) -> None:
    if message is None:
        return
    try:
        await database_sync_to_async(ChatMessage.objects.filter(id=message["id"]).delete)()
    except Exception as error:
        _faults.failed(error)


def lobby_history() -> list[dict[str, Any]]:
    """The newest lobby lines that were not deleted, oldest first."""
    lines = ChatMessage.objects.filter(match=None, deleted_at=None).order_by("-id")
    return [line_json(line) for line in reversed(lines[: settings.GAMESERVER["CHAT_HISTORY"]])]
