"""How the frame hub heals by itself (docs/RELIABILITY.md): a heartbeat tells each owner
every HUB_HEARTBEAT which sockets it has (so engines notice a dead web process, and a join or
drop lost while Redis was away is put right); matches whose owner is unknown are looked up
again, and when the database says such a match is over, its sockets are told so; sockets that
went silent or stay behind too long are closed."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings

from games import bus, protocol
from games.selectors import match_endings

if TYPE_CHECKING:
    from games.consumers import PlayConsumer
    from games.hub import FrameHub

LIVENESS_SECONDS = 1  # how often sockets are checked for silence and for lagging too long


class Healing:
    def __init__(self, hub: FrameHub):
        self.hub = hub

    async def hub_owner(self, message: bus.HubOwner) -> None:
        """A new owner announced itself (re-register our sockets with it), or a stale one
        refused us (owner None: the heartbeat looks the owner up again). The same owner again
        re-asserted its lease after a Redis fault: it still knows our sockets."""
        match_id, owner = message.match, message.owner
        if match_id not in self.hub.sockets:
            return
        if message.token > self.hub.tokens.get(match_id, 0):
            self.hub._new_owner(match_id, message.token)
        if owner is None:
            self.hub.watching.pop(match_id, None)
        elif self.hub.watching.get(match_id) != owner:
            await self._adopt(match_id, owner)

    async def _adopt(self, match_id: str, owner: str) -> None:
        self.hub.watching.pop(match_id, None)
        await self.hub._watch(match_id, owner)
        for consumer in list(self.hub.sockets.get(match_id, ())):
            if not consumer.closing:
                await self.hub._send(owner, self.hub._join_message(consumer))

    async def heartbeat_pass(self) -> None:
        """Tell each owner, in one message, our sockets of every match we watch; then check
        who owns each match now."""
        await asyncio.sleep(settings.GAMESERVER["HUB_HEARTBEAT"])
        by_owner: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
        spectating: dict[str, list[str]] = defaultdict(list)
        newest: dict[str, dict[str, int]] = defaultdict(dict)
        for match_id, owner in list(self.hub.watching.items()):
            sockets = [c for c in self.hub.sockets.get(match_id, ()) if not c.closing]
            by_owner[owner][match_id] = {c.socket_id: c.seat for c in sockets if not c.spectator}
            if any(c.spectator for c in sockets):
                spectating[owner].append(match_id)
            if sockets:
                newest[owner][match_id] = max(c.sent_tick for c in sockets)
        for owner, matches in by_owner.items():
            beat = bus.EngineHeartbeat(hub=self.hub.channel, matches=matches,
                                       spectating=spectating[owner],
                                       newest=newest[owner])  # fmt: skip
            try:
                await self.hub._send(owner, beat)
            except Exception as error:  # that engine's channel is full (paused) or Redis away
                self.hub._fault("sending a heartbeat").failed(error)
        for what, one_pass in (("looking for owners of orphaned matches", self._find_owners),
                               ("telling who watches", self.hub.presence.refresh)):  # fmt: skip
            try:
                await one_pass()
            except Exception as error:  # Redis or the database away: the heartbeat goes on
                self.hub._fault(what).failed(error)
            else:
                self.hub._fault(what).succeeded()

    async def _find_owners(self) -> None:
        """Every local match's owner, from the leases (one round trip): a new owner whose
        announcement we missed is adopted; a match that has none is an orphan, and when the
        database says it is over, its sockets are told so."""
        matches = list(self.hub.sockets)
        if not matches:
            return
        owners = await self.hub.store.owners_of(matches)
        lost = []
        for match_id, owner in owners.items():
            if match_id not in self.hub.sockets:
                continue
            if owner is None:
                self.hub.watching.pop(match_id, None)
                lost.append(match_id)
            elif self.hub.watching.get(match_id) != owner:
                await self._adopt(match_id, owner)
        if lost:
            for match_id, result in (await database_sync_to_async(match_endings)(lost)).items():
                self._tell_ended(match_id, result)

    def _tell_ended(self, match_id: str, result: dict[str, Any] | None) -> None:
        if result is not None and result.get("reason") != "lost":
            over = {"type": "over", "result": result}
            self.hub._end(match_id, protocol.encode(over), protocol.encode_msgpack(over))
            return
        for consumer in list(self.hub.sockets.get(match_id, ())):
            self.hub.in_background(consumer.kick(
                protocol.CLOSE_MATCH_GONE, "match_lost",
                "this match was lost with its engine: start a new one",
            ))  # fmt: skip

    async def liveness_pass(self) -> None:
        """Close sockets that went silent (a peer gone without a TCP close) or that stay
        behind; a socket that caught up meanwhile with a full buffer is let back in here."""
        await asyncio.sleep(LIVENESS_SECONDS)
        now = time.monotonic()
        for sockets in list(self.hub.sockets.values()):
            for consumer in list(sockets):
                reason = _overdue(consumer, now)
                if reason is not None:
                    self.hub.in_background(consumer.kick(protocol.CLOSE_SLOW_CONSUMER, *reason))
                elif consumer.behind_since:
                    consumer.maybe_catch_up()


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
