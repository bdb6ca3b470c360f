"""Tell every web process's lobby that its lists changed (a match opened, filled, started or
ended), once the change is committed. Best effort and quick: a lobby also reads its lists every
LOBBY_REFRESH, so a word lost while Redis is away costs a few seconds, never a wrong list."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from games import bus
from games.supervise import FaultLog

TELL_TIMEOUT = 1.0  # seconds: a database write never waits longer for Redis
_faults = FaultLog("telling the lobbies", logging.getLogger(__name__))


def lobby_changed() -> None:
    transaction.on_commit(_tell)


def _tell() -> None:
    try:
        async_to_sync(_send)()
    except Exception as error:
        _faults.failed(error)
    else:
        _faults.succeeded()


async def _send() -> None:
    message = bus.pack(bus.HubLobbyChanged())
    await asyncio.wait_for(get_channel_layer().group_send(bus.HUBS_GROUP, message), TELL_TIMEOUT)
