"""Drop is not leave, on a live server: a player whose connection drops keeps the seat for the
reconnect grace and gets it back with a new ticket (same seat, same score, in control again);
after the grace the seat is gone (ticket 410, socket 4410, the cycle crashed); and a seat has
one socket: a second one replaces the first (4409), also from another web process."""

from __future__ import annotations

import asyncio
import copy
import time

import pytest

from tests.matches import (
    assert_steady,
    close_all,
    models_by_tick,
    private_match,
    start,
    steer,
    stop_tasks,
    turn_and_watch,
)
from tests.players import Player
from tests.proxy import FaultyProxy
from tests.support import Api

pytestmark = pytest.mark.timeout(120)

GRACE = 3  # seconds a dropped seat waits
MARGIN = 2.0  # seconds of slack for a loaded two-core machine
CLOSE_REPLACED, CLOSE_SEAT_GONE = 4409, 4410


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def same_session(api: Api, base: str) -> Api:
    """The same browser session (cookies) talking to another web process."""
    twin = copy.copy(api)
    twin.base = base
    return twin


@pytest.mark.parametrize("drop", ["close", "cut"])
async def test_a_dropped_player_gets_the_seat_back_within_the_grace(stack_factory, drop):
    """Bob's connection drops (he closes his socket, or the network resets it). Alice sees his
    seat disconnected; Bob gets a new ticket and reconnects: welcome (with the grace), then a
    keyframe with the same seat, his score carried on, connected again for Alice, and his
    input turns his cycle."""
    stack = stack_factory(GAMESERVER_RECONNECT_GRACE=str(GRACE))
    web = stack.web(server="uvicorn")
    proxy = FaultyProxy(port_of(web))
    match_id, apis, seats = private_match(web, ["alice", "bob"], seats=4)
    alice = Player(apis["alice"].ws_url(), seats["alice"], web)
    bob = Player(proxy.ws_url, seats["bob"], proxy.base)
    readers = [await start(alice), await start(bob)]
    steering = {p.seat: asyncio.create_task(steer(p)) for p in (alice, bob)}
    try:
        for player in (alice, bob):
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(1)
        assert bob.welcome["grace"] == GRACE and bob.welcome["seat"] == seats["bob"]["seat"]
        assert alice.model["players"][bob.seat]["connected"] is True

        await stop_tasks(steering.pop(bob.seat))
        score_before = alice.model["players"][bob.seat]["score"]
        if drop == "close":
            await bob.ws.close()
        else:
            proxy.cut()
        await asyncio.wait_for(readers.pop(), 5)
        await alice.wait_until(
            lambda: not alice.model["players"][bob.seat]["connected"], 3, "Bob shown dropped"
        )
        assert alice.model["players"][bob.seat]["alive"], "a bot steers an absent cycle"

        reconnecting = time.monotonic()
        ticket = apis["bob"].post(f"/api/matches/{match_id}/ticket")
        assert ticket["seat"] == bob.seat
        seen = len(bob.messages)
        await bob.reconnect(ticket["ticket"])
        readers.append(asyncio.create_task(bob.run()))
        await bob.wait_until(lambda: bob.model is not None, 5, "a keyframe after reconnecting")
        resumed = time.monotonic() - reconnecting
        steering[bob.seat] = asyncio.create_task(steer(bob))  # the bot no longer does
        print(f"\n{drop}: reconnect (ticket + socket) to first keyframe {resumed * 1000:.0f} ms")

        welcome, keyframe = bob.messages[seen], bob.messages[seen + 1]
        assert welcome["type"] == "welcome" and welcome["seat"] == bob.seat, welcome
        assert welcome["grace"] == GRACE, welcome
        assert keyframe["type"] == "frame" and keyframe["key"], keyframe
        mine = keyframe["state"]["players"][bob.seat]
        assert mine["alive"] and mine["score"] >= score_before, (mine, score_before)
        await alice.wait_until(lambda: alice.model["tick"] >= keyframe["tick"], 2, "the tick")
        assert keyframe["state"] == models_by_tick(alice.frames)[keyframe["tick"]], (
            "the reconnect keyframe is not the state Alice has at that tick"
        )
        assert resumed < 2, f"{resumed:.2f} s from reconnecting to the first keyframe"
        await alice.wait_until(
            lambda: alice.model["players"][bob.seat]["connected"], 2, "Bob shown connected"
        )

        await turn_and_watch(bob, alice, steering.pop(bob.seat))
        assert alice.over is None and bob.close_code is None and not bob.errors
    finally:
        await stop_tasks(*steering.values())
        await close_all([alice, bob], readers)
        proxy.close()


async def test_after_the_grace_the_seat_is_gone(stack_factory):
    """Bob drops and does not come back within the grace: his cycle crashes, the ticket call
    answers 410 `seat_gone`, and a ticket he got during the grace opens a socket that is told
    `seat_gone` and closed 4410."""
    stack = stack_factory(GAMESERVER_RECONNECT_GRACE=str(GRACE))
    web = stack.web(server="uvicorn")
    match_id, apis, seats = private_match(web, ["alice", "bob"], seats=4)
    alice = Player(apis["alice"].ws_url(), seats["alice"], web)
    bob = Player(apis["bob"].ws_url(), seats["bob"], web)
    readers = [await start(alice), await start(bob)]
    steering = {p.seat: asyncio.create_task(steer(p)) for p in (alice, bob)}
    late = None
    try:
        for player in (alice, bob):
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(1)
        await stop_tasks(steering.pop(bob.seat))
        dropped = time.monotonic()
        await bob.ws.close()
        await alice.wait_until(
            lambda: not alice.model["players"][bob.seat]["connected"], 3, "Bob shown dropped"
        )
        spare = apis["bob"].post(f"/api/matches/{match_id}/ticket")["ticket"]  # within grace

        await alice.wait_until(
            lambda: not alice.model["players"][bob.seat]["alive"],
            GRACE + MARGIN,
            "Bob's cycle to crash when the grace ends",
        )
        crashed = time.monotonic() - dropped
        print(f"\nseat given up {crashed:.2f} s after the drop (grace {GRACE} s)")
        assert GRACE - 0.5 <= crashed <= GRACE + MARGIN, "crashed by the grace, not before"
        assert alice.over is None, "the match ended too early to tell"

        status, answer = apis["bob"].request("POST", f"/api/matches/{match_id}/ticket", {})
        assert (status, answer["error"]["code"]) == (410, "seat_gone"), (status, answer)

        late = Player(apis["bob"].ws_url(), {"ticket": spare, "seat": bob.seat}, web)
        readers.append(await start(late))
        await asyncio.wait_for(readers[-1], 5)
        print(f"late socket: {[m['type'] for m in late.messages]}, close {late.close_code}")
        assert late.close_code == CLOSE_SEAT_GONE, (late.close_code, late.messages)
        assert [e["code"] for e in late.errors] == ["seat_gone"], late.messages
        assert late.messages[-1] is late.errors[-1], "the error is the last message"
        assert not late.frames, "a gone seat is sent no frames"
        assert alice.close_code is None and not alice.errors
    finally:
        await stop_tasks(*steering.values())
        await close_all([p for p in (alice, bob, late) if p is not None], readers)


@pytest.mark.parametrize("layout", ["one web process", "two web processes on Redis"])
async def test_a_second_socket_for_a_seat_replaces_the_first(request, stack_factory, layout):
    """Bob opens a second socket for his seat (another tab, or another device on another web
    process) while the first is open: the first gets `replaced` and 4409, the second plays on
    (frames at the tick rate, his turns obeyed) and Alice never sees his seat disconnected."""
    if layout == "one web process":
        stack = stack_factory()
        web1 = web2 = stack.web(server="uvicorn")
    else:
        stack = stack_factory(request.getfixturevalue("redis_url"))
        stack.engine()
        web1, web2 = stack.web("web1", server="uvicorn"), stack.web("web2", server="uvicorn")
    match_id, apis, seats = private_match(web1, ["alice", "bob"], seats=4)
    alice = Player(apis["alice"].ws_url(), seats["alice"], web1)
    first = Player(apis["bob"].ws_url(), seats["bob"], web1)
    readers = [await start(alice), await start(first)]
    steering = [asyncio.create_task(steer(alice))]
    second = None
    try:
        for player in (alice, first):
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(0.5)
        bob_there = same_session(apis["bob"], web2)
        again = bob_there.post(f"/api/matches/{match_id}/ticket")
        second = Player(bob_there.ws_url(), again, web2)
        opened = time.monotonic()
        readers.append(await start(second))

        await asyncio.wait_for(readers[1], 5)
        replaced = time.monotonic()
        print(f"\n{layout}: first socket closed {(replaced - opened) * 1000:.0f} ms later")
        assert first.close_code == CLOSE_REPLACED, (first.close_code, first.messages[-2:])
        assert [e["code"] for e in first.errors] == ["replaced"], first.errors
        assert first.messages[-1] is first.errors[-1], "the error is the last message"

        assert second.welcome["seat"] == first.seat
        steering.append(asyncio.create_task(steer(second)))
        await asyncio.sleep(2)
        assert second.frames[0][1]["key"], "the first frame of a socket is a keyframe"
        assert second.close_code is None and not second.errors, second.messages[-2:]
        assert_steady(second, replaced, time.monotonic())
        assert_steady(alice, replaced, time.monotonic())
        models = models_by_tick(alice.frames)
        shown = [
            f["tick"]
            for at, f in alice.frames
            if at >= opened and not models[f["tick"]]["players"][first.seat]["connected"]
        ]
        assert not shown, f"Alice saw Bob's seat disconnected at ticks {shown}"

        await turn_and_watch(second, alice, steering.pop())
        assert alice.over is None and alice.close_code is None
    finally:
        await stop_tasks(*steering)
        await close_all([p for p in (alice, first, second) if p is not None], readers)
