"""The database is the truth about which matches exist; Redis may lose its data at any time.

Every RECONCILE_SECONDS one engine (whichever holds a short Redis lock) compares the two:
- a `waiting` match that no engine owns and none will claim from the queue is queued again,
  or abandoned once it waited past WAITING_TIMEOUT;
- a `running` match that no engine owns but that has a checkpoint is put back in the active
  set, where the takeover loops find it;
- a `running` match with neither owner nor checkpoint for ORPHAN_SECONDS (longer than an
  engine needs to re-assert its leases after Redis comes back) is abandoned as lost, and its
  players are told by their hubs.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from typing import TYPE_CHECKING

from django.utils import timezone

from games.models import Match

if TYPE_CHECKING:
    from games.engine.host import EngineHost

log = logging.getLogger(__name__)

LOCK = "reconciler"
NEW_MATCH_SECONDS = 5  # a match this young may still be on its way into the queue


class Reconciler:
    def __init__(self, host: EngineHost):
        self.host = host
        self.every = host.config["RECONCILE_SECONDS"]
        self.suspects: dict[str, float] = {}  # running, unowned, no checkpoint: since when

    async def one_pass(self) -> None:
        await asyncio.sleep(self.every)
        if await self.host.store.hold(LOCK, self.host.channel, self.every * 3):
            await self.reconcile()
        else:
            self.suspects.clear()  # another engine reconciles; start afresh if it stops

    async def reconcile(self) -> None:
        store, config = self.host.store, self.host.config
        live = await self.host.persistence.live()
        ids = [match_id for match_id, _, _ in live]
        owners = await store.owners_of(ids)
        queued = await store.queued()
        unowned = [m for m in ids if owners[m] is None and m not in self.host.loading]
        checkpointed = await store.checkpointed(unowned)
        now, wall = time.monotonic(), timezone.now()
        requeue, restore = [], []
        for match_id, status, created in live:
            if match_id not in unowned:
                self.suspects.pop(match_id, None)
                continue
            if status == Match.Status.WAITING:
                if match_id in queued or _age(wall, created) < NEW_MATCH_SECONDS:
                    continue
                if _age(wall, created) > config["WAITING_TIMEOUT"]:
                    log.warning("reconciler: match %s waited too long with no engine", match_id)
                    await self.host.persistence.abandon(match_id)
                else:
                    requeue.append(match_id)
            elif match_id in checkpointed:
                restore.append(match_id)
            elif now - self.suspects.setdefault(match_id, now) >= config["ORPHAN_SECONDS"]:
                log.warning("reconciler: match %s has no engine and no checkpoint", match_id)
                await self.host.persistence.lose(match_id, "its engine and checkpoint were lost")
                del self.suspects[match_id]
        for match_id in set(self.suspects) - set(unowned):
            del self.suspects[match_id]
        if requeue:
            log.warning("reconciler: queueing %d waiting matches again", len(requeue))
            await store.requeue(requeue)
        for match_id in restore:
            await store.active_add(match_id)
        if restore:
            await self.host.ownership.claim_unowned(restore)


def _age(now: datetime.datetime, then: datetime.datetime) -> float:
    return (now - then).total_seconds()
