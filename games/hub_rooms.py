"""The hub's rooms besides the matches' frames: the lobby's sockets (the live lists of open and
running matches, how many are online, lobby chat) and chat lines for a match's sockets. A chat
line or a change reaches each web process as one message, then is written to its sockets."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings

from games import bus, chat, protocol
from games.selectors import lobby_lists

if TYPE_CHECKING:
    from games.hub import FrameHub

CHANGES_GATHERED = 0.2  # seconds: changes told together are read once
# Chat lines waiting for one socket's full buffer: past this, it is closed as too slow.
MOST_UNDELIVERED = 20


def online_ttl() -> float:
    """A process's count outlives three missed refreshes."""
    return 3 * settings.GAMESERVER["LOBBY_REFRESH"] + 2


class Rooms:
    def __init__(self, hub: FrameHub):
        self.hub = hub
        self.lobby: set[Any] = set()  # lobby sockets (games/lobby_socket.py)
        self.online = 0
        self.site: dict[str, Any] | None = None  # the newest `site` message
        self._site_events: tuple[dict[str, Any], ...] = ()  # ...encoded once for every wire
        self._site_sent: dict[Any, tuple] = {}  # lobby socket -> the site events it has
        self._undelivered: dict[Any, int] = {}  # socket -> chat lines waiting for its buffer
        self._changed = asyncio.Event()

    def connections(self) -> int:
        return sum(len(s) for s in self.hub.sockets.values()) + len(self.lobby)

    async def enter(self, consumer: Any) -> None:
        """A new lobby socket: the lists as they are, and the newest lobby chat."""
        self.lobby.add(consumer)
        if self.site is None:
            self._set_site(await self._read_site())
        self._site_sent[consumer] = self._site_events
        await consumer.base_send(self._site_events[consumer.wire])
        history = await database_sync_to_async(chat.lobby_history)()
        await consumer.send_message({"type": "chat_history", "messages": history})

    def leave(self, consumer: Any) -> None:
        self.lobby.discard(consumer)
        self._site_sent.pop(consumer, None)

    async def close(self) -> None:
        """This process stops: its connections no longer count as online."""
        with contextlib.suppress(Exception):  # Redis away: the count expires by itself
            await self.hub.store.online_report(self.hub.channel, 0, 0)

    def changed(self) -> None:
        self._changed.set()

    async def refresh_pass(self) -> None:
        """One pass of the lobby loop: after a change is told (or LOBBY_REFRESH at the
        latest), report this process's connections, and send the lobby's sockets the lists
        if they changed. Joining the hubs' group again heals a Redis that lost it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), settings.GAMESERVER["LOBBY_REFRESH"])
            await asyncio.sleep(CHANGES_GATHERED)
        self._changed.clear()
        await self.hub.layer.group_add(bus.HUBS_GROUP, self.hub.channel)
        store = self.hub.store
        self.online = await store.online_report(self.hub.channel, self.connections(), online_ttl())
        if not self.lobby:
            self.site = None  # read afresh for the next lobby socket
            return
        site = await self._read_site()
        if site != self.site:
            self._set_site(site)
        await self._send_site()

    def _set_site(self, site: dict[str, Any]) -> None:
        self.site = site
        text, binary = protocol.encode(site), protocol.encode_msgpack(site)
        self._site_events = self.hub.events("site", text, binary)

    async def _send_site(self) -> None:
        """The lists are a state, not a log: a socket whose buffer is full skips a version and
        gets the newest once it drains (checked every pass)."""
        events = self._site_events
        for consumer in list(self.lobby):
            if self._site_sent.get(consumer) is events or consumer.closing:
                continue
            if consumer.write_blocked():
                continue
            self._site_sent[consumer] = events
            await _send(consumer, events[consumer.wire])

    async def _read_site(self) -> dict[str, Any]:
        lists = await database_sync_to_async(lobby_lists)()
        watched = await self.hub.store.spectators_of([m["id"] for m in lists["live"]])
        for match in lists["live"]:
            match["spectators"] = len(watched.get(match["id"], ()))
        return {"type": "site", "online": self.online, **lists}

    async def hub_chat(self, message: bus.HubChat) -> None:
        events = self.hub.events("chat", message.text, message.binary)
        if not message.match:
            await self._to_lobby(events)
            return
        for consumer in list(self.hub.sockets.get(message.match, ())):
            if not (message.players_only and consumer.spectator):
                await self._deliver(consumer, events[consumer.wire])

    async def hub_chat_deleted(self, message: bus.HubChatDeleted) -> None:
        gone = {"type": "chat_deleted", "id": message.id}
        events = self.hub.events(
            "chat_deleted", protocol.encode(gone), protocol.encode_msgpack(gone)
        )
        sockets = self.hub.sockets.get(message.match, ()) if message.match else self.lobby
        for consumer in list(sockets):
            await self._deliver(consumer, events[consumer.wire])

    def hub_banned(self, message: bus.HubBanned) -> None:
        """Staff banned a user: close each of their sockets here (the engine sees drops)."""
        mine = [c for sockets in self.hub.sockets.values() for c in sockets] + list(self.lobby)
        for consumer in mine:
            if consumer.user_id == message.user:
                self.hub.in_background(
                    consumer.kick(protocol.CLOSE_FORBIDDEN, "banned", message.message)
                )

    async def _to_lobby(self, events: tuple[dict[str, Any], ...]) -> None:
        for consumer in list(self.lobby):
            await self._deliver(consumer, events[consumer.wire])

    async def _deliver(self, consumer: Any, event: dict[str, Any]) -> None:
        """Never dropped by flow control: a full buffer gets it once it drains; a socket
        that lets too many wait is closed as too slow (its memory stays bounded)."""
        if consumer.closing:
            return
        if not consumer.write_blocked():
            await _send(consumer, event)
            return
        waiting = self._undelivered.get(consumer, 0)
        if waiting >= MOST_UNDELIVERED:
            message = f"more than {MOST_UNDELIVERED} chat messages wait for you to read them"
            self.hub.in_background(
                consumer.kick(protocol.CLOSE_SLOW_CONSUMER, "slow_consumer", message)
            )
            return
        self._undelivered[consumer] = waiting + 1
        self.hub.in_background(self._send_later(consumer, event))

    async def _send_later(self, consumer: Any, event: dict[str, Any]) -> None:
        try:
            await _send(consumer, event)
        finally:
            left = self._undelivered.pop(consumer, 1) - 1
            if left:
                self._undelivered[consumer] = left


async def _send(consumer: Any, event: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # closed under us: its disconnect forgets it
        await consumer.base_send(event)
