"""Who is watching each match: every hub keeps its spectators in the store (entries expire, so
a web process that dies takes its spectators with it), and tells the sockets of a match when
the count or the names change, at most once per heartbeat."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from django.conf import settings

from games import metrics, protocol

if TYPE_CHECKING:
    from games.hub import FrameHub

NAMES_SHOWN = 50  # names listed in a `spectators` message; the count is always exact


def entry_ttl() -> float:
    """A spectator's entry outlives three missed heartbeats of its hub."""
    return 3 * settings.GAMESERVER["HUB_HEARTBEAT"] + 2


class Presence:
    def __init__(self, hub: FrameHub):
        self.hub = hub
        # match -> (count, names) last shown, and that message as each wire's event
        self.shown: dict[str, tuple[tuple[int, tuple[str, ...]], tuple[dict[str, Any], ...]]] = {}
        # Who watches is a state, not a log: a socket whose buffer was full when it changed
        # is told on a later refresh, once it drains.
        self.told: dict[Any, tuple[dict[str, Any], ...]] = {}  # socket -> the events it has
        # Spectators gone since the last refresh, removed in its round trip: hundreds can
        # leave at once (a match's `over`), and one call each would empty the store's pool.
        self.leaving: dict[str, list[str]] = defaultdict(list)

    def member(self, consumer: Any) -> str:
        return f"{self.hub.channel}|{consumer.socket_id}|{consumer.shown_name}"

    async def enter(self, consumer: Any) -> None:
        """Raises while Redis is away: the spectator is told to come back in a moment."""
        await self.hub.store.spectators_enter(consumer.match_id, self.member(consumer),
                                              entry_ttl())  # fmt: skip

    def leave(self, match_id: str, consumer: Any) -> None:
        """A socket detached; a spectator is removed from the store on the next refresh (or,
        if that fails, when its entry expires)."""
        self.told.pop(consumer, None)
        if consumer.spectator:
            self.leaving[match_id].append(self.member(consumer))

    async def refresh(self) -> None:
        """Renew this hub's spectators and forget those who left, then tell each match's
        sockets who watches if that changed (one store round trip each way for all matches)."""
        mine: dict[str, list[str]] = defaultdict(list)
        for match_id, sockets in list(self.hub.sockets.items()):
            for consumer in sockets:
                if consumer.spectator and not consumer.closing:
                    mine[match_id].append(self.member(consumer))
        gone, self.leaving = self.leaving, defaultdict(list)
        if mine or gone:
            await self.hub.store.spectators_refresh(mine, entry_ttl(), gone)
        matches = list(self.hub.sockets)
        for ended in set(self.shown) - set(matches):
            del self.shown[ended]
        if not matches:
            return
        for match_id, members in (await self.hub.store.spectators_of(matches)).items():
            names = tuple(name for m in members if (name := m.split("|", 2)[-1]))
            shown = (len(members), names[:NAMES_SHOWN])
            last = self.shown.get(match_id)
            if shown != (last[0] if last else (0, ())):  # nobody has watched yet: say nothing
                message = {"type": "spectators", "count": shown[0], "names": list(shown[1])}
                text, binary = protocol.encode(message), protocol.encode_msgpack(message)
                self.shown[match_id] = shown, self.hub.events("spectators", text, binary, kept=True)
        for match_id, (_, events) in list(self.shown.items()):
            for consumer in list(self.hub.sockets.get(match_id, ())):
                if self.told.get(consumer) is not events and not consumer.write_blocked():
                    await self._tell(consumer, events)

    async def greet(self, consumer: Any) -> None:
        """Who watches, for a socket that just joined (the others were told already)."""
        if consumer.match_id in self.shown:
            await self._tell(consumer, self.shown[consumer.match_id][1])

    async def _tell(self, consumer: Any, events: tuple[dict[str, Any], ...]) -> None:
        if consumer.closing or consumer not in self.hub.sockets.get(consumer.match_id, ()):
            return  # detached meanwhile: its leave() has been and gone
        self.told[consumer] = events
        with contextlib.suppress(Exception):  # closed under us: its disconnect detaches it
            await consumer.base_send(events[consumer.wire])
            metrics.MESSAGES_SENT.inc()
