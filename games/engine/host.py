"""The engine host: owns many matches, ticks them, and sends each interested web process one
message per tick with the frames of the matches it asked for (DESIGN.md, "The data path")."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from typing import Any

import msgspec
from asgiref.sync import sync_to_async
from django.conf import settings

from games import protocol
from games.engine.clock import TickClock
from games.engine.runtime import (
    OVER,
    PLAYING,
    STARTING,
    TICK_SLOTS,
    WAITING,
    Connection,
    MatchRuntime,
    SeatGone,
)
from games.models import Match
from games.rules import get_game
from games.services import (
    SEAT_GONE,
    match_abandon,
    match_finish,
    match_start,
    participant_leave,
)
from games.store import get_store

log = logging.getLogger(__name__)

FINISH_RETRIES = 8
WATCHER_TTL = 15  # seconds; hubs re-ask every WATCH_REFRESH_SECONDS (games/hub.py)


def _load_match(match_id: str) -> Match | None:
    return Match.objects.filter(public_id=match_id).first()


class EngineHost:
    def __init__(self, *, layer: Any, store: Any = None, name: str = "engine"):
        self.layer = layer
        self.store = store or get_store()
        self.name = name
        self.config = settings.GAMESERVER
        self.channel = ""
        self.runtimes: dict[str, MatchRuntime] = {}
        self.leases: dict[str, str] = {}
        self.loading: dict[str, list[dict]] = {}  # claimed, not loaded yet: messages held
        self.clocks: dict[int, TickClock] = {}
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.stopping = False

    # Lifecycle
    async def start(self) -> None:
        self.channel = await self.layer.new_channel("engine.")
        jobs = (
            self._receive_loop,
            self._claim_loop,
            self._lease_loop,
            self._takeover_loop,
            self._report_loop,
        )
        for job in jobs:
            self._tasks.append(asyncio.create_task(job(), name=f"{self.name}:{job.__name__}"))
        log.info("engine host %s listening on %s", self.name, self.channel)

    async def stop(self) -> None:
        """Checkpoint and hand every running match back, so another host resumes it at once."""
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._checkpoint(*(r for r in self.runtimes.values() if r.phase != WAITING))
        for match_id, lease in list(self.leases.items()):
            await self.store.lease_release(match_id, lease)
        self.runtimes.clear()
        self.leases.clear()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # Channel-layer messages
    async def _receive_loop(self) -> None:
        handlers = {
            protocol.ENGINE_WATCH: self.engine_watch,
            protocol.ENGINE_UNWATCH: self.engine_unwatch,
            protocol.ENGINE_JOIN: self.engine_join,
            protocol.ENGINE_DROP: self.engine_drop,
            protocol.ENGINE_INPUTS: self.engine_inputs,
        }
        while True:
            message = await self.layer.receive(self.channel)
            handler = handlers.get(message.get("type"))
            if handler is None:
                log.warning("engine %s: unknown message type %r", self.name, message.get("type"))
                continue
            try:
                await handler(message)
            except Exception:
                log.exception("engine %s: handling %s failed", self.name, message.get("type"))

    async def engine_watch(self, message: dict) -> None:
        now = time.monotonic()
        for match_id in message["matches"]:
            runtime = self.runtimes.get(match_id)
            if runtime is None and match_id in self.loading:
                self.loading[match_id].append({**message, "matches": [match_id]})
                continue
            if runtime is None:
                await self._refuse(message["hub"], match_id)
                continue
            if message["hub"] not in runtime.watchers:
                runtime.keyframe_due = True  # its sockets need a keyframe before any delta
            runtime.watchers[message["hub"]] = now

    async def engine_unwatch(self, message: dict) -> None:
        runtime = self.runtimes.get(message["match"])
        if runtime is not None:
            runtime.watchers.pop(message["hub"], None)

    async def engine_join(self, message: dict) -> None:
        runtime = self.runtimes.get(message["match"])
        if runtime is None and message["match"] in self.loading:
            self.loading[message["match"]].append(message)
            return
        if runtime is None:
            await self._refuse(message["hub"], message["match"])
            return
        connection = Connection(message["hub"], message["socket"])
        try:
            replaced = runtime.connect(message["seat"], connection, message.get("name", ""))
        except SeatGone:
            await self._kick(
                runtime.match_id, connection, protocol.CLOSE_SEAT_GONE, "seat_gone", SEAT_GONE
            )
            return
        if replaced is not None:
            await self._kick(
                runtime.match_id, replaced, protocol.CLOSE_REPLACED, "replaced",
                "this seat is now played from another connection",
            )  # fmt: skip

    async def engine_drop(self, message: dict) -> None:
        runtime = self.runtimes.get(message["match"])
        if runtime is None and message["match"] in self.loading:
            self.loading[message["match"]].append(message)  # after its join, in order
        elif runtime is not None:
            connection = Connection(message["hub"], message["socket"])
            runtime.disconnect(message["seat"], connection, time.monotonic())

    async def _kick(self, match_id: str, connection: Connection, close: int, code: str,
                    message: str) -> None:  # fmt: skip
        kick = {"type": protocol.HUB_KICK, "match": match_id, "socket": connection.socket,
                "close": close, "code": code, "message": message}  # fmt: skip
        await self.layer.send(connection.hub, kick)

    async def engine_inputs(self, message: dict) -> None:
        for match_id, seat, data in message["items"]:
            runtime = self.runtimes.get(match_id)
            if runtime is not None:
                runtime.add_input(seat, data)

    async def _refuse(self, channel: str, match_id: str) -> None:
        """Tell a stale sender we do not own the match, so it looks the owner up again."""
        await self.layer.send(
            channel, {"type": protocol.HUB_OWNER, "match": match_id, "owner": None}
        )

    # Claiming matches: new ones from the queue, orphaned ones whose lease expired
    async def _claim_loop(self) -> None:
        while True:
            match_id = await self.store.next_queued_match(1.0)
            if match_id is not None:
                await self._claim(match_id)

    async def _takeover_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config["LEASE_TTL"] / 2)
            for match_id in await self.store.active_list():
                if match_id not in self.runtimes and await self.store.owner_of(match_id) is None:
                    await self._claim(match_id)

    async def _claim(self, match_id: str) -> None:
        lease = await self.store.lease_acquire(match_id, self.channel, self.config["LEASE_TTL"])
        if lease is None:
            return
        # Hubs see the lease at once and may write before the match is loaded: hold those.
        self.loading[match_id] = []
        try:
            runtime = await self._runtime_for(match_id)
        except Exception:
            log.exception("engine %s: could not load match %s", self.name, match_id)
            runtime = None
        held = self.loading.pop(match_id)
        if runtime is None:
            await self.store.lease_release(match_id, lease)
            await self.store.active_remove(match_id)
            for message in held:
                await self._refuse(message["hub"], match_id)
            return
        self.runtimes[match_id] = runtime
        self.leases[match_id] = lease
        replay = {protocol.ENGINE_WATCH: self.engine_watch, protocol.ENGINE_JOIN: self.engine_join,
                  protocol.ENGINE_DROP: self.engine_drop}  # fmt: skip
        for message in held:
            await replay[message["type"]](message)
        await self.store.active_add(match_id)
        self._clock_for(runtime.tick_rate)
        await self.layer.group_send(
            protocol.HUBS_GROUP,
            {"type": protocol.HUB_OWNER, "match": match_id, "owner": self.channel},
        )
        log.info("engine %s: now running match %s (%s)", self.name, match_id, runtime.phase)
        if runtime.phase == OVER:
            self._spawn(self._finish(runtime))  # the last owner died before writing the result

    async def _runtime_for(self, match_id: str) -> MatchRuntime | None:
        match = await sync_to_async(_load_match)(match_id)
        if match is None or match.is_over:
            return None
        runtime = MatchRuntime(
            match_id=match_id,
            game=get_game(match.game),
            seats=match.seats,
            seed=match.seed,
            tick_rate=match.tick_rate,
            # A friend needs time to type a private match's code; strangers do not wait.
            fill_after=self.config[
                "PRIVATE_BOT_FILL_SECONDS" if match.private else "BOT_FILL_SECONDS"
            ],
            grace=self.config["RECONNECT_GRACE"],
        )
        checkpoint = await self.store.checkpoint_load(match_id)
        if checkpoint is not None:
            runtime.restore(msgspec.json.decode(checkpoint))
        elif match.status == Match.Status.RUNNING:
            # Started but never checkpointed: replay from the start with the same seats.
            from games.selectors import match_roster

            runtime.start(await sync_to_async(match_roster)(match_id=match_id))
        return runtime

    # Leases
    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            held = dict(self.leases)
            for match_id in await self.store.leases_renew(held, self.config["LEASE_TTL"]):
                log.warning("engine %s: lost the lease of %s; dropping it", self.name, match_id)
                if self.leases.get(match_id) == held[match_id]:
                    self.runtimes.pop(match_id, None)
                    self.leases.pop(match_id, None)
            now = time.monotonic()
            for runtime in self.runtimes.values():
                runtime.forget_silent_watchers(now, WATCHER_TTL)
                for seat in runtime.expire_absent(now):
                    self._spawn(self._record_leave(runtime.match_id, seat))

    async def _record_leave(self, match_id: str, seat: int) -> None:
        """The seat is gone for good: no new ticket is issued for it (the checkpoint also
        carries it, so another host keeps refusing it)."""
        try:
            await sync_to_async(participant_leave)(match_id=match_id, seat=seat)
        except Exception:
            log.exception("engine %s: recording that seat %s left %s failed", self.name, seat,
                          match_id)  # fmt: skip

    # Ticking
    def _clock_for(self, rate: int) -> None:
        """One tick loop per tick rate, running TICK_SLOTS times a tick: each slot steps its
        share of the matches and sends each hub one message with their frames."""
        if rate not in self.clocks and not self.stopping:
            clock = self.clocks[rate] = TickClock(rate * TICK_SLOTS)
            task = asyncio.create_task(self._tick_loop(clock), name=f"{self.name}:tick{rate}")
            self._tasks.append(task)

    async def _tick_loop(self, clock: TickClock) -> None:
        rate = round(1 / clock.period / TICK_SLOTS)
        while True:
            await clock.next_tick()
            started = time.perf_counter()
            work = await self._tick(rate, clock.n % TICK_SLOTS)
            clock.record(work, time.perf_counter() - started)

    async def _tick(self, rate: int, slot: int) -> float:
        """Step the matches of this rate and slot, then send each hub its frames; returns the
        seconds of work before the sends. No yield in between: it is short (150 matches in
        about 2 ms), and the frames leave together anyway."""
        started = time.perf_counter()
        now = time.monotonic()
        batches: dict[str, list[list[Any]]] = defaultdict(list)
        checkpoint_every = self.config["CHECKPOINT_EVERY"]
        runtimes = [r for r in self.runtimes.values() if r.tick_rate == rate and r.slot == slot]
        due: list[MatchRuntime] = []
        lobbies: list[tuple[str, dict[str, Any]]] = []
        for runtime in runtimes:
            if runtime.phase == WAITING:
                self._maybe_start(runtime, now)
                lobby = runtime.lobby(now)
                if lobby is not None:
                    message = {"type": protocol.HUB_LOBBY, "match": runtime.match_id,
                               "text": protocol.encode(lobby),
                               "binary": protocol.encode_msgpack(lobby)}  # fmt: skip
                    lobbies.extend((hub, message) for hub in runtime.watchers)
                continue
            frame = runtime.step()
            if frame is None:
                continue
            entry = [
                runtime.match_id,
                frame.tick,
                frame.key,
                frame.text,
                frame.binary,
                frame.over,
                frame.over_binary,
            ]
            for hub in runtime.watchers:
                batches[hub].append(entry)
            if runtime.phase == OVER:
                self._spawn(self._finish(runtime))
            elif frame.tick % checkpoint_every == runtime.keyframe_phase % checkpoint_every:
                due.append(runtime)
        work = time.perf_counter() - started
        if batches:
            await self._send_all(
                [(hub, {"type": protocol.HUB_FRAMES, "frames": f}) for hub, f in batches.items()]
            )
        if lobbies:
            self._spawn(self._send_all(lobbies))
        if due:
            self._spawn(self._checkpoint(*due))
        return work

    async def _send_all(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """One message to each channel, all at once; a channel that fails loses only its own."""
        await asyncio.gather(
            *(self.layer.send(channel, message) for channel, message in messages),
            return_exceptions=True,
        )

    def _maybe_start(self, runtime: MatchRuntime, now: float) -> None:
        if runtime.should_start(now):
            runtime.phase = STARTING
            self._spawn(self._start(runtime))
        elif runtime.is_stale(now, self.config["WAITING_TIMEOUT"]):
            runtime.phase = OVER
            self._spawn(self._abandon(runtime))

    async def _start(self, runtime: MatchRuntime) -> None:
        roster = await sync_to_async(match_start)(match_id=runtime.match_id)
        if roster is None:
            log.warning("engine %s: match %s could not start", self.name, runtime.match_id)
            await self._abandon(runtime)
            return
        runtime.start(roster)

    async def _abandon(self, runtime: MatchRuntime) -> None:
        await sync_to_async(match_abandon)(match_id=runtime.match_id)
        await self._forget(runtime.match_id)

    async def _checkpoint(self, *runtimes: MatchRuntime) -> None:
        """Save checkpoints of matches we still hold, in one round trip."""
        items = [
            (r.match_id, self.leases[r.match_id], msgspec.json.encode(r.dump()))
            for r in runtimes
            if r.match_id in self.leases
        ]
        await self.store.checkpoints_save(items)

    async def _finish(self, runtime: MatchRuntime) -> None:
        """Write the result exactly once; the final checkpoint lets another host retry."""
        match_id = runtime.match_id
        await self._checkpoint(runtime)
        for attempt in range(FINISH_RETRIES):
            try:
                await sync_to_async(match_finish)(match_id=match_id, result=runtime.result)
                break
            except Exception:
                log.exception("engine %s: writing the result of %s failed", self.name, match_id)
                await asyncio.sleep(min(2**attempt * 0.25, 10))
        else:
            return  # keep lease and checkpoint: the match stays active for a retry
        await self._forget(match_id)

    async def _forget(self, match_id: str) -> None:
        self.runtimes.pop(match_id, None)
        lease = self.leases.pop(match_id, None)
        await self.store.active_remove(match_id)
        if lease is not None:
            await self.store.lease_release(match_id, lease)

    # For operators and the benchmarks
    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config["REPORT_SECONDS"])
            if self.runtimes:
                log.info("engine %s load %s", self.name, json.dumps(self.load()))

    def load(self) -> dict[str, Any]:
        """Matches and, per tick rate, tick counts and durations since the last call."""
        return {
            "matches": len(self.runtimes),
            "playing": sum(1 for r in self.runtimes.values() if r.phase == PLAYING),
            "ticks": {str(rate): clock.stats.report() for rate, clock in self.clocks.items()},
            "slots": TICK_SLOTS,  # tick counts and durations are per slot
        }
