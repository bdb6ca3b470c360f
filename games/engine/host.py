"""The engine host: owns many matches, ticks them, and streams their frames to the web
processes' hubs (docs/ARCHITECTURE.md). It composes ownership (claims, leases, re-assertion),
ticking, persistence and the reconciler; here are the messages from hubs, the seats'
comings and goings, and the life of a match from start to its one result.

Every loop is supervised (games/supervise.py): Redis, the database or a peer may fail at any
time, and the host keeps going and heals when they come back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

import msgspec
from django.conf import settings

from games import bus, protocol
from games.engine.events import Events
from games.engine.heartbeat import Heartbeat
from games.engine.ownership import Ownership
from games.engine.persistence import Persistence
from games.engine.reconciler import Reconciler
from games.engine.runtime import OVER, PLAYING, STARTING, TICK_SLOTS, WAITING, MatchRuntime
from games.engine.seating import SWEEP_SECONDS, Seating
from games.engine.ticking import Ticking
from games.models import Match
from games.rules import get_game
from games.store import get_store
from games.supervise import FaultLog, retry_forever, supervise

log = logging.getLogger(__name__)

STOP_GRACE = 2.0  # seconds a stopping host lets its background writes finish
RESULT_BACKOFF = 1.0  # a result waiting for Redis goes out within a second of its return


class EngineHost:
    def __init__(self, *, layer: Any, store: Any = None, name: str = "engine"):
        self.layer = layer
        self.store = store or get_store()
        self.name = name
        self.config = settings.GAMESERVER
        self.channel = ""
        self.runtimes: dict[str, MatchRuntime] = {}
        self.leases: dict[str, str] = {}
        self.loading: dict[str, list[bus.EngineMessage]] = {}  # claimed, not loaded yet
        self.tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.faults: dict[str, FaultLog] = {}
        self.stopping = False
        self._redis_down = False
        self._redis_ok_since = time.monotonic()
        self.persistence = Persistence(name)
        self.ownership = Ownership(self)
        self.ticking = Ticking(self)
        self.events = Events(self)
        self.reconciler = Reconciler(self)
        self.seating = Seating(self)
        self.heartbeat = Heartbeat(self)

    # Lifecycle
    async def start(self) -> None:
        self.channel = await self.layer.new_channel("engine.")
        await self.layer.group_add(bus.ENGINES_GROUP, self.channel)
        loops = {
            "receive": (self.seating.receive_one, 1.0),
            "event-driven frames": (self.events.flush_pass, 1.0),
            "claim": (self.ownership.claim_next, 2.0),
            "lease": (self._renew_pass, 1.0),
            "takeover": (self.ownership.take_over_orphans, 5.0),
            "reconcile": (self.reconciler.one_pass, 5.0),
            "seat sweep": (self.seating.sweep_pass, 5.0),
            "report": (self._report_pass, 5.0),
            "heartbeat": (self.heartbeat.one_pass, self.config["ENGINE_HEARTBEAT"]),
        }
        for what, (one_pass, backoff) in loops.items():
            self.tasks.append(supervise(f"engine {self.name}: {what} loop", one_pass,
                                        max_backoff=backoff))  # fmt: skip
        log.info("engine host %s listening on %s", self.name, self.channel)

    async def stop(self) -> None:
        """Checkpoint and hand every running match back, and tell the other engines at once,
        so one of them resumes each match within a tick or two."""
        self.stopping = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        try:
            await self.checkpoint(*(r for r in self.runtimes.values() if r.phase != WAITING))
            released = await self.ownership.release_all()
            if released:
                message = bus.EngineReleased(engine=self.channel, matches=released)
                await self.layer.group_send(bus.ENGINES_GROUP, bus.pack(message))
        except Exception as error:  # Redis away: the leases expire and others take over
            log.warning("engine %s: could not hand its matches over: %s", self.name, error)
        self.runtimes.clear()
        self.leases.clear()
        if self._background:
            _, pending = await asyncio.wait(self._background, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str = "background work") -> None:
        """Run `coro` beside the loops; its failures are logged without flooding."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(lambda done: self._done(done, what))

    def fault(self, what: str) -> FaultLog:
        """The one FaultLog of `what`, made on first use (not per call: this runs per tick)."""
        faults = self.faults.get(what)
        if faults is None:
            faults = self.faults[what] = FaultLog(f"engine {self.name}: {what}", log)
        return faults

    def _done(self, task: asyncio.Task, what: str) -> None:
        self._background.discard(task)
        faults = self.fault(what)
        if task.cancelled():
            return
        if task.exception() is not None:
            faults.failed(task.exception())
        else:
            faults.succeeded()

    # Redis health, so that our own outage is never blamed on the hubs
    def heard_from_redis(self) -> None:
        if self._redis_down:
            self._redis_down = False
            self._redis_ok_since = time.monotonic()

    def redis_ok_for(self, now: float) -> float:
        return 0.0 if self._redis_down else now - self._redis_ok_since

    async def _renew_pass(self) -> None:
        try:
            await self.ownership.renew_pass()
        except Exception:
            self._redis_down = True
            raise

    async def send_all(self, messages: list[tuple[str, bus.LayerMessage]]) -> None:
        """One message to each channel, all at once; a channel that fails loses only its own."""
        sent = await asyncio.gather(
            *(self.layer.send(channel, bus.pack(message)) for channel, message in messages),
            return_exceptions=True,
        )
        faults = self.fault("sending frames")
        failed = next((error for error in sent if isinstance(error, BaseException)), None)
        if failed is not None:
            faults.failed(failed)
        else:
            faults.succeeded()

    # A match's life: load, start, checkpoints, the one result
    async def load_runtime(self, match_id: str) -> MatchRuntime | None:
        match = await self.persistence.load(match_id)
        if match is None or match.is_over:
            return None
        # A friend needs time to type a private match's code; strangers do not wait. Without
        # bots, the match waits for people in every seat.
        fill = "PRIVATE_BOT_FILL_SECONDS" if match.private else "BOT_FILL_SECONDS"
        runtime = MatchRuntime(
            match_id=match_id,
            game=get_game(match.game),
            seats=match.seats,
            seed=match.seed,
            tick_rate=match.tick_rate,
            fill_after=self.config[fill] if match.bot_fill else math.inf,
            grace=self.config["RECONNECT_GRACE"],
            options=match.options,
            bot_think=self.config["BOT_THINK_SECONDS"],
        )
        checkpoint = await self.store.checkpoint_load(match_id)
        if checkpoint is not None:
            runtime.restore(msgspec.json.decode(checkpoint))
        elif match.status == Match.Status.RUNNING:
            # Started but never checkpointed: replay from the start with the same seats.
            runtime.start(await self.persistence.roster(match_id))
        return runtime

    async def waiting_room(self, runtime: MatchRuntime, now: float) -> None:
        """A waiting match, looked at once a second and when someone comes or goes: start it,
        abandon it, or tell its players who is here."""
        if runtime.should_start(now):
            runtime.phase = STARTING
            self.spawn(self.start_match(runtime), "starting a match")
        elif runtime.is_stale(now, self.config["WAITING_TIMEOUT"]):
            runtime.phase = OVER
            self.spawn(self.abandon(runtime), "abandoning a match")
        else:
            self._wake_when_bots_are_due(runtime, now)
            lobby = runtime.lobby(now)
            if lobby is not None:
                message = bus.HubLobby(match=runtime.match_id, text=protocol.encode(lobby),
                                            binary=protocol.encode_msgpack(lobby))  # fmt: skip
                await self.send_all([(hub, message) for hub in runtime.watchers])

    def _wake_when_bots_are_due(self, runtime: MatchRuntime, now: float) -> None:
        """The sweep comes once a second; a match due to start before the next one is woken
        at its moment instead, so that bots fill the seats on time."""
        if runtime.wakeup is not None or not runtime.connections or runtime.first_join is None:
            return
        due = runtime.first_join + runtime.fill_after - now
        if 0 < due <= SWEEP_SECONDS:

            def wake() -> None:
                runtime.wakeup = None
                if runtime.phase == WAITING and self.runtimes.get(runtime.match_id) is runtime:
                    self.spawn(self.waiting_room(runtime, time.monotonic()), "a waiting room")

            runtime.wakeup = asyncio.get_running_loop().call_later(due, wake)

    async def start_match(self, runtime: MatchRuntime) -> None:
        roster = await self.persistence.start(runtime.match_id)  # waits out a database outage
        if roster is None:
            log.warning("engine %s: match %s could not start", self.name, runtime.match_id)
            await self.abandon(runtime)
            return
        runtime.start(roster)
        if self.runtimes.get(runtime.match_id) is runtime:
            self.run(runtime)

    def run(self, runtime: MatchRuntime) -> None:
        """A started match runs here from now on: on the tick loop, or on its events."""
        if runtime.event_driven:
            self.events.add(runtime)
        else:
            self.ticking.add(runtime)

    async def abandon(self, runtime: MatchRuntime) -> None:
        await self.persistence.abandon(runtime.match_id)
        await self.forget(runtime.match_id)

    async def checkpoint(self, *runtimes: MatchRuntime) -> list[bool]:
        """Save checkpoints of matches we still hold, in one round trip; each is saved only
        while our lease (its fencing token) is the current one."""
        items = [
            (r.match_id, self.leases[r.match_id], msgspec.json.encode(r.dump()))
            for r in runtimes
            if r.match_id in self.leases
        ]
        saved = await self.store.checkpoints_save(items)
        now = time.time()
        for (match_id, _, _), ok in zip(items, saved, strict=True):
            if ok:
                self.heartbeat.checkpointed_at[match_id] = now
        return saved

    async def finish(self, runtime: MatchRuntime) -> None:
        """Write the result exactly once. The final checkpoint comes first: it proves we still
        own the match, and lets another host write the result if we die waiting for the
        database, however long it is away."""
        match_id = runtime.match_id

        async def save_final() -> bool:
            for _ in range(2):
                if match_id not in self.leases:
                    return False  # another engine owns it now and writes its result
                if (await self.checkpoint(runtime)) == [True]:
                    return True
                await self.ownership.renew()  # Redis lost the lease: re-assert it, or step back
            raise RuntimeError("the final checkpoint was refused twice; trying again")

        what = f"engine {self.name}: final checkpoint of {match_id}"
        if await retry_forever(what, save_final, max_backoff=RESULT_BACKOFF):
            await self.persistence.finish(match_id, runtime.result)
            await self.forget(match_id)

    def drop(self, match_id: str) -> str | None:
        """Stop running a match here (over, or owned elsewhere now); its lease, if we had one."""
        runtime = self.runtimes.pop(match_id, None)
        if runtime is not None:
            self.events.remove(runtime)
        self.ticking.remove(match_id)
        self.heartbeat.checkpointed_at.pop(match_id, None)
        return self.leases.pop(match_id, None)

    async def forget(self, match_id: str) -> None:
        lease = self.drop(match_id)

        async def let_go() -> None:
            await self.store.active_remove(match_id)
            if lease is not None:
                await self.store.lease_release(match_id, lease)

        await retry_forever(f"engine {self.name}: letting {match_id} go", let_go)

    # For operators and the benchmarks
    async def _report_pass(self) -> None:
        await asyncio.sleep(self.config["REPORT_SECONDS"])
        if self.runtimes:
            log.info("engine %s load %s", self.name, json.dumps(self.load()))

    def load(self) -> dict[str, Any]:
        """Matches and, per tick rate, tick counts and durations since the last call."""
        by_phase: dict[str, int] = defaultdict(int)
        for runtime in self.runtimes.values():
            by_phase[runtime.phase] += 1
        return {
            "matches": len(self.runtimes),
            "playing": by_phase[PLAYING],
            "waiting": by_phase[WAITING],
            "ticking": self.ticking.ticking(),  # stepped every tick; waiting ones are not
            "event_driven": self.events.running(),  # no per-tick cost: stepped on events
            "ticks": self.ticking.stats(),
            "slots": TICK_SLOTS,  # tick counts and durations are per slot
        }
