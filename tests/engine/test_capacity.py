"""An engine holds at most GAMESERVER_MAX_MATCHES matches: past it, new ones stay queued for
another engine (or for later), and a waiting match is not stepped by the tick loops."""

from __future__ import annotations

from channels.layers import InMemoryChannelLayer

from games.engine.host import EngineHost
from games.engine.runtime import MatchRuntime
from games.memory_store import MemoryStore
from games.rules import get_game


def runtime(match_id: str) -> MatchRuntime:
    return MatchRuntime(match_id=match_id, game=get_game("bench"), seats=2, seed=1,
                        tick_rate=20, fill_after=5)  # fmt: skip


async def test_a_full_engine_leaves_new_matches_in_the_queue(settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "MAX_MATCHES": 2}
    store = MemoryStore()
    host = EngineHost(layer=InMemoryChannelLayer(), store=store, name="full")
    for match_id in ("a", "b"):
        host.runtimes[match_id] = runtime(match_id)
    store.enqueue_match("c")
    await host.ownership.claim_next()
    assert await store.queued() == {"c"}, "a full engine took a match from the queue"
    assert host.ticking.ticking() == 0  # both held matches wait: nothing is stepped
