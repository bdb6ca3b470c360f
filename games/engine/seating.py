"""The engine's side of the seats: what hubs say about their sockets (watch, heartbeat, join,
drop, inputs), what the engine tells them (kick, refuse, a joiner's own keyframe), and the
once-a-second sweep for graces that ran out, hubs that went silent (their web process died)
and waiting rooms (who is here, start, abandon)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import msgspec

from games import bus, protocol
from games.engine.control import Control
from games.engine.runtime import OVER, WAITING, Connection, SeatGone
from games.services import SEAT_GONE
from games.supervise import FaultLog

if TYPE_CHECKING:
    from games.engine.host import EngineHost

log = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0  # how often seats' graces and hubs' heartbeats are checked


class Seating:
    def __init__(self, host: EngineHost):
        self.host = host
        self.control = Control(host)  # staff actions arrive among the hubs' messages
        self._bad = FaultLog(f"engine {host.name}: a message from a hub", log)
        self._failing = FaultLog(f"engine {host.name}: handling a hub's message", log)
        self._handlers = {
            bus.EngineWatch: self.engine_watch,
            bus.EngineHeartbeat: self.engine_heartbeat,
            bus.EngineUnwatch: self.engine_unwatch,
            bus.EngineJoin: self.engine_join,
            bus.EngineSpectate: self.engine_spectate,
            bus.EngineDrop: self.engine_drop,
            bus.EngineInputs: self.engine_inputs,
            bus.EngineReleased: self.engine_released,
            bus.EngineControl: self.control.engine_control,
        }

    # Messages from hubs
    async def receive_one(self) -> None:
        raw = await self.host.layer.receive(self.host.channel)
        try:
            message = bus.unpack_engine(raw)
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError) as error:
            self._bad.failed(error)
            return
        try:
            await self.handle(message)
        except Exception as error:  # Redis away for an answer: the next message must go on
            self._failing.failed(error)
        else:
            self._failing.succeeded()

    async def handle(self, message: bus.EngineMessage) -> None:
        await self._handlers[type(message)](message)

    async def engine_watch(self, message: bus.EngineWatch) -> None:
        now = time.monotonic()
        for match_id in message.matches:
            runtime = self.host.runtimes.get(match_id)
            if runtime is None and match_id in self.host.loading:
                held = bus.EngineWatch(hub=message.hub, matches=[match_id],
                                            resume=message.resume)  # fmt: skip
                self.host.loading[match_id].append(held)
            elif runtime is None:
                await self.refuse(message.hub, match_id)
            else:
                # No keyframe for the match: each joining socket gets its own (engine_join);
                # sockets that had frames from a previous owner get one past `resume`.
                runtime.watchers[message.hub] = now
                if match_id in message.resume:
                    runtime.resume_above(message.resume[match_id])

    async def engine_heartbeat(self, message: bus.EngineHeartbeat) -> None:
        now = time.monotonic()
        for match_id, sockets in message.matches.items():
            runtime = self.host.runtimes.get(match_id)
            if runtime is None:
                if match_id not in self.host.loading:
                    await self.refuse(message.hub, match_id)
                continue
            newest = message.newest.get(match_id)
            behind = runtime.event_driven and newest is not None and newest < runtime.tick
            if message.hub not in runtime.watchers or behind:
                # New to us, or given up as dead and back; or the hub's sockets lost an
                # event-driven match's last steps (Redis away), which no later tick would mend.
                runtime.keyframe_now()
            runtime.watchers[message.hub] = now
            if match_id in message.spectating:
                runtime.spectator_hubs.add(message.hub)
            else:
                runtime.spectator_hubs.discard(message.hub)
            for connection, gone in runtime.reconcile_hub(message.hub, sockets, now):
                if gone:
                    await self.kick(match_id, connection, protocol.CLOSE_SEAT_GONE,
                                    "seat_gone", SEAT_GONE)  # fmt: skip
                else:
                    await self.kick(match_id, connection, protocol.CLOSE_REPLACED, "replaced",
                                    "this seat is played from another connection")  # fmt: skip
            if runtime.phase == OVER and runtime.final:
                # Its sockets are still open: the hub missed the last frame (Redis was away).
                final = bus.HubFrames(frames=runtime.final)
                await self.host.layer.send(message.hub, bus.pack(final))

    async def engine_unwatch(self, message: bus.EngineUnwatch) -> None:
        runtime = self.host.runtimes.get(message.match)
        if runtime is not None:
            runtime.watchers.pop(message.hub, None)
            runtime.spectator_hubs.discard(message.hub)

    async def engine_join(self, message: bus.EngineJoin) -> None:
        runtime = self.host.runtimes.get(message.match)
        if runtime is None and message.match in self.host.loading:
            self.host.loading[message.match].append(message)
            return
        if runtime is None:
            await self.refuse(message.hub, message.match)
            return
        connection = Connection(message.hub, message.socket)
        runtime.watchers.setdefault(message.hub, time.monotonic())
        # The state of the last tick, as every other socket had it: the join itself (the
        # seat shown connected) reaches everyone, this socket too, in the next delta.
        keyframe = runtime.joiner_keyframe(message.seat)
        try:
            replaced = runtime.connect(message.seat, connection, message.name)
        except SeatGone:
            await self.kick(message.match, connection, protocol.CLOSE_SEAT_GONE, "seat_gone",
                            SEAT_GONE)  # fmt: skip
            return
        if replaced is not None:
            await self.kick(
                message.match, replaced, protocol.CLOSE_REPLACED, "replaced",
                "this seat is now played from another connection",
            )  # fmt: skip
        if keyframe is not None:
            tick, text, binary = keyframe
            alone = bus.HubKeyframe(match=message.match, socket=message.socket,
                                         token=runtime.token, tick=tick, text=text,
                                         binary=binary)  # fmt: skip
            await self.host.layer.send(message.hub, bus.pack(alone))
        elif runtime.phase == WAITING:
            await self.host.waiting_room(runtime, time.monotonic())  # who is here, at once

    async def engine_spectate(self, message: bus.EngineSpectate) -> None:
        """A spectator holds no seat: its hub gets the spectators' stream, and it a keyframe."""
        runtime = self.host.runtimes.get(message.match)
        if runtime is None and message.match in self.host.loading:
            self.host.loading[message.match].append(message)
            return
        if runtime is None:
            await self.refuse(message.hub, message.match)
            return
        runtime.watchers.setdefault(message.hub, time.monotonic())
        runtime.spectator_hubs.add(message.hub)
        keyframe = runtime.joiner_keyframe(None)
        if keyframe is not None:
            tick, text, binary = keyframe
            alone = bus.HubKeyframe(match=message.match, socket=message.socket,
                                         token=runtime.token, tick=tick, text=text,
                                         binary=binary)  # fmt: skip
            await self.host.layer.send(message.hub, bus.pack(alone))

    async def engine_drop(self, message: bus.EngineDrop) -> None:
        runtime = self.host.runtimes.get(message.match)
        if runtime is None and message.match in self.host.loading:
            self.host.loading[message.match].append(message)  # after its join, in order
        elif runtime is not None:
            connection = Connection(message.hub, message.socket)
            runtime.disconnect(message.seat, connection, time.monotonic())
            if runtime.phase == WAITING:
                await self.host.waiting_room(runtime, time.monotonic())

    async def engine_inputs(self, message: bus.EngineInputs) -> None:
        """Each move to its match; a refused one's reason goes back to its mover alone."""
        refusals = []
        for item in message.items:
            runtime = self.host.runtimes.get(item.match)
            if runtime is None:
                continue
            reason = runtime.add_input(item.seat, item.data)
            connection = runtime.connections.get(item.seat)
            if reason is not None and connection is not None:
                refused = bus.HubRefused(match=item.match, socket=item.socket or connection.socket,
                                         code="illegal_move", message=reason)  # fmt: skip
                refusals.append((connection.hub, refused))
        if refusals:
            await self.host.send_all(refusals)

    async def engine_released(self, message: bus.EngineReleased) -> None:
        if message.engine != self.host.channel and not self.host.stopping:
            claiming = self.host.ownership.claim_unowned(message.matches)
            self.host.spawn(claiming, "claiming released matches")

    async def kick(self, match_id: str, connection: Connection, close: int, code: str,
                   message: str) -> None:  # fmt: skip
        kick = bus.HubKick(match=match_id, socket=connection.socket, close=close, code=code,
                                message=message)  # fmt: skip
        await self.host.layer.send(connection.hub, bus.pack(kick))

    async def refuse(self, hub: str, match_id: str) -> None:
        """Tell a stale sender we do not own the match, so it looks the owner up again."""
        refusal = bus.HubOwner(match=match_id, owner=None)
        await self.host.layer.send(hub, bus.pack(refusal))

    # Seats: graces that run out, hubs that went silent (their web process died)
    async def sweep_pass(self) -> None:
        await asyncio.sleep(SWEEP_SECONDS)
        now = time.monotonic()
        timeout = self.host.config["HUB_TIMEOUT"]
        blame_hubs = self.host.redis_ok_for(now) >= timeout
        for runtime in list(self.host.runtimes.values()):
            if blame_hubs:
                for hub in runtime.silent_hubs(now, timeout):
                    log.warning("engine %s: hub %s silent for %g s; its seats of %s dropped",
                                self.host.name, hub, timeout, runtime.match_id)  # fmt: skip
                    runtime.drop_hub(hub, now)
            for seat in runtime.expire_absent(now):
                leave = self.host.persistence.leave(runtime.match_id, seat)
                self.host.spawn(leave, "recording a leave")
            if runtime.phase == WAITING:  # a waiting match costs nothing per tick: once a second
                await self.host.waiting_room(runtime, now)
