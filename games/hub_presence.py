"""Who is watching each match: every hub keeps its spectators in the store (entries expire, so
a web process that dies takes its spectators with it), and tells the sockets of a match when
the count or the names change, at most once per heartbeat."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.conf import settings

from games import protocol

if TYPE_CHECKING:
    from games.hub import FrameHub

NAMES_SHOWN = 50  # names listed in a `spectators` message; the count is always exact


def entry_ttl() -> float:
    """A spectator's entry outlives three missed heartbeats of its hub."""
    return 3 * settings.GAMESERVER["HUB_HEARTBEAT"] + 2


class Presence:
    def __init__(self, hub: FrameHub):
        self.hub = hub
        self.shown: dict[str, tuple[int, tuple[str, ...]]] = {}  # match -> what was last sent
        self.last: dict[str, dict[str, Any]] = {}  # match -> that message

    def member(self, consumer: Any) -> str:
        return f"{self.hub.channel}|{consumer.socket_id}|{consumer.shown_name}"

    async def enter(self, consumer: Any) -> None:
        """Raises while Redis is away: the spectator is told to come back in a moment."""
        await self.hub.store.spectators_enter(consumer.match_id, self.member(consumer),
                                              entry_ttl())  # fmt: skip

    async def leave(self, match_id: str, consumer: Any) -> None:
        try:
            await self.hub.store.spectators_leave(match_id, self.member(consumer))
        except Exception as error:  # its entry expires by itself
            self.hub._fault("forgetting a spectator").failed(error)

    async def refresh(self) -> None:
        """Renew this hub's spectators, then tell each match's sockets who watches if that
        changed (one store round trip each way for all matches)."""
        mine: dict[str, list[str]] = defaultdict(list)
        for match_id, sockets in list(self.hub.sockets.items()):
            for consumer in sockets:
                if consumer.spectator and not consumer.closing:
                    mine[match_id].append(self.member(consumer))
        if mine:
            await self.hub.store.spectators_refresh(mine, entry_ttl())
        matches = list(self.hub.sockets)
        for gone in set(self.shown) - set(matches):
            del self.shown[gone]
            self.last.pop(gone, None)
        if not matches:
            return
        for match_id, members in (await self.hub.store.spectators_of(matches)).items():
            names = tuple(name for m in members if (name := m.split("|", 2)[-1]))
            shown = (len(members), names[:NAMES_SHOWN])
            if self.shown.get(match_id, (0, ())) == shown:
                continue
            self.shown[match_id] = shown
            message = self.last[match_id] = {"type": "spectators", "count": shown[0],
                                             "names": list(shown[1])}  # fmt: skip
            await self.hub.broadcast(message["type"], match_id, protocol.encode(message),
                                     protocol.encode_msgpack(message))  # fmt: skip

    def greeting(self, match_id: str) -> dict[str, Any] | None:
        """Who watches, for a socket that just joined (the others were told already)."""
        return self.last.get(match_id)
