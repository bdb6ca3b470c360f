"""Leases, fencing, tickets and the match queue, on real Redis and on the in-process store."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis

from games.store import MemoryStore, RedisStore, StoreUnavailable, lease_token


@pytest.fixture(params=["redis", "memory"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    url = request.getfixturevalue("redis_url")
    return RedisStore(url, f"test-{uuid.uuid4().hex[:8]}:", timeout=1)


async def test_one_owner_per_match_until_the_lease_expires(store):
    first = await store.lease_acquire("m1", "engine-a", ttl=0.3)
    assert first is not None
    assert await store.lease_acquire("m1", "engine-b", ttl=0.3) is None
    assert await store.owner_of("m1") == "engine-a"
    await asyncio.sleep(0.45)
    second = await store.lease_acquire("m1", "engine-b", ttl=5)
    assert second is not None and second != first
    assert await store.owner_of("m1") == "engine-b"


async def test_a_zombie_owner_can_neither_renew_nor_checkpoint(store):
    zombie = await store.lease_acquire("m2", "engine-a", ttl=0.2)
    assert await store.checkpoints_save([("m2", zombie, b"a-state")]) == [True]
    await asyncio.sleep(0.35)
    owner = await store.lease_acquire("m2", "engine-b", ttl=5)
    renewal = await store.leases_renew({"m2": zombie}, ttl=5)
    assert renewal.taken == {"m2"} and not renewal.gone
    assert await store.checkpoints_save([("m2", zombie, b"stale"), ("m2", owner, b"b-state")]) == [
        False,
        True,
    ]
    assert await store.checkpoint_load("m2") == b"b-state"
    await store.lease_release("m2", zombie)  # releasing someone else's lease does nothing
    assert await store.owner_of("m2") == "engine-b"
    await store.lease_release("m2", owner)
    assert await store.owner_of("m2") is None


async def test_a_renewed_lease_outlives_its_first_ttl(store):
    lease = await store.lease_acquire("m3", "engine-a", ttl=0.3)
    for _ in range(3):
        await asyncio.sleep(0.15)
        renewal = await store.leases_renew({"m3": lease, "gone": "x 1"}, ttl=0.3)
        assert renewal.gone == {"gone"} and not renewal.taken
    assert await store.owner_of("m3") == "engine-a"


async def test_tickets_redeem_once_and_expire(store):
    store.issue_ticket("t1", b"claims", ttl=5)
    assert await store.redeem_ticket("t1") == b"claims"
    assert await store.redeem_ticket("t1") is None
    store.issue_ticket("t2", b"claims", ttl=0.1)
    await asyncio.sleep(0.25)
    assert await store.redeem_ticket("t2") is None


async def test_the_queue_hands_each_match_to_exactly_one_claimer(store):
    store.enqueue_match("a")
    store.enqueue_match("b")
    got = await asyncio.gather(*(store.next_queued_match(0.5) for _ in range(3)))
    assert sorted(g for g in got if g) == ["a", "b"] and got.count(None) == 1
    assert await store.next_queued_match(0.1) is None


async def test_active_matches_are_listed_until_removed(store):
    await store.active_add("x")
    await store.active_add("y")
    assert await store.active_list() == ["x", "y"]
    await store.active_remove("x")
    assert await store.active_list() == ["y"]


async def test_fencing_tokens_grow_also_after_redis_lost_everything(store, redis_url):
    first = await store.lease_acquire("m4", "engine-a", ttl=5)
    if isinstance(store, RedisStore):
        redis.Redis.from_url(redis_url).delete(store.prefix + "lease:m4", store.prefix + "fence:m4")
    else:
        store._values.clear()
        store._fence = 0
    await asyncio.sleep(0.01)  # the floor is the clock in ms: a loss and a re-claim take longer
    again = await store.lease_acquire("m4", "engine-a", ttl=5)
    assert lease_token(again) > lease_token(first)


async def test_served_matches_are_owned_or_queued(store):
    store.enqueue_match("queued")
    await store.lease_acquire("owned", "engine-a", ttl=5)
    assert store.served(["queued", "owned", "orphan"]) == {"queued", "owned"}
    assert await store.queued() == {"queued"}
    await store.requeue(["orphan"])
    assert await store.queued() == {"queued", "orphan"}
    assert await store.owners_of(["owned", "orphan"]) == {"owned": "engine-a", "orphan": None}


async def test_a_short_lock_is_kept_by_its_holder(store):
    assert await store.hold("job", "engine-a", ttl=0.3)
    assert await store.hold("job", "engine-a", ttl=0.3)
    assert not await store.hold("job", "engine-b", ttl=0.3)
    await asyncio.sleep(0.45)
    assert await store.hold("job", "engine-b", ttl=0.3)


async def test_only_checkpointed_matches_are_listed_as_such(store):
    lease = await store.lease_acquire("m5", "engine-a", ttl=5)
    await store.checkpoints_save([("m5", lease, b"state")])
    assert await store.checkpointed(["m5", "m6"]) == {"m5"}


def test_a_view_s_call_fails_fast_when_redis_is_away():
    from tests.support import free_port

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", "test:", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="did not answer"):
        store.issue_ticket("t", b"x", ttl=5)
    assert time.monotonic() - started < 1.5


async def test_unredeemed_tickets_do_not_pile_up_in_the_embedded_store():
    store = MemoryStore()
    for n in range(500):
        store.issue_ticket(f"t{n}", b"claims", ttl=0.01)
    await asyncio.sleep(0.02)
    for n in range(100):
        store.issue_ticket(f"u{n}", b"claims", ttl=60)
    assert len(store._values) <= 200  # the 500 expired ones were swept


async def test_engine_heartbeats_are_live_then_silent_then_forgotten(store, settings):
    settings.GAMESERVER = {**settings.GAMESERVER, "ENGINE_SILENT": 0.3}
    info = {"name": "engine-a", "phases": {"playing": 1}, "matches": [{"match": "m9"}]}
    await store.write_engine_heartbeat("engine.a", info, ttl=0.8)
    await store.write_engine_heartbeat("engine.b", {"name": "engine-b"}, ttl=60)
    engines = {e["name"]: e for e in await store.live_engines()}
    assert set(engines) == {"engine-a", "engine-b"}
    first = engines["engine-a"]
    assert first["silent"] is False and first["matches"] == [{"match": "m9"}]
    assert abs(first["last_seen"] - time.time()) < 1
    await asyncio.sleep(0.45)
    await store.write_engine_heartbeat("engine.b", {"name": "engine-b"}, ttl=60)  # b goes on
    engines = {e["name"]: e for e in await store.live_engines()}
    assert engines["engine-a"]["silent"] is True and engines["engine-b"]["silent"] is False
    await asyncio.sleep(0.45)  # past engine-a's ttl: forgotten
    assert [e["name"] for e in await store.live_engines()] == ["engine-b"]


async def test_online_is_the_sum_of_the_processes_still_reporting(store):
    assert await store.online_report("hub.a", 3, ttl=0.4) == 3
    assert await store.online_report("hub.b", 5, ttl=60) == 8
    assert await store.online_report("hub.a", 2, ttl=0.4) == 7  # a's newest count, not both
    await asyncio.sleep(0.5)  # hub.a stopped reporting (killed): its count expires
    assert await store.online_report("hub.b", 5, ttl=60) == 5
    assert await store.online_report("hub.b", 0, ttl=0) == 0  # a clean stop: gone at once


async def test_watchers_are_renewed_and_removed_in_one_call_and_expire_by_themselves(store):
    await store.spectators_enter("m1", "hub.a|1|Ann", ttl=60)
    await store.spectators_enter("m2", "hub.a|4|", ttl=0.3)  # its hub was killed: not renewed
    # One heartbeat's call: Bob and an anonymous watcher renewed, Ann (who closed) removed.
    await store.spectators_refresh(
        {"m1": ["hub.a|2|Bob"], "m3": ["hub.b|3|"]}, 60, {"m1": ["hub.a|1|Ann"]}
    )
    assert await store.spectators_of(["m1", "m2", "m3", "m4"]) == {
        "m1": ["hub.a|2|Bob"], "m2": ["hub.a|4|"], "m3": ["hub.b|3|"], "m4": [],
    }  # fmt: skip
    await asyncio.sleep(0.4)
    assert (await store.spectators_of(["m2"]))["m2"] == []
    await store.spectators_refresh({}, 60, {"m3": ["hub.b|3|"], "m5": ["hub.c|9|"]})
    assert await store.spectators_of(["m1", "m3"]) == {"m1": ["hub.a|2|Bob"], "m3": []}
