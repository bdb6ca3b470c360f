"""Slow spectator streams (SSE) on uvicorn and on daphne. An event stream cannot ack, so the
server takes the client's TCP acks for them (games/stream.py): a reader that stops reading is
sent nothing more once FLOW_LAG seconds of frames are untaken, and is hung up on SLOW_CLOSE
later, with the web process's memory unchanged and every other stream and player getting every
tick; a reader that falls behind and catches up gets nothing until the next keyframe.

The readers are bare sockets with an 8 KiB receive buffer (tests/sse.py RawStream): a reader
that stops reading closes its TCP window within a second or two of frames. Each test starts
its own stack, without Redis (the embedded engine), with short settings.
"""

from __future__ import annotations

import asyncio
import time

import psutil
import pytest

from tests.matches import (
    assert_steady,
    close_all,
    guest,
    models_by_tick,
    private_match,
    start,
    steer,
    stop_tasks,
)
from tests.players import Player
from tests.sse import RawStream, StreamReader, read_in_background, stop

pytestmark = pytest.mark.timeout(120)

TICK_RATE = 20  # Light Cycles
FLOW_LAG = 1  # seconds of frames a stream may leave untaken before it is sent nothing more
SLOW_CLOSE = 3  # seconds still behind before it is hung up
MARGIN = 2.0  # seconds of slack for a loaded two-core machine
STALLED = 8
# RSS growth allowed for STALLED stalled streams, the bound test_slow_clients.py allows twenty
# stalled sockets: what they were sent stays in the kernel's buffers (or is dropped), not here.
RSS_BOUND = 4 * 2**20
RESUME_WITHIN = 2.0 + MARGIN  # the once-a-second catch-up check, then the next keyframe


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def open_ports(pid: int, port: int) -> set[int]:
    """The client ports of the process's open connections on `port`: a connection the server
    hung up on is gone from it at once, whatever the kernel still has to deliver."""
    found = psutil.Process(pid).net_connections("tcp")
    return {c.raddr.port for c in found if c.raddr and c.laddr.port == port}


def watch_tickets(base: str, match_id: str, code: str, count: int) -> list[dict[str, str]]:
    """Authorization headers of `count` spectator tickets (a ticket opens one stream)."""
    carol = guest(base, "Carol")
    answers = [carol.post(f"/api/matches/{match_id}/watch", {"code": code}) for _ in range(count)]
    return [{"Authorization": "Ticket " + a["ticket"]} for a in answers]


def tick_at(reader: StreamReader, when: float) -> int:
    """The newest tick the reader had at `when`."""
    return max(int(e.id) for e in reader.frames() if e.at <= when)


def arrival(reader: StreamReader, tick: int) -> float:
    return next(e.at for e in reader.frames() if int(e.id) >= tick)


def assert_every_tick(frames: list, what: str) -> None:
    ticks = [int(e.id) for e in frames]
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), f"{what}: ticks {ticks}"


async def play(web: str, names: list[str]) -> tuple[str, str, list[Player], list, list]:
    """A private match of eight seats (the free ones bots), its people steering clear."""
    match_id, apis, seats = private_match(web, names, seats=8)
    players = [Player(apis[n].ws_url(), seats[n], web) for n in names]
    readers = [await start(p) for p in players]
    steering = [asyncio.create_task(steer(p)) for p in players]
    for player in players:
        await player.wait_until(player.playing, 30, "the match to start")
    return match_id, seats[names[0]]["match"]["code"], players, readers, steering


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
async def test_a_stream_that_stops_reading_is_held_then_hung_up(stack_factory, server):
    """Eight streams that never read anything: each is sent frames until FLOW_LAG seconds of
    them are untaken, then nothing, and SLOW_CLOSE later the server writes `error`
    `slow_consumer`, ends the response and closes the connection (gone from the process at
    once; the kernel delivers the rest when the client reads). The web process's RSS grows by
    less than RSS_BOUND; a stream that reads, and the players, get every tick throughout."""
    stack = stack_factory(
        GAMESERVER_FLOW_LAG=str(FLOW_LAG),
        GAMESERVER_SLOW_CLOSE=str(SLOW_CLOSE),
        GAMESERVER_MAX_SPECTATORS_PER_IP="100",
        GAMESERVER_HTTP_LIMITS="0",
    )
    web = stack.web(server=server)
    pid, port = stack.webs[-1].proc.pid, int(web.rsplit(":", 1)[1])
    match_id, code, players, readers, steering = await play(web, ["alice", "bob"])
    good_header, *stalled_headers = watch_tickets(web, match_id, code, STALLED + 1)
    good = StreamReader(web, match_id, headers=good_header)
    reading = await read_in_background(good)
    stalled = [RawStream(web, match_id, headers=h) for h in stalled_headers]
    seen_open: set[RawStream] = set()  # the server has accepted it
    closed_at: dict[RawStream, float] = {}
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(rss(pid))
            ports = await asyncio.to_thread(open_ports, pid, port)
            now = time.monotonic()
            for client in stalled:
                if client.sock is None or client in closed_at:
                    continue
                if client.local_port in ports:
                    seen_open.add(client)
                elif client in seen_open:
                    closed_at[client] = now
            await asyncio.sleep(0.1)

    sampler = None
    try:
        await good.wait_for(lambda: len(good.frames()) > TICK_RATE, 10, "a second of frames")
        before = rss(pid)
        stall_start = time.monotonic()
        sampler = asyncio.create_task(sample())
        for client in stalled:
            client.reading = False  # not even the response's head
            await client.open()
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 2 + FLOW_LAG + SLOW_CLOSE + 1 + MARGIN + 3
        while len(closed_at) < len(stalled) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stall_end = time.monotonic()
        await asyncio.sleep(1)
        after = rss(pid)
        await stop_tasks(sampler)
        peak = max(samples)
        assert len(closed_at) == len(stalled), (
            f"{len(stalled) - len(closed_at)} of {len(stalled)} stalled streams still open "
            f"{stall_end - stall_start:.1f} s after they stopped reading"
        )
        for client in stalled:  # now they read what the kernel kept for them
            client.reading = True
        for client in stalled:
            await client.wait_for(lambda c=client: c.eof, 10, "the end of the connection")

        silences, lags = [], []
        for client in stalled:
            frames = client.frames()
            kinds = [e.kind for e in client.events if e.kind != "spectators"]
            assert kinds == [e.kind for e in frames] + ["error"], kinds[-3:]
            assert client.events[-1].data["code"] == "slow_consumer", client.events[-1]
            assert client.finished, "the response was not ended before the hang-up"
            assert frames[0].kind == "keyframe", frames[:1]
            assert_every_tick(frames, "a stalled stream before it was held")
            last = int(frames[-1].id)
            closed_tick = tick_at(good, closed_at[client])
            # Nothing was written for the SLOW_CLOSE seconds it was held.
            silences.append((closed_tick - last) / TICK_RATE)
            lags.append(closed_at[client] - arrival(good, last + 1))
        print(
            f"\n{server}: RSS before {before / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB, "
            f"after {after / 2**20:.1f} MiB; stalled streams held for "
            f"{min(silences):.2f}-{max(silences):.2f} s of ticks, hung up "
            f"{min(lags):.2f}-{max(lags):.2f} s after they fell behind"
        )
        for silence, lag in zip(silences, lags, strict=True):
            assert silence >= SLOW_CLOSE - 0.5, f"frames written until {silence:.2f} s before"
            assert SLOW_CLOSE - 0.2 <= lag <= SLOW_CLOSE + 1 + MARGIN, f"hung up {lag:.2f} s late"

        assert after - before < RSS_BOUND, f"RSS grew {(after - before) / 2**20:.1f} MiB"
        assert peak - before < RSS_BOUND, f"RSS peaked {(peak - before) / 2**20:.1f} MiB up"
        watched = [e for e in good.frames() if stall_start <= e.at <= stall_end]
        assert_every_tick(good.frames(), "the stream that reads")
        rate = (len(watched) - 1) / (stall_end - stall_start)
        assert 15 < rate < 25, f"the stream that reads: {rate:.1f} frames/s"
        assert not good.of("error", "over"), good.events[-2:]
        for player in players:
            assert player.over is None and player.close_code is None and not player.errors
            assert_steady(player, stall_start, stall_end)
        assert all(p.alive() for p in stack.processes), "a server process died"
    finally:
        if sampler is not None:
            await stop_tasks(sampler)
        for client in stalled:
            await client.close()
        await stop(reading)
        await stop_tasks(*steering)
        await close_all(players, readers)


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
async def test_a_stream_that_falls_behind_resumes_at_a_keyframe(stack_factory, server):
    """A stream stops reading for five seconds, then reads on. It is sent nothing once it is
    FLOW_LAG behind; when it has taken all it was sent, frames start again with a keyframe
    (never a delta after the gap), within RESUME_WITHIN, and from it on the stream's model is
    the players' tick by tick."""
    stack = stack_factory(
        GAMESERVER_FLOW_LAG=str(FLOW_LAG),
        GAMESERVER_SLOW_CLOSE="12",  # it catches up long before
        GAMESERVER_HTTP_LIMITS="0",
    )
    web = stack.web(server=server)
    match_id, code, players, readers, steering = await play(web, ["alice", "bob"])
    (header,) = watch_tickets(web, match_id, code, 1)
    client = RawStream(web, match_id, headers=header)
    try:
        await client.open()
        await client.wait_for(lambda: len(client.frames()) > TICK_RATE, 10, "a second of frames")
        client.reading = False
        await asyncio.sleep(5)
        released = time.monotonic()
        client.reading = True

        def resumed() -> int | None:
            ticks = [int(e.id) for e in client.frames()]
            return next((i for i in range(1, len(ticks)) if ticks[i] != ticks[i - 1] + 1), None)

        await client.wait_for(lambda: resumed() is not None, 10, "frames after catching up")
        await asyncio.sleep(2)
        assert players[0].over is None, "the match ended too early to tell"
    finally:
        await client.close()
        await stop_tasks(*steering)
        await close_all(players, readers)

    frames = client.frames()
    gap = resumed()
    stopped, again = frames[gap - 1], frames[gap]
    print(
        f"\n{server}: frames stopped after tick {stopped.id}, resumed at tick {again.id} with "
        f"a keyframe {again.at - released:.2f} s after the reader read on"
    )
    assert not client.of("error", "over"), client.events[-2:]
    assert again.kind == "keyframe" and again.data["key"], "frames resume with a keyframe"
    assert int(again.id) > int(stopped.id) + 1, "deltas were skipped, not queued"
    assert again.at > released, "frames resumed before it read on"
    assert again.at - released < RESUME_WITHIN, f"resumed {again.at - released:.2f} s late"
    held = [e for e in frames[:gap] if e.at < released]
    assert (released - held[-1].at) > 2, "it was never held: the test proves nothing"
    assert_every_tick(frames[gap:], "once caught up")
    for earlier, later in zip(frames, frames[1:], strict=False):
        if int(later.id) != int(earlier.id) + 1:
            assert later.kind == "keyframe", f"a delta after a gap: {earlier} then {later}"

    watched = models_by_tick([(e.at, e.data) for e in frames[gap:]])
    played = models_by_tick(players[0].frames)
    common = [t for t in watched if t in played]
    assert len(common) >= TICK_RATE, f"only {len(common)} ticks to compare"
    for tick in common:
        assert watched[tick] == played[tick], f"the models differ at tick {tick}"
