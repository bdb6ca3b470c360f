"""Redis Sentinel failover: REDIS_URL names three sentinels (`redis+sentinel://...`); the
primary is killed with -9 and the sentinels promote the replica. The store's clients and the
channel layer (its subscriptions too) follow to the new primary, and a Light Cycles match that
was running goes on streaming frames to its players, ends with the one result they saw, and
new quick plays start, all without restarting any process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from games.redis_client import async_client, channel_layer_hosts, sync_client
from tests.faults.checks import agreed_result, assert_database
from tests.faults.sentinel import (
    DOWN_AFTER_MS,
    FAILOVER_TIMEOUT_MS,
    SentinelCluster,
    sentinel_command,
)
from tests.matches import close_all, guest, private_match, start, steer, stop_tasks
from tests.players import Player
from tests.support import Stack

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        sentinel_command() is None,
        reason="redis-sentinel is not installed (`make test` installs it as root: "
        "apt-get install redis-sentinel)",
    ),
]

RECOVERY = 5  # seconds after the promotion by which everything works again (issue 14)
GAP = 0.5  # seconds without a frame that count as an interruption (frames come every 50 ms)


@pytest.fixture
def cluster(tmp_path):
    deployment = SentinelCluster(tmp_path)
    yield deployment
    deployment.stop()


def kill_primary(cluster: SentinelCluster) -> float:
    cluster.primary.stop(signal.SIGKILL)
    return time.monotonic()


async def until(predicate, timeout: float, what: str) -> float:
    """Poll without blocking the event loop; the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_the_store_clients_and_the_channel_layer_follow_a_failover(cluster):
    """A channel and a group subscribed before the failover get messages sent after it (the
    PubSub resubscribes on the connection it makes to the new primary), and the sync and async
    clients write to the new primary: each within RECOVERY s of the promotion."""
    sync = sync_client(cluster.url, timeout=0.5)
    aio = async_client(cluster.url, timeout=0.5)
    receiver = RedisPubSubChannelLayer(hosts=channel_layer_hosts(cluster.url), prefix="t:")
    sender = RedisPubSubChannelLayer(hosts=channel_layer_hosts(cluster.url), prefix="t:")
    try:
        channel = await receiver.new_channel()
        await receiver.group_add("watchers", channel)
        sync.set("before", "1")
        await sender.send(channel, {"type": "hello", "n": 0})
        assert (await asyncio.wait_for(receiver.receive(channel), 2))["n"] == 0

        old_port = cluster.primary_port
        killed = kill_primary(cluster)
        promoted = await asyncio.to_thread(cluster.wait_promoted, old_port, 15)
        assert cluster.master_address() == ("127.0.0.1", cluster.replica_port)

        async def group_message_arrives() -> dict:
            received = asyncio.ensure_future(receiver.receive(channel))
            n = 0
            while not received.done():
                n += 1
                with contextlib.suppress(Exception):  # a send during the failover may fail
                    await sender.group_send("watchers", {"type": "hello", "n": n})
                await asyncio.wait([received], timeout=0.1)
            return received.result()

        message = await asyncio.wait_for(group_message_arrives(), promoted + RECOVERY)
        layer_at = time.monotonic() - killed
        (shard,) = receiver._shards  # its subscriptions now live on the promoted replica
        assert shard._pubsub.connection.port == cluster.replica_port

        def sync_writes() -> bool:
            try:
                return bool(sync.set("after", "1"))
            except Exception:  # a call during the failover may fail
                return False

        await until(sync_writes, RECOVERY, "the sync client to write to the new primary")
        assert await aio.get("before") == b"1", "the replica had the data"
        await aio.set("after-async", "1")
        print(
            f"\nfailover: promoted {promoted:.2f} s after the kill; channel layer message "
            f"(n={message['n']}) {layer_at:.2f} s after"
        )
        assert layer_at < promoted + RECOVERY
    finally:
        await receiver.flush()
        await sender.flush()
        sync.close()
        await aio.aclose()


def resumed_at(player: Player, killed: float) -> float | None:
    """When frames flowed again after the interruption the kill caused: the first frame after
    the longest gap since the last frame before the kill, once 10 more frames have followed."""
    before = [at for at, _ in player.frames if at <= killed]
    times = [before[-1] if before else killed, *(at for at, _ in player.frames if at > killed)]
    if len(times) < 11:
        return None
    gap, index = max((b - a, i + 1) for i, (a, b) in enumerate(zip(times, times[1:], strict=False)))
    first = index if gap >= GAP else 1
    return times[first] if len(times) - first >= 10 else None


def tails(stack: Stack, cluster: SentinelCluster, players: list[Player], killed: float) -> str:
    """What a failure needs: each player's frames around the kill, each process's last lines."""
    lines = []
    for player in players:
        times = [round(at - killed, 2) for at, _ in player.frames if at >= killed - 0.2]
        gaps = [(a, b) for a, b in zip(times, times[1:], strict=False) if b - a > 0.3]
        lines.append(
            f"seat {player.seat}: {len(times)} frames since 0.2 s before the kill, gaps {gaps}, "
            f"over {player.over}, close {player.close_code}, errors {player.errors[-2:]}"
        )
    for process in [*stack.processes, *cluster.processes]:
        lines += [f"--- {process.name} (alive: {process.alive()})"]
        lines += process.output().splitlines()[-15:]
    return "\n".join(lines)


async def test_a_match_goes_on_through_a_sentinel_failover(cluster, stack_factory):
    """Alice (web-a), Bob (web-b) and a bot play; the primary is killed during the countdown.
    Within the failover time + RECOVERY s both get frames again; they stop steering, crash,
    and both get `over` with the one result the database holds; then a quick play streams.

    Why the countdown: no input reaches the engine until the failover is over, and a cycle
    riding blind for seconds crashes, which would end the match before there is anything to
    check. Nobody moves in the countdown and the first 1.2 s after it are clear ahead."""
    stack = stack_factory(
        cluster.url, GAMESERVER_CHECKPOINT_EVERY="10", GAMESERVER_RECONNECT_GRACE="10"
    )
    engines = [stack.engine("engine-a"), stack.engine("engine-b")]
    web_a = stack.web("web-a", server="uvicorn")
    web_b = stack.web("web-b", server="uvicorn")
    match_id, apis, seats = private_match(web_a, ["alice", "bob"], seats=3)
    alice = Player(apis["alice"].ws_url(), seats["alice"], web_a)
    bob = Player(web_b.replace("http://", "ws://") + "/ws/play/", seats["bob"], web_b)
    players = [alice, bob]
    readers = [await start(alice), await start(bob)]
    steering = {p.seat: asyncio.create_task(steer(p)) for p in players}
    killed = 0.0
    try:
        for player in players:
            await player.wait_until(
                lambda p=player: p.model is not None and p.model["tick"] >= 10,
                30,
                "the countdown of the match",
            )
        assert alice.model["phase"] == "countdown", alice.model["phase"]

        old_port = cluster.primary_port
        killed = kill_primary(cluster)
        promoted = await asyncio.to_thread(cluster.wait_promoted, old_port, 15)
        assert cluster.master_address() == ("127.0.0.1", cluster.replica_port)
        print(
            f"\nsentinels (down-after {DOWN_AFTER_MS} ms, failover-timeout "
            f"{FAILOVER_TIMEOUT_MS} ms) promoted the replica {promoted:.2f} s after the kill"
        )
        for player in players:
            await until(
                lambda p=player: resumed_at(p, killed) is not None,
                max(0.0, killed + promoted + RECOVERY - time.monotonic()) + 0.6,
                f"seat {player.seat}: frames again after the failover",
            )
            recovered = resumed_at(player, killed) - killed
            print(f"seat {player.seat}: frames again {recovered:.2f} s after the kill")
            assert recovered <= promoted + RECOVERY, f"seat {player.seat}: {recovered:.2f} s"
            assert player.close_code is None, f"seat {player.seat} closed {player.close_code}"

        await stop_tasks(*steering.values())  # both ride into a wall: the bot wins
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        for player in players:
            assert player.over is not None and player.close_code == 1000, (
                f"seat {player.seat}: over {player.over}, close {player.close_code}"
            )
        await asyncio.to_thread(assert_database, stack, {match_id: agreed_result(players)})

        carol = guest(web_b, "carol")
        asked = time.monotonic()
        quick = Player(carol.ws_url(), carol.post("/api/quickplay", {"game": "lightcycles"}), web_b)
        quick_reader = await start(quick)
        readers.append(quick_reader)
        players.append(quick)
        await quick.wait_until(lambda: len(quick.frames) >= 20, 15, "a quick play's frames")
        print(f"quick play after the failover: 20 frames {time.monotonic() - asked:.2f} s after")
        assert all(p.alive() for p in [*engines, *stack.webs]), "no process was restarted"
    except BaseException:
        print(tails(stack, cluster, players, killed))
        raise
    finally:
        await stop_tasks(*steering.values())
        await close_all(players, readers)
