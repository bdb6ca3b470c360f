"""Which matches this engine owns: claims from the queue, takeovers of expired leases, lease
renewal, and re-assertion after Redis lost or dropped our leases (docs/ARCHITECTURE.md).

A match has one owner at a time: the lease is set only if absent (Lua), so when two engines
reach for a match, one gets it and the other steps back at its next renewal. Every lease
carries a fencing token that only grows; frames and checkpoints carry it, so an engine that
lost its lease (paused, cut off) can neither overwrite the checkpoint nor show players an old
tick.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from games import bus, metrics
from games.engine.runtime import OVER, WAITING
from games.store import lease_token

if TYPE_CHECKING:
    from games.engine.host import EngineHost

log = logging.getLogger(__name__)

RENEW_SECONDS = 1.0
FULL_SECONDS = 0.5  # how often a full engine looks again
PAUSE_SECONDS = 0.5  # a tick this late means the process may have been paused: check leases


class Ownership:
    def __init__(self, host: EngineHost):
        self.host = host
        self.store = host.store
        self.ttl = host.config["LEASE_TTL"]
        self._renewing = asyncio.Lock()

    # Claiming: new matches from the queue, orphans whose lease expired, released ones
    async def claim_next(self) -> None:
        """One pass of the claim loop: wait up to a second for a queued match, unless this
        engine is full (the queue keeps it for another engine, or for later)."""
        if len(self.host.runtimes) >= self.host.config["MAX_MATCHES"]:
            await asyncio.sleep(FULL_SECONDS)
            return
        match_id = await self.store.next_queued_match(1.0)
        if match_id is not None:
            await self.claim(match_id)

    async def take_over_orphans(self) -> None:
        """One pass of the takeover loop: claim active matches whose owner's lease expired."""
        await asyncio.sleep(self.ttl / 2)
        await self.claim_unowned(await self.store.active_list())

    async def claim_unowned(self, match_ids: list[str]) -> None:
        candidates = [m for m in match_ids if m not in self.host.runtimes]
        owners = await self.store.owners_of(candidates)
        for match_id in candidates:
            if owners[match_id] is None and not self.host.stopping:
                await self.claim(match_id)
                if match_id in self.host.runtimes:
                    metrics.LEASE_TAKEOVERS.inc()

    async def claim(self, match_id: str) -> None:
        host = self.host
        if match_id in host.runtimes or match_id in host.loading:
            return
        lease = await self.store.lease_acquire(match_id, host.channel, self.ttl)
        if lease is None:
            return
        # Hubs see the lease at once and may write before the match is loaded: hold those.
        host.loading[match_id] = []
        try:
            runtime = await host.load_runtime(match_id)
        except Exception:
            held = host.loading.pop(match_id)
            await self.store.lease_release(match_id, lease)
            await self.store.active_add(match_id)  # the takeover loop tries it again
            for message in held:
                await host.seating.refuse(message.hub, match_id)
            raise
        held = host.loading.pop(match_id)
        if runtime is None:  # gone from the database, or over: nothing to run
            await self.store.lease_release(match_id, lease)
            await self.store.active_remove(match_id)
            for message in held:
                await host.seating.refuse(message.hub, match_id)
            return
        runtime.token = lease_token(lease)
        host.runtimes[match_id] = runtime
        host.leases[match_id] = lease
        for message in held:
            await host.seating.handle(message)
        await self.store.active_add(match_id)
        if runtime.phase not in (WAITING, OVER):
            host.run(runtime)
        await self.announce(match_id)
        log.info("engine %s: now running match %s (%s)", host.name, match_id, runtime.phase)
        if runtime.phase == OVER:
            host.spawn(host.finish(runtime))  # the last owner died before writing the result

    async def announce(self, match_id: str) -> None:
        runtime = self.host.runtimes[match_id]
        owner = bus.HubOwner(match=match_id, owner=self.host.channel, token=runtime.token)
        await self.host.layer.group_send(bus.HUBS_GROUP, bus.pack(owner))

    # Keeping what we own
    async def renew_pass(self) -> None:
        """One pass of the lease loop."""
        await asyncio.sleep(RENEW_SECONDS)
        await self.renew()

    async def renew(self) -> None:
        """Renew every lease; re-assert those Redis no longer has, give up those another
        engine holds. A failure here (Redis away) leaves everything as it is: the matches
        keep ticking, and no other engine can take them while Redis is away either."""
        async with self._renewing:
            held = dict(self.host.leases)
            renewal = await self.store.leases_renew(held, self.ttl)
            for match_id in renewal.taken:
                self._step_back(match_id, held[match_id], "another engine holds its lease")
            for match_id in renewal.gone:
                await self._reassert(match_id, held[match_id])
            self.host.heard_from_redis()

    async def _reassert(self, match_id: str, old: str) -> None:
        host = self.host
        if host.leases.get(match_id) != old:
            return
        lease = await self.store.lease_acquire(match_id, host.channel, self.ttl)
        if lease is None:
            self._step_back(match_id, old, "its lease expired and another engine took it")
            return
        runtime = host.runtimes[match_id]
        host.leases[match_id] = lease
        runtime.token = lease_token(lease)
        runtime.keyframe_now()  # hubs wait for a keyframe of the new token
        await self.store.active_add(match_id)
        saved = await host.checkpoint(runtime)  # Redis may have lost the last one
        metrics.CHECKPOINT_WRITES.inc(sum(saved))
        await self.announce(match_id)
        log.warning("engine %s: re-asserted its lease of %s (token %s)", host.name, match_id,
                    runtime.token)  # fmt: skip

    def _step_back(self, match_id: str, lease: str, why: str) -> None:
        if self.host.leases.get(match_id) == lease:
            log.warning("engine %s: dropping match %s: %s", self.host.name, match_id, why)
            self.host.drop(match_id)
            metrics.LEASES_LOST.inc()

    async def check_after_pause(self, late: float) -> None:
        """Before ticking again after a long gap (SIGSTOP, a stalled machine), learn whether
        another engine took our matches meanwhile, so we never send their players old ticks."""
        log.warning("engine %s: ticks ran %.1f s late; checking its leases first", self.host.name,
                    late)  # fmt: skip
        try:
            await self.renew()
        except Exception as error:  # Redis away: nobody can have taken them over either
            log.warning("engine %s: could not check its leases: %s", self.host.name, error)

    async def release_all(self) -> list[str]:
        """Hand every match back (shutdown); returns the matches released."""
        released = []
        for match_id, lease in list(self.host.leases.items()):
            await self.store.lease_release(match_id, lease)
            released.append(match_id)
        return released
