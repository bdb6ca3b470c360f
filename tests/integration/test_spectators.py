"""Spectators on a live stack in Redis mode: a spectator's socket on another web process than
the players' gets the same frames at the same ticks, cannot send inputs, holds no seat and is
in no result; the players are told who watches; a spectator stream (SSE) on uvicorn and on
daphne starts with a keyframe, follows the ticks and ends with `over`, and after a reconnect
with Last-Event-ID starts again with a keyframe; a delayed view comes the delay later."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.checks import agreed_result, assert_database
from tests.matches import close_all, private_match, start, steer, stop_tasks
from tests.players import Player
from tests.sse import StreamReader, read_in_background, stop
from tests.support import Api

pytestmark = pytest.mark.timeout(120)

TICK_RATE = 20


def spectator(base: str, answer: dict) -> Player:
    return Player(base.replace("http://", "ws://") + "/ws/play/",
                  {"ticket": answer["ticket"], "seat": -1}, base)  # fmt: skip


def guest(base: str, name: str) -> Api:
    api = Api(base)
    api.post("/api/guest", {"name": name})
    return api


async def test_a_spectator_on_another_web_process_sees_what_the_players_see(
    redis_url, stack_factory
):
    stack = stack_factory(redis_url)
    stack.engine()
    web_a = stack.web("web-a", server="uvicorn")
    web_b = stack.web("web-b", server="daphne")
    match_id, apis, seats = private_match(web_a, ["alice", "bob"], seats=2)
    players = [Player(apis[name].ws_url(), seats[name], web_a) for name in apis]
    readers = [await start(player) for player in players]
    steering = [asyncio.create_task(steer(player)) for player in players]
    carol = guest(web_b, "Carol")
    status, refused = carol.request("POST", f"/api/matches/{match_id}/watch", {"code": "WRONG"})
    assert (status, refused["error"]["code"]) == (403, "private_match"), refused
    code = apis["alice"].get(f"/api/matches/{match_id}")["match"]["code"]
    answer = carol.post(f"/api/matches/{match_id}/watch", {"code": code})
    assert answer["role"] == "spectator" and answer["delay"] == 0
    watcher = spectator(web_b, answer)
    watching = await start(watcher)
    try:
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        await watcher.wait_until(watcher.playing, 10, "the spectator's first frames")
        assert watcher.welcome["role"] == "spectator" and watcher.welcome["seat"] is None
        assert watcher.frames[0][1]["key"], "a spectator starts with a keyframe"
        await watcher.send_input({"dir": "up"})
        await watcher.wait_until(lambda: watcher.errors, 5, "the refusal of an input")
        assert watcher.errors[0]["code"] == "spectator", watcher.errors
        await asyncio.sleep(1.5)
        # The same frames, tick for tick, as the players (the keyframes each joiner got alone
        # aside): the stream is the players'.
        seen = {f["tick"]: f for _, f in players[0].frames if not f["key"]}
        mine = {f["tick"]: f for _, f in watcher.frames if not f["key"]}
        common = sorted(set(seen) & set(mine))
        assert len(common) > TICK_RATE, (len(seen), len(mine))
        assert all(seen[t]["delta"] == mine[t]["delta"] for t in common)
        await players[0].wait_until(
            lambda: any(m["type"] == "spectators" and m["count"] == 1 for m in players[0].messages),
            5, "the players to be told someone watches",
        )  # fmt: skip
        told = [m for m in players[0].messages if m["type"] == "spectators"][-1]
        assert told["names"] == ["Carol"], told
        await stop_tasks(*steering)  # both ride into walls: the match ends
        await asyncio.wait_for(asyncio.gather(*readers, watching), 30)
        assert watcher.over is not None and watcher.close_code == 1000
        result = agreed_result([*players, watcher])
        assert sorted(s["seat"] for s in result["standings"]) == [0, 1]
        stored = apis["alice"].get(f"/api/matches/{match_id}")["match"]
        assert len(stored["players"]) == 2, stored["players"]
        await asyncio.to_thread(assert_database, stack, {match_id: result})
    finally:
        await stop_tasks(*steering)
        await close_all([*players, watcher], [*readers, watching])


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
async def test_a_stream_follows_the_ticks_and_resumes_with_a_keyframe(
    redis_url, stack_factory, server
):
    stack = stack_factory(redis_url)
    stack.engine()
    web = stack.web(server=server)
    alice, bob = guest(web, "Alice"), guest(web, "Bob")
    created = alice.post("/api/matches", {"game": "lightcycles", "private": False, "seats": 2})
    match_id = created["match"]["id"]
    joined = bob.post(f"/api/matches/{match_id}/join")
    players = [Player(alice.ws_url(), created, web), Player(bob.ws_url(), joined, web)]
    readers = [await start(player) for player in players]
    steering = [asyncio.create_task(steer(player)) for player in players]
    first = StreamReader(web, match_id)  # public: no session, no ticket
    reading = await read_in_background(first)
    again = StreamReader(web, match_id)
    rereading = None
    try:
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        await first.wait_for(lambda: len(first.frames()) > 2 * TICK_RATE, 10, "two seconds")
        assert first.status == 200
        frames = first.frames()
        assert frames[0].kind == "keyframe" and frames[0].data["key"], frames[:2]
        ticks = [int(e.id) for e in frames]
        assert ticks == sorted(set(ticks)), "ids are ticks, increasing"
        assert all(e.data["tick"] == int(e.id) for e in frames)
        rate = (len(frames) - 1) / (frames[-1].at - frames[0].at)
        assert 15 <= rate <= 25, f"{rate:.1f} frames/s"
        assert any(e.kind == "frame" and not e.data["key"] for e in frames), "deltas follow"

        await stop(reading)  # the EventSource drops; it comes back with the last id
        last = first.last_id
        rereading = await read_in_background(again, last_event_id=last)
        await again.wait_for(lambda: again.frames(), 10, "frames after the reconnect")
        resumed = again.frames()[0]
        assert resumed.kind == "keyframe" and int(resumed.id) > int(last), (resumed, last)

        await stop_tasks(*steering)
        await asyncio.wait_for(asyncio.gather(*readers), 30)
        await asyncio.wait_for(rereading, 10)
        assert again.ended and again.events[-1].kind == "over", again.events[-3:]
        assert again.events[-1].data["result"] == agreed_result(players)
    finally:
        await stop_tasks(*steering)
        await stop(reading)
        if rereading is not None:
            await stop(rereading)
        await close_all(players, readers)


async def test_a_private_match_streams_only_with_a_ticket_or_its_code(redis_url, stack_factory):
    stack = stack_factory(redis_url)
    stack.engine()
    web = stack.web(server="uvicorn")
    match_id, apis, seats = private_match(web, ["alice"], seats=2)
    players = [Player(apis["alice"].ws_url(), seats["alice"], web)]
    readers = [await start(players[0])]
    tasks = []
    try:
        await players[0].wait_until(players[0].playing, 30, "the match to start")
        refused = StreamReader(web, match_id)
        await refused.run()
        assert (refused.status, refused.body["error"]["code"]) == (403, "private_match")
        forged = StreamReader(web, match_id, headers={"Authorization": "Ticket " + "x" * 32})
        await forged.run()
        assert (forged.status, forged.body["error"]["code"]) == (401, "bad_ticket")
        carol = guest(web, "Carol")
        code = seats["alice"]["match"]["code"]
        answer = carol.post(f"/api/matches/{match_id}/watch", {"code": code})
        header = {"Authorization": "Ticket " + answer["ticket"]}
        ticketed = StreamReader(web, match_id, headers=header)
        tasks.append(await read_in_background(ticketed))
        await ticketed.wait_for(lambda: ticketed.frames(), 10, "frames with a ticket")
        used = StreamReader(web, match_id, headers=header)
        await used.run()
        assert used.status == 401, "a ticket opens one stream"
        # The code granted Carol's session: her EventSource needs no ticket (and reconnects).
        cookies = {c.name: c.value for c in carol.cookies}
        granted = StreamReader(web, match_id, cookies=cookies)
        tasks.append(await read_in_background(granted))
        await granted.wait_for(lambda: granted.frames(), 10, "frames with the grant")
        assert granted.status == 200
    finally:
        for task in tasks:
            await stop(task)
        await close_all(players, readers)


async def test_a_delayed_view_comes_the_delay_later(redis_url, stack_factory):
    delay = 1.5
    stack = stack_factory(redis_url, GAMESERVER_SPECTATOR_DELAYS=f"lightcycles={delay}")
    stack.engine()
    web = stack.web(server="uvicorn")
    match_id, apis, seats = private_match(web, ["alice", "bob"], seats=2)
    players = [Player(apis[name].ws_url(), seats[name], web) for name in apis]
    readers = [await start(player) for player in players]
    steering = [asyncio.create_task(steer(player)) for player in players]
    carol = guest(web, "Carol")
    answer = carol.post(f"/api/matches/{match_id}/watch", {"code": seats["alice"]["match"]["code"]})
    assert answer["delay"] == delay
    watcher = spectator(web, answer)
    watching = await start(watcher)
    try:
        await watcher.wait_until(lambda: len(watcher.frames) > 2 * TICK_RATE, 30, "frames")
        assert watcher.frames[0][1]["key"], "a delayed stream starts at a keyframe"
        arrived = {f["tick"]: at for at, f in players[0].frames}
        lags = [at - arrived[f["tick"]] for at, f in watcher.frames if f["tick"] in arrived]
        lags.sort()
        median = lags[len(lags) // 2]
        assert delay - 0.15 <= median <= delay + 0.3, f"median lag {median:.2f} s"
        newest_player = players[0].frames[-1][1]["tick"]
        newest_watched = watcher.frames[-1][1]["tick"]
        assert newest_player - newest_watched >= (delay - 0.2) * TICK_RATE
        await stop_tasks(*steering)
        await asyncio.wait_for(asyncio.gather(*readers, watching), 30)
        # At the end the rest of the delayed frames come at once, before `over`.
        assert watcher.frames[-1][1]["tick"] == players[0].frames[-1][1]["tick"]
        assert watcher.over == players[0].over
    finally:
        await stop_tasks(*steering)
        await close_all([*players, watcher], [*readers, watching])
