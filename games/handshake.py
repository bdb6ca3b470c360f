"""What each of our WebSocket consumers (the game socket, the lobby socket) checks and reads
when a socket opens: the sub-protocol and Origin, the client's address, and uvicorn's flag
that says whether the socket's write buffer is below its limit."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings

from games import protocol
from games.security import OriginAllowList, origin_of


def codec_for(scope: dict[str, Any]) -> protocol.Codec | None:
    """The sub-protocol to speak, or None: refuse the handshake (HTTP 403), since none of the
    offered ones is ours or the page's Origin is not allowed (cross-site hijacking)."""
    codec = protocol.choose_codec(scope.get("subprotocols") or [])
    allow = OriginAllowList(settings.GAMESERVER_ALLOWED_ORIGINS)
    return codec if codec is not None and allow.allows(origin_of(scope)) else None


def client_address(scope: dict[str, Any]) -> str:
    return (scope.get("client") or ("unknown", 0))[0]


def write_flag(send: Any) -> asyncio.Event | None:
    """uvicorn's send() waits while the transport's buffer is over its high-water mark; the
    hub reads this flag instead, so that no stalled socket makes it wait (daphne has none)."""
    writable = getattr(getattr(send, "__self__", None), "writable", None)
    return writable if isinstance(writable, asyncio.Event) else None
