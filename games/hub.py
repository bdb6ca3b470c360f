"""The frame hub: one per web process, between the engines and this process's sockets.

It asks the owner of each match that has local players to send it that match's frames, gets
one channel-layer message per engine tick carrying all of them, and writes each frame (encoded
once by the engine) straight to the local sockets. Inputs go the other way, batched per owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer
from django.conf import settings

from games import protocol
from games.store import get_store

if TYPE_CHECKING:
    from games.consumers import PlayConsumer

log = logging.getLogger(__name__)

INPUT_FLUSH_SECONDS = 0.005  # inputs arriving within this window share one message
OWNER_POLL_SECONDS = 0.1
WATCH_REFRESH_SECONDS = 5


class FrameHub:
    def __init__(self, *, layer: Any, store: Any):
        self.layer = layer
        self.store = store
        self.channel = ""
        self.sockets: dict[str, set[PlayConsumer]] = defaultdict(set)
        self.watching: dict[str, str] = {}  # match -> the owner we asked for its frames
        self.pending_inputs: dict[str, list[list[Any]]] = defaultdict(list)
        self._flush_scheduled = False
        self._task: asyncio.Task | None = None
        self._refresh: asyncio.Task | None = None

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("hub.")
        await self.layer.group_add(protocol.HUBS_GROUP, self.channel)
        self._task = asyncio.create_task(self._receive_loop(), name="frame-hub")
        self._refresh = asyncio.create_task(self._refresh_loop(), name="frame-hub-refresh")

    async def _refresh_loop(self) -> None:
        """Tell each owner, in one message, every match we still want: engines forget hubs
        that go quiet, so a dead web process is not sent frames until its matches end."""
        while True:
            await asyncio.sleep(WATCH_REFRESH_SECONDS)
            by_owner: dict[str, list[str]] = defaultdict(list)
            for match_id, owner in self.watching.items():
                by_owner[owner].append(match_id)
            for owner, matches in by_owner.items():
                watch = {"type": protocol.ENGINE_WATCH, "matches": matches, "hub": self.channel}
                await self.layer.send(owner, watch)

    # Sockets come and go
    async def attach(self, consumer: PlayConsumer) -> bool:
        """Register a socket for its match's frames; False if no engine runs the match."""
        match_id = consumer.match_id
        self.sockets[match_id].add(consumer)
        owner = await self._owner(match_id)
        if owner is None or consumer not in self.sockets.get(match_id, ()):
            self._discard(consumer)
            return False
        await self._watch(match_id, owner)
        await self.layer.send(owner, self._join_message(consumer))
        return True

    async def detach(self, consumer: PlayConsumer) -> None:
        match_id = consumer.match_id
        if consumer not in self.sockets.get(match_id, ()):
            return
        self._discard(consumer)
        owner = self.watching.get(match_id)
        if owner is None:
            return
        drop = {"type": protocol.ENGINE_DROP, "match": match_id, "seat": consumer.seat}
        await self.layer.send(owner, drop)
        if match_id not in self.sockets:
            del self.watching[match_id]
            unwatch = {"type": protocol.ENGINE_UNWATCH, "match": match_id, "hub": self.channel}
            await self.layer.send(owner, unwatch)

    def _discard(self, consumer: PlayConsumer) -> None:
        sockets = self.sockets.get(consumer.match_id)
        if sockets is not None:
            sockets.discard(consumer)
            if not sockets:
                del self.sockets[consumer.match_id]

    def _join_message(self, consumer: PlayConsumer) -> dict[str, Any]:
        return {
            "type": protocol.ENGINE_JOIN,
            "match": consumer.match_id,
            "seat": consumer.seat,
            "hub": self.channel,
        }

    async def _owner(self, match_id: str) -> str | None:
        """The owner's channel; a new match may wait a moment in the queue for an engine."""
        if match_id in self.watching:
            return self.watching[match_id]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.GAMESERVER["OWNER_WAIT"]
        while True:
            owner = await self.store.owner_of(match_id)
            if owner is not None or loop.time() >= deadline:
                return owner
            await asyncio.sleep(OWNER_POLL_SECONDS)

    async def _watch(self, match_id: str, owner: str) -> None:
        if self.watching.get(match_id) != owner:
            self.watching[match_id] = owner
            watch = {"type": protocol.ENGINE_WATCH, "matches": [match_id], "hub": self.channel}
            await self.layer.send(owner, watch)

    # Inputs, batched per owner
    def queue_input(self, consumer: PlayConsumer, data: dict[str, Any]) -> None:
        owner = self.watching.get(consumer.match_id)
        if owner is None:
            return
        self.pending_inputs[owner].append([consumer.match_id, consumer.seat, data])
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(INPUT_FLUSH_SECONDS, self._flush_inputs)

    def _flush_inputs(self) -> None:
        self._flush_scheduled = False
        pending, self.pending_inputs = self.pending_inputs, defaultdict(list)
        for owner, items in pending.items():
            message = {"type": protocol.ENGINE_INPUTS, "items": items}
            asyncio.create_task(self.layer.send(owner, message))

    # Messages from engines
    async def _receive_loop(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            try:
                if message["type"] == protocol.HUB_FRAMES:
                    await self.hub_frames(message)
                elif message["type"] == protocol.HUB_OWNER:
                    await self.hub_owner(message)
            except Exception:
                log.exception("frame hub: handling %s failed", message.get("type"))

    async def hub_frames(self, message: dict[str, Any]) -> None:
        for match_id, key, text, binary, over, over_binary in message["frames"]:
            sockets = self.sockets.get(match_id)
            if not sockets:
                continue
            as_text = {"type": "websocket.send", "text": text}
            as_bytes = {"type": "websocket.send", "bytes": binary}
            for consumer in list(sockets):
                if key:
                    consumer.synced = True
                elif not consumer.synced:
                    continue  # a delta means nothing before the first keyframe
                try:
                    await consumer.base_send(as_bytes if consumer.codec.binary else as_text)
                except Exception:  # closed under us (daphne raises): its disconnect detaches it
                    continue
            if over is not None:
                for consumer in list(sockets):
                    with contextlib.suppress(Exception):  # same: a socket closed under us
                        await consumer.match_over(over_binary if consumer.codec.binary else over)
            await asyncio.sleep(0)  # let other work in between matches' fan-outs

    async def hub_owner(self, message: dict[str, Any]) -> None:
        """A new owner announced itself (or a stale one refused us): re-register our players."""
        match_id, owner = message["match"], message["owner"]
        if match_id not in self.sockets:
            return
        if owner is None:
            if self.watching.get(match_id) is None:
                return
            del self.watching[match_id]
            owner = await self._owner(match_id)
            if owner is None:
                return
        elif self.watching.get(match_id) == owner:
            return
        self.watching.pop(match_id, None)
        await self._watch(match_id, owner)
        for consumer in list(self.sockets.get(match_id, ())):
            await self.layer.send(owner, self._join_message(consumer))


_hubs: dict[asyncio.AbstractEventLoop, FrameHub] = {}
_starting: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def local_hub() -> FrameHub:
    """This process's hub, started on first use (daphne sends no lifespan events)."""
    loop = asyncio.get_running_loop()
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        if loop not in _hubs:
            layer = get_channel_layer()
            hub = FrameHub(layer=layer, store=get_store())
            await hub.start()
            if settings.GAMESERVER["EMBEDDED_ENGINE"]:
                from games.engine.embedded import start_embedded_engine

                await start_embedded_engine(layer)
            _hubs[loop] = hub
            gc.freeze()  # Django is loaded by now; keep its objects out of every GC pass
    return _hubs[loop]


async def shutdown_local() -> None:
    """Stop this loop's hub and embedded engine (matches are checkpointed and handed over)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.pop(loop, None)
    if hub is not None:
        for task in (hub._task, hub._refresh):
            if task is not None:
                task.cancel()
    from games.engine.embedded import stop_embedded_engine

    await stop_embedded_engine()
