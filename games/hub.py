"""The frame hub: one per web process, between the engines and this process's sockets.

It asks the owner of each match that has local players to send it that match's frames, gets
one channel-layer message per engine tick carrying all of them, and writes each frame (encoded
once by the engine) straight to the local sockets. Inputs go the other way, batched per owner.

It heals by itself (games/hub_healing.py): heartbeats to the owners, owners looked up again,
and sockets that went silent or stay behind closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer
from django.conf import settings

from games import bus, metrics, protocol
from games.hub_healing import Healing
from games.hub_presence import Presence
from games.hub_rooms import Rooms
from games.store import get_store
from games.supervise import FaultLog, supervise

if TYPE_CHECKING:
    from games.consumers import PlayConsumer

log = logging.getLogger(__name__)

INPUT_FLUSH_SECONDS = 0.005  # inputs arriving within this window share one message
OWNER_POLL_SECONDS = 0.1


class FrameHub:
    def __init__(self, *, layer: Any, store: Any):
        self.layer = layer
        self.store = store
        self.channel = ""
        self.sockets: dict[str, set[PlayConsumer]] = defaultdict(set)
        self.watching: dict[str, str] = {}  # match -> the owner we asked for its frames
        self.tokens: dict[str, int] = {}  # match -> the newest owner's fencing token seen
        self.pending_inputs: dict[str, list[tuple[PlayConsumer, bus.InputItem]]] = defaultdict(list)
        self._flush_scheduled = False
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()  # socket closes, input sends
        self._faults: dict[str, FaultLog] = {}
        self.healing = Healing(self)
        self.presence = Presence(self)
        self.rooms = Rooms(self)
        self.streams = 0  # open SSE streams: their event bytes are built only while there are

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("hub.")
        await self.layer.group_add(bus.HUBS_GROUP, self.channel)
        heartbeat = settings.GAMESERVER["HUB_HEARTBEAT"]
        loops = {
            "receive": (self._receive_one, 1.0),
            "heartbeat": (self.healing.heartbeat_pass, heartbeat),
            "liveness": (self.healing.liveness_pass, 5.0),
            "lobby": (self.rooms.refresh_pass, 5.0),
        }
        for what, (one_pass, backoff) in loops.items():
            self._tasks.append(supervise(f"frame hub: {what} loop", one_pass, max_backoff=backoff))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _fault(self, what: str) -> FaultLog:
        faults = self._faults.get(what)  # made once: setdefault would build one per call
        if faults is None:
            faults = self._faults[what] = FaultLog(f"frame hub: {what}", log)
        return faults

    async def _send(self, channel: str, message: bus.LayerMessage) -> None:
        await self.layer.send(channel, bus.pack(message))

    # Sockets come and go
    async def attach(self, consumer: PlayConsumer) -> bool:
        """Register a socket (or a spectator's stream) for its match's frames; False if no
        engine runs the match. A spectator is put in the store's list of who watches."""
        match_id = consumer.match_id
        if consumer.spectator:
            await self.presence.enter(consumer)
        self.sockets[match_id].add(consumer)
        self.streams += consumer.wire == protocol.WIRE_SSE
        owner = await self._owner(match_id)
        if owner is None or consumer not in self.sockets.get(match_id, ()):
            await self.detach(consumer)
            return False
        await self._watch(match_id, owner)
        await self._send(owner, self._join_message(consumer))
        await self.presence.greet(consumer)
        return True

    async def detach(self, consumer: PlayConsumer) -> None:
        """Forget a socket, and tell its match's owner. The bookkeeping is done before the
        first await: several sockets of one match may detach at once (its `over`)."""
        match_id = consumer.match_id
        if consumer not in self.sockets.get(match_id, ()):
            return
        self._discard(consumer)
        self.streams -= consumer.wire == protocol.WIRE_SSE
        owner = self.watching.get(match_id)
        last = match_id not in self.sockets
        if last:
            self.watching.pop(match_id, None)
            self.tokens.pop(match_id, None)
        self.presence.leave(match_id, consumer)
        if owner is None:
            return
        drop = bus.EngineDrop(hub=self.channel, socket=consumer.socket_id, match=match_id,
                                   seat=consumer.seat)  # fmt: skip
        try:
            if not consumer.spectator:  # a spectator holds no seat: nothing to drop
                await self._send(owner, drop)
            if last:
                await self._send(owner, bus.EngineUnwatch(hub=self.channel, match=match_id))
        except Exception as error:  # Redis away: the heartbeat puts the engine right later
            self._fault("telling an engine a socket left").failed(error)

    def _discard(self, consumer: PlayConsumer) -> None:
        sockets = self.sockets.get(consumer.match_id)
        if sockets is not None:
            sockets.discard(consumer)
            if not sockets:
                del self.sockets[consumer.match_id]

    def _join_message(self, consumer: PlayConsumer) -> bus.LayerMessage:
        if consumer.spectator:
            return bus.EngineSpectate(hub=self.channel, socket=consumer.socket_id,
                                           match=consumer.match_id)  # fmt: skip
        return bus.EngineJoin(hub=self.channel, socket=consumer.socket_id,
                                   match=consumer.match_id, seat=consumer.seat,
                                   name=consumer.name)  # fmt: skip

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
            sent = [c.sent_tick for c in self.sockets.get(match_id, ())]
            resume = {match_id: max(sent)} if sent and max(sent) >= 0 else {}
            watch = bus.EngineWatch(hub=self.channel, matches=[match_id], resume=resume)
            await self._send(owner, watch)

    # Inputs, batched per owner
    def queue_input(self, consumer: PlayConsumer, move: Any) -> bool:
        """False when no engine can be reached for the match (the player is told)."""
        owner = self.watching.get(consumer.match_id)
        if owner is None:
            return False
        item = bus.InputItem(match=consumer.match_id, seat=consumer.seat, data=move,
                             socket=consumer.socket_id)  # fmt: skip
        self.pending_inputs[owner].append((consumer, item))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(INPUT_FLUSH_SECONDS, self._flush_inputs)
        return True

    def _flush_inputs(self) -> None:
        self._flush_scheduled = False
        pending, self.pending_inputs = self.pending_inputs, defaultdict(list)
        metrics.INPUTS.inc(sum(len(batch) for batch in pending.values()))
        for owner, batch in pending.items():
            self.in_background(self._send_inputs(owner, batch))

    async def _send_inputs(
        self, owner: str, batch: list[tuple[PlayConsumer, bus.InputItem]]
    ) -> None:
        try:
            await self._send(owner, bus.EngineInputs(items=[item for _, item in batch]))
        except Exception as error:
            self._fault("sending inputs").failed(error)
            for consumer in {consumer for consumer, _ in batch}:
                await consumer.warn_degraded()

    # Messages from engines
    async def _receive_one(self) -> None:
        raw = await self.layer.receive(self.channel)
        try:
            message = bus.unpack_hub(raw)
            if isinstance(message, bus.HubFrames):
                await self.hub_frames(message)
            elif isinstance(message, bus.HubOwner):
                await self.healing.hub_owner(message)
            elif isinstance(message, bus.HubKick):
                self.hub_kick(message)
            elif isinstance(message, bus.HubRefused):
                self.hub_refused(message)
            elif isinstance(message, bus.HubKeyframe):
                await self.hub_keyframe(message)
            elif isinstance(message, bus.HubBanned):
                self.rooms.hub_banned(message)
            elif isinstance(message, bus.HubChat):
                await self.rooms.hub_chat(message)
            elif isinstance(message, bus.HubChatDeleted):
                await self.rooms.hub_chat_deleted(message)
            elif isinstance(message, bus.HubLobbyChanged):
                self.rooms.changed()
            else:
                await self.hub_broadcast(message)
        except Exception as error:  # one bad message must not hold up the frames behind it
            self._fault(f"handling {raw.get('type')!r}").failed(error)

    async def hub_frames(self, message: bus.HubFrames) -> None:
        """Write each frame to the match's local sockets, except to those too far behind.

        Fencing: a frame whose owner's token is older than the newest seen for its match is
        from an engine that lost the match (paused, cut off) and is dropped; a newer token is a
        new owner, whose state line starts at its next keyframe. No socket is ever sent a tick
        it has already passed, nor a delta after a gap (frames lost while Redis was away).

        Flow control by ack (docs/PROTOCOL.md): a socket whose ack trails the newest tick by
        more than its lag allowance, or whose server-side write buffer is full, gets nothing
        more (its deltas are superseded) until it has acked all it was sent; then it waits for
        the next keyframe. So a socket holds at most the allowance's frames, and one slow
        reader never makes this loop wait.
        """
        now = time.monotonic()
        sent = held = 0  # counted once per message, not per socket
        for entry in message.frames:
            sockets = self.sockets.get(entry.match)
            if not sockets:
                continue
            newest = self.tokens.get(entry.match, 0)
            if entry.token < newest:
                continue
            if entry.token > newest:
                self._new_owner(entry.match, entry.token)
            tick = entry.tick
            events = self.events("keyframe" if entry.key else "frame", entry.text,
                                  entry.binary, tick)  # fmt: skip
            view = entry.view
            for consumer in list(sockets):
                if tick <= consumer.sent_tick:
                    continue
                if view and view not in consumer.views:
                    continue
                if consumer.behind_since:
                    held += 1
                    continue
                if consumer.write_blocked():
                    consumer.fall_behind(now)
                    held += 1
                    continue
                if consumer.synced:
                    if tick - consumer.ack > consumer.lag_ticks:
                        consumer.fall_behind(now)
                        held += 1
                        continue
                    if not entry.key and tick != consumer.sent_tick + 1:
                        consumer.synced = False  # frames were lost (Redis away): a keyframe
                        continue
                elif entry.key:
                    consumer.synced = True
                    consumer.ack = max(consumer.ack, tick)  # its acks are due from here on
                else:
                    continue  # a delta means nothing before a keyframe
                consumer.sent_tick = tick
                try:
                    await consumer.base_send(events[consumer.wire])
                except Exception:  # closed under us (daphne raises): its disconnect detaches it
                    continue
                sent += 1
            if entry.over is not None:
                self._end(entry.match, entry.over, entry.over_binary)
            await asyncio.sleep(0)  # let other work in between matches' fan-outs
        metrics.FRAMES_SENT.inc(sent)
        metrics.FRAMES_HELD.inc(held)

    def _new_owner(self, match_id: str, token: int) -> None:
        """A newer lease: the new owner's state line starts at its next keyframe."""
        if self.tokens.get(match_id):
            for consumer in self.sockets.get(match_id, ()):
                consumer.synced = False
        self.tokens[match_id] = token

    def events(self, kind: str, text: str, binary: bytes | None, tick: int | None = None,
               *, kept: bool = False) -> tuple[dict[str, Any], ...]:  # fmt: skip
        """One message as the ASGI event of each wire (consumer.wire picks): a JSON text
        frame, a msgpack binary frame, and, while SSE streams are open (or if the events are
        `kept` for sockets still to come), a server-sent event."""
        as_text = {"type": "websocket.send", "text": text}
        as_bytes = {"type": "websocket.send", "bytes": binary}
        if not self.streams and not kept:
            return as_text, as_bytes
        body = protocol.sse_event(kind, text, tick)
        return as_text, as_bytes, {"type": "http.response.body", "body": body, "more_body": True}

    def _end(self, match_id: str, over: str, over_binary: bytes | None) -> None:
        """The final message goes to every socket, also to a lagging one."""
        events = self.events("over", over, over_binary)
        for consumer in list(self.sockets.get(match_id, ())):
            self.in_background(consumer.match_over(events[consumer.wire]))

    async def hub_broadcast(self, message: bus.HubLobby | bus.HubNotice) -> None:
        """Who is in a waiting match (at most once a second), a staff notice: encoded once
        by the engine."""
        kind = "lobby" if isinstance(message, bus.HubLobby) else "notice"
        await self.broadcast(kind, message.match, message.text, message.binary)

    async def broadcast(self, kind: str, match_id: str, text: str, binary: bytes) -> None:
        """A message for every socket of a match; it skips a full buffer."""
        events = self.events(kind, text, binary)
        sent = 0
        for consumer in list(self.sockets.get(match_id, ())):
            if consumer.closing or consumer.write_blocked():
                continue
            try:
                await consumer.base_send(events[consumer.wire])
            except Exception:  # closed under us: its disconnect detaches it
                continue
            sent += 1
        metrics.MESSAGES_SENT.inc(sent)

    async def hub_keyframe(self, message: bus.HubKeyframe) -> None:
        """A socket that just joined gets the match as it is, alone; deltas follow."""
        if message.token < self.tokens.get(message.match, 0):
            return
        for consumer in self.sockets.get(message.match, ()):
            if consumer.socket_id != message.socket:
                continue
            if consumer.closing or message.tick <= consumer.sent_tick or consumer.write_blocked():
                return  # it has a newer one, or it waits for the next periodic keyframe
            consumer.synced = True
            consumer.sent_tick = message.tick
            consumer.ack = max(consumer.ack, message.tick)
            events = self.events("keyframe", message.text, message.binary, message.tick)
            with contextlib.suppress(Exception):  # closed under us: its disconnect detaches it
                await consumer.base_send(events[consumer.wire])
                metrics.FRAMES_SENT.inc()
            return

    def hub_kick(self, message: bus.HubKick) -> None:
        """The engine closes a socket: its seat was taken by a newer one, or is gone."""
        for consumer in self.sockets.get(message.match, ()):
            if consumer.socket_id == message.socket:
                self.in_background(consumer.kick(message.close, message.code, message.message))
                return

    def hub_refused(self, message: bus.HubRefused) -> None:
        """The engine refused a move (an illegal one): only its mover is told why."""
        refusal = {"type": "error", "code": message.code, "message": message.message}
        for consumer in self.sockets.get(message.match, ()):
            if consumer.socket_id == message.socket and not consumer.closing:
                self.in_background(consumer.send_message(refusal))
                return

    def in_background(self, work: Any) -> None:
        """Closing waits for the socket's buffer; a stalled one must not hold up the others."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


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
        await hub.rooms.close()
        hub.stop()
    from games.engine.embedded import stop_embedded_engine

    await stop_embedded_engine()
