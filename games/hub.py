"""The frame hub: one per web process, between the engines and this process's sockets.

It asks the owner of each match that has local players to send it that match's frames, gets
one channel-layer message per engine tick carrying all of them, and writes each frame (encoded
once by the engine) straight to the local sockets. Inputs go the other way, batched per owner.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
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
LIVENESS_SECONDS = 1  # how often sockets are checked for silence and for lagging too long


class FrameHub:
    def __init__(self, *, layer: Any, store: Any):
        self.layer = layer
        self.store = store
        self.channel = ""
        self.sockets: dict[str, set[PlayConsumer]] = defaultdict(set)
        self.watching: dict[str, str] = {}  # match -> the owner we asked for its frames
        self.pending_inputs: dict[str, list[list[Any]]] = defaultdict(list)
        self._flush_scheduled = False
        self._tasks: list[asyncio.Task] = []
        self._closing: set[asyncio.Task] = set()  # sockets being closed, each in its own task

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("hub.")
        await self.layer.group_add(protocol.HUBS_GROUP, self.channel)
        for job in (self._receive_loop, self._refresh_loop, self._liveness_loop):
            self._tasks.append(asyncio.create_task(job(), name=f"frame-hub:{job.__name__}"))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

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
        drop = {"type": protocol.ENGINE_DROP, "match": match_id, "seat": consumer.seat,
                "hub": self.channel, "socket": consumer.socket_id}  # fmt: skip
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
            "socket": consumer.socket_id,
            "name": consumer.name,
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
                elif message["type"] == protocol.HUB_KICK:
                    self.hub_kick(message)
                elif message["type"] == protocol.HUB_LOBBY:
                    await self.hub_lobby(message)
            except Exception:
                log.exception("frame hub: handling %s failed", message.get("type"))

    async def hub_frames(self, message: dict[str, Any]) -> None:
        """Write each frame to the match's local sockets, except to those too far behind.

        Flow control by ack (docs/PROTOCOL.md): a socket whose ack trails the newest tick by
        more than its lag allowance, or whose server-side write buffer is full, gets nothing
        more (its deltas are superseded) until it has acked all it was sent; then it waits for
        the next keyframe. So a socket holds at most the allowance's frames, and one slow
        reader never makes this loop wait.
        """
        now = time.monotonic()
        for match_id, tick, key, text, binary, over, over_binary in message["frames"]:
            sockets = self.sockets.get(match_id)
            if not sockets:
                continue
            as_text = {"type": "websocket.send", "text": text}
            as_bytes = {"type": "websocket.send", "bytes": binary}
            for consumer in list(sockets):
                if consumer.behind_since:
                    continue
                if consumer.write_blocked():
                    consumer.fall_behind(now)
                    continue
                if consumer.synced:
                    if tick - consumer.ack > consumer.lag_ticks:
                        consumer.fall_behind(now)
                        continue
                elif key:
                    consumer.synced = True
                    consumer.ack = max(consumer.ack, tick)  # its acks are due from here on
                else:
                    continue  # a delta means nothing before a keyframe
                consumer.sent_tick = tick
                try:
                    await consumer.base_send(as_bytes if consumer.codec.binary else as_text)
                except Exception:  # closed under us (daphne raises): its disconnect detaches it
                    continue
            if over is not None:
                for consumer in list(sockets):  # never dropped, also not for a lagging socket
                    self._close_in_background(
                        consumer.match_over(over_binary if consumer.codec.binary else over)
                    )
            await asyncio.sleep(0)  # let other work in between matches' fan-outs

    async def hub_lobby(self, message: dict[str, Any]) -> None:
        """Who is in a waiting match: at most once a second, so it skips a full buffer."""
        as_text = {"type": "websocket.send", "text": message["text"]}
        as_bytes = {"type": "websocket.send", "bytes": message["binary"]}
        for consumer in list(self.sockets.get(message["match"], ())):
            if consumer.closing or consumer.write_blocked():
                continue
            try:
                await consumer.base_send(as_bytes if consumer.codec.binary else as_text)
            except Exception:  # closed under us: its disconnect detaches it
                continue

    def hub_kick(self, message: dict[str, Any]) -> None:
        """The engine closes a socket: its seat was taken by a newer one, or is gone."""
        for consumer in self.sockets.get(message["match"], ()):
            if consumer.socket_id == message["socket"]:
                self._close_in_background(
                    consumer.kick(message["close"], message["code"], message["message"])
                )
                return

    async def _liveness_loop(self) -> None:
        """Close sockets that went silent (a peer gone without a TCP close) or that stay
        behind; a socket that caught up meanwhile with a full buffer is let back in here."""
        while True:
            await asyncio.sleep(LIVENESS_SECONDS)
            now = time.monotonic()
            for sockets in list(self.sockets.values()):
                for consumer in list(sockets):
                    reason = _overdue(consumer, now)
                    if reason is not None:
                        close = consumer.kick(protocol.CLOSE_SLOW_CONSUMER, *reason)
                        self._close_in_background(close)
                    elif consumer.behind_since:
                        consumer.maybe_catch_up()

    def _close_in_background(self, closing: Any) -> None:
        """Closing waits for the socket's buffer; a stalled one must not hold up the others."""
        task = asyncio.create_task(closing)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

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


def _overdue(consumer: PlayConsumer, now: float) -> tuple[str, str] | None:
    """Why a socket must close now (error code, message): behind too long, or silent."""
    limits = settings.GAMESERVER
    behind = now - consumer.behind_since if consumer.behind_since else 0.0
    if behind > limits["SLOW_CLOSE"]:
        lag, slow = limits["FLOW_LAG"], limits["SLOW_CLOSE"]
        return "slow_consumer", f"more than {lag:g} s behind for {slow:g} s: reconnect"
    if now - consumer.heard > limits["SILENT_TIMEOUT"]:
        message = f"nothing received for {limits['SILENT_TIMEOUT']:g} s: ack or ping every second"
        return ("slow_consumer" if behind else "silent"), message
    return None


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
        hub.stop()
    from games.engine.embedded import stop_embedded_engine

    await stop_embedded_engine()
