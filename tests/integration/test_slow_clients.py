"""Slow and dead clients on a live server: a socket that stops reading is sent nothing more
once its acks lag FLOW_LAG seconds, and is closed 4408 after SLOW_CLOSE more; one that reads
slowly gets a keyframe when it has caught up; one that goes silent loses its seat to the grace
period after SILENT_TIMEOUT. Meanwhile the good players' frames keep the tick rate.

Settings are short so the file runs fast; each test starts its own stack. Every match has bots
in its free seats, so that it outlasts the test whatever its people do: a stalled client's
cycle rides straight into a wall, and a match down to one cycle is over.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from typing import Any

import psutil
import pytest
import websockets

from games.loadtest.raw_websocket import upgrade_request, websocket_frames
from tests.matches import (
    assert_steady,
    close_all,
    models_by_tick,
    private_match,
    start,
    steer,
    stop_tasks,
)
from tests.players import Player
from tests.proxy import FaultyProxy

pytestmark = pytest.mark.timeout(180)

TICK_RATE = 20  # Light Cycles
FLOW_LAG = 2  # seconds of ticks a socket's acks may lag before frames stop
SLOW_CLOSE = 3  # seconds still behind before 4408
SILENT_TIMEOUT = 2
MARGIN = 2.0  # seconds of slack for a loaded two-core machine
CLOSE_SLOW = 4408
# A client that caught up gets frames again from the next keyframe: docs/PROTOCOL.md says at
# most a second later (keyframes come every second), plus slack. (The contract asked
# for a keyframe for the very tick the ack caught up, which would be within a tick or two.)
RESUME_WITHIN = 1.25
# RSS growth allowed for 20 stalled sockets: measured 12-24 KiB per socket (0.2-0.5 MiB in
# all) on uvicorn and daphne; a pymalloc arena is 1 MiB, so allow a few of them.
RSS_BOUND = 4 * 2**20


# A client that never reads: the handshake by hand, then nothing


class StalledClient:
    """Opens a game socket over a raw TCP socket, then never reads or sends again.

    No recv() after the handshake, so what the server sends stays unread in the kernel's
    receive buffer (the TCP window shrinks by every byte of it), and no ack ever goes out.
    `peek()` looks at the unread bytes with MSG_PEEK, which leaves them unread. The buffer
    holds RCVBUF bytes: several times what FLOW_LAG seconds of frames come to, so the error
    frame and the close frame that follow them can be seen.
    """

    RCVBUF = 256 * 1024

    def __init__(self, base: str, ticket: str):
        self.base = base
        self.ticket = ticket
        self.sock: socket.socket | None = None
        self.first_frame_at: float | None = None  # when peek() first saw a frame
        self.closed_at: float | None = None  # when peek() first saw the close frame
        self._buffer = bytearray(4 * self.RCVBUF)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        port = int(self.base.rsplit(":", 1)[1])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RCVBUF)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, upgrade_request(self.base, self.ticket))
        self.sock = sock
        deadline = time.monotonic() + 10
        while (end := self._unread().find(b"\r\n\r\n")) < 0:
            assert time.monotonic() < deadline, f"no handshake answer: {self._unread()!r}"
            await asyncio.sleep(0.005)
        head = sock.recv(end + 4)  # the HTTP answer only; the frames behind it stay unread
        assert head.startswith(b"HTTP/1.1 101"), head
        assert b"gameserver.v1.json" in head, head

    def _unread(self) -> bytes:
        try:
            size = self.sock.recv_into(self._buffer, len(self._buffer), socket.MSG_PEEK)
        except BlockingIOError:
            size = 0
        return bytes(self._buffer[:size])

    def peek(self) -> tuple[list[dict[str, Any]], int | None]:
        """The messages received so far, and the close code if the close frame came."""
        messages, close_code = [], None
        for opcode, payload in websocket_frames(self._unread()):
            if opcode == 0x1:
                messages.append(json.loads(payload))
            elif opcode == 0x8:
                close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
        now = time.monotonic()
        if self.first_frame_at is None and any(m["type"] == "frame" for m in messages):
            self.first_frame_at = now
        if close_code is not None and self.closed_at is None:
            self.closed_at = now
        return messages, close_code

    async def wait_closed(self, timeout: float) -> tuple[list[dict[str, Any]], int | None]:
        deadline = time.monotonic() + timeout
        while True:
            messages, close_code = self.peek()
            if close_code is not None or time.monotonic() > deadline:
                return messages, close_code
            await asyncio.sleep(0.05)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


# Tests


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
async def test_a_client_that_stops_reading_is_closed_4408_and_costs_the_server_little(
    stack_factory, server
):
    """Twenty clients that stop reading (and so never ack) open sockets over two seconds: four
    in the running match of two good players, sixteen in four more matches. Each is sent at
    most FLOW_LAG seconds of frames, then an error `slow_consumer` and close 4408 within
    FLOW_LAG + SLOW_CLOSE (+ margin) of its first frame; the web process's RSS grows by less
    than RSS_BOUND; the good players get every tick at the tick rate throughout."""
    stack = stack_factory(
        GAMESERVER_FLOW_LAG=str(FLOW_LAG),
        GAMESERVER_SLOW_CLOSE=str(SLOW_CLOSE),
        GAMESERVER_SILENT_TIMEOUT="60",  # silence is another test: here only lag may close
        GAMESERVER_MAX_SOCKETS_PER_IP="100",
        GAMESERVER_HTTP_LIMITS="0",  # 22 guests and 5 private matches from 127.0.0.1
    )
    web = stack.web(server=server)
    pid = stack.webs[-1].proc.pid
    names = ["alice", "bob"] + [f"stall-a{i}" for i in range(4)]
    _, apis, seats = private_match(web, names, seats=8)  # two bots
    good = [Player(apis[n].ws_url(), seats[n], web) for n in names[:2]]
    stalled = [StalledClient(web, seats[n]["ticket"]) for n in names[2:]]
    for m in "bcde":  # four people who will stall, four bots
        names = [f"stall-{m}{i}" for i in range(4)]
        _, apis, seats = private_match(web, names, seats=8)
        stalled += [StalledClient(web, seats[n]["ticket"]) for n in names]
    readers = [await start(p) for p in good]
    steering = [asyncio.create_task(steer(p)) for p in good]
    samples: list[int] = []

    async def sample_rss() -> None:
        while True:
            samples.append(rss(pid))
            await asyncio.sleep(0.2)

    try:
        for player in good:
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(1)  # a second of play: sockets, frames and encoders are warm
        before = rss(pid)
        sampler = asyncio.create_task(sample_rss())
        stall_start = time.monotonic()
        watching = []
        for client in stalled:
            await client.open()
            watching.append(asyncio.create_task(client.wait_closed(30)))
            await asyncio.sleep(0.1)
        outcomes = await asyncio.gather(*watching)
        stall_end = time.monotonic()
        await asyncio.sleep(1)
        after = rss(pid)
        await stop_tasks(sampler)
        peak = max(samples)
        sent = [sum(m["type"] == "frame" for m in messages) for messages, _ in outcomes]
        waits = sorted(
            c.closed_at - c.first_frame_at
            for c in stalled
            if None not in (c.closed_at, c.first_frame_at)
        )
        print(
            f"\n{server}: RSS before {before / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB, "
            f"after {after / 2**20:.1f} MiB: {(after - before) / len(stalled) / 1024:.0f} KiB "
            f"per stalled client (peak {(peak - before) / len(stalled) / 1024:.0f} KiB); "
            f"closed {waits[0]:.2f}-{waits[-1]:.2f} s after their first frame, having been "
            f"sent {min(sent)}-{max(sent)} frames"
        )

        for client, (messages, close_code) in zip(stalled, outcomes, strict=True):
            kinds = [m["type"] for m in messages if m["type"] != "lobby"]  # while it waited
            assert close_code == CLOSE_SLOW, (close_code, kinds[-3:], messages[-1:])
            assert messages[-1]["type"] == "error", kinds
            assert messages[-1]["code"] == "slow_consumer", messages[-1]
            frames = [m for m in messages if m["type"] == "frame"]
            assert kinds == ["welcome"] + ["frame"] * len(frames) + ["error"], kinds
            assert 1 <= len(frames) <= FLOW_LAG * TICK_RATE + 3, f"{len(frames)} frames unacked"
            assert frames[0]["key"], "the first frame of a socket is a keyframe"
            ticks = [f["tick"] for f in frames]
            assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), ticks
            waited = client.closed_at - client.first_frame_at
            assert SLOW_CLOSE - 0.5 <= waited <= FLOW_LAG + SLOW_CLOSE + MARGIN, (
                f"closed {waited:.2f} s after its first frame"
            )

        assert after - before < RSS_BOUND, f"RSS grew {(after - before) / 2**20:.1f} MiB"
        assert peak - before < RSS_BOUND, f"RSS peaked {(peak - before) / 2**20:.1f} MiB up"
        for player in good:
            assert player.over is None and player.close_code is None and not player.errors
            assert_steady(player, stall_start, stall_end)
        assert all(p.alive() for p in stack.processes), "a server process died"
    finally:
        for client in stalled:
            client.close()
        await stop_tasks(*steering)
        await close_all(good, readers)


class ThrottledSocket:
    """A websockets connection whose messages are handed over `delay` seconds apart: while
    they wait, its queue fills and websockets stops reading the TCP socket."""

    def __init__(self, ws: Any):
        self.ws = ws
        self.delay = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)

    def __aiter__(self) -> ThrottledSocket:
        return self

    async def __anext__(self) -> str | bytes:
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            return await self.ws.recv()
        except websockets.ConnectionClosedOK:
            raise StopAsyncIteration from None


class ThrottledPlayer(Player):
    """Reads at 1/delay frames a second (Player acks what it has read on a 250 ms timer,
    frames or not), recording every ack it sends."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.acks: list[tuple[float, int]] = []  # (wall clock ms, tick) of every ack sent

    async def connect(self) -> None:
        await super().connect()
        self.ws = ThrottledSocket(self.ws)

    async def send(self, message: dict[str, Any]) -> None:
        if "ack" in message:
            self.acks.append((time.time() * 1000, message["ack"]))
        await super().send(message)

    def acked_before(self, wall_ms: float) -> int:
        return max((tick for at, tick in self.acks if at < wall_ms), default=-1)


def resumption(frames: list[tuple[float, dict[str, Any]]]) -> int | None:
    """The index of the first frame after a gap in the ticks, if there is one."""
    return next(
        (i for i in range(1, len(frames)) if frames[i][1]["tick"] != frames[i - 1][1]["tick"] + 1),
        None,
    )


async def test_a_slow_reader_gets_no_deltas_while_behind_then_a_keyframe_that_agrees(
    stack_factory,
):
    """Carol reads 5 frames a second of the 20 sent, acking what she has read. Once her acks lag
    more than FLOW_LAG seconds the server sends her nothing; when she has caught up (read and
    acked all she was sent) a keyframe comes, and from it on her model equals Alice's, tick by
    tick."""
    stack = stack_factory(
        GAMESERVER_FLOW_LAG=str(FLOW_LAG),
        GAMESERVER_SLOW_CLOSE="15",  # time to read the backlog at 5 frames/s and catch up
    )
    web = stack.web(server="uvicorn")
    _, apis, seats = private_match(web, ["alice", "carol"], seats=5)  # three bots
    alice = Player(apis["alice"].ws_url(), seats["alice"], web)
    carol = ThrottledPlayer(apis["carol"].ws_url(), seats["carol"], web)
    readers = [await start(alice), await start(carol)]
    carol.ws.delay = 0.2
    tasks = [asyncio.create_task(steer(alice))]
    try:
        await carol.wait_until(lambda: carol.frames, 30, "a first frame")
        await asyncio.sleep(6)  # her acks lag more each second: 20 ticks sent, 5 read
        released = time.monotonic()
        carol.ws.delay = 0.0  # reads the rest of her backlog at once
        await carol.wait_until(
            lambda: resumption(carol.frames) is not None, 5, "frames after catching up"
        )
        await asyncio.sleep(2)
        assert carol.close_code is None and not carol.errors, carol.messages[-2:]
        assert alice.over is None, "the match ended too early to tell"
    finally:
        await stop_tasks(*tasks)
        await close_all([alice, carol], readers)

    ticks = [f["tick"] for _, f in carol.frames]
    gap = resumption(carol.frames)
    stopped, resumed = carol.frames[gap - 1][1], carol.frames[gap][1]
    caught_up = next(at for at, tick in carol.acks if tick >= stopped["tick"])
    print(
        f"\ncarol: frames stopped after tick {stopped['tick']} (acked "
        f"{carol.acked_before(stopped['sent'])}), resumed at tick {resumed['tick']} with a "
        f"keyframe sent {resumed['sent'] - caught_up:.0f} ms after her catching-up ack"
    )
    assert resumed["key"], "frames resume with a keyframe"
    assert carol.frames[gap][0] > released, "frames resumed before she had caught up"
    assert resumed["tick"] > stopped["tick"] + 1, "deltas were skipped, not queued"
    lag_at_stop = stopped["tick"] - carol.acked_before(stopped["sent"])
    assert FLOW_LAG * TICK_RATE - 3 <= lag_at_stop <= FLOW_LAG * TICK_RATE + 1, lag_at_stop
    assert 0 <= resumed["sent"] - caught_up < RESUME_WITHIN * 1000, "resumed too late"
    after = ticks[gap:]
    assert after == list(range(after[0], after[0] + len(after))), "no gap once caught up"

    carol_models, alice_models = models_by_tick(carol.frames), models_by_tick(alice.frames)
    common = [t for t in after if t in alice_models]
    assert len(common) >= TICK_RATE, f"only {len(common)} ticks to compare"
    for tick in common:
        assert carol_models[tick] == alice_models[tick], f"the models differ at tick {tick}"


async def test_a_silent_connection_loses_its_seat_after_the_silent_timeout(stack_factory):
    """Bob's socket goes through a proxy that stops forwarding without closing anything: the
    server hears nothing from him, and within SILENT_TIMEOUT (+ margin) Alice's frames show
    his seat disconnected, that is, in its grace period. Carol reads every frame but never
    sends a thing: she is told `silent` and closed 4408 as long after she connected."""
    stack = stack_factory(
        GAMESERVER_SILENT_TIMEOUT=str(SILENT_TIMEOUT),
        GAMESERVER_FLOW_LAG="20",  # so that Carol's missing acks cannot be why she is closed
        GAMESERVER_RECONNECT_GRACE="60",
    )
    web = stack.web(server="uvicorn")
    proxy = FaultyProxy(int(web.rsplit(":", 1)[1]))
    _, apis, seats = private_match(web, ["alice", "bob", "carol"], seats=5)  # two bots
    alice = Player(apis["alice"].ws_url(), seats["alice"], web)
    bob = Player(proxy.ws_url, seats["bob"], proxy.base)
    carol = Player(apis["carol"].ws_url(), seats["carol"], web)
    carol.acking = False
    readers = [await start(alice), await start(bob)]
    readers.append(await start(carol))
    carol_connected = time.monotonic()
    steering = {p.seat: asyncio.create_task(steer(p)) for p in (alice, bob)}
    try:
        await carol.wait_until(lambda: carol.close_code, SILENT_TIMEOUT + MARGIN + 3, "a close")
        carol_closed = time.monotonic() - carol_connected
        assert carol.close_code == CLOSE_SLOW, (carol.close_code, carol.messages[-2:])
        assert [e["code"] for e in carol.errors] == ["silent"], carol.errors
        assert carol.messages[-1] is carol.errors[-1], "the error is the last message"
        assert SILENT_TIMEOUT - 0.1 <= carol_closed <= SILENT_TIMEOUT + MARGIN, carol_closed

        for player in (alice, bob):
            await player.wait_until(player.playing, 30, "the match to start")
        await asyncio.sleep(1)
        assert alice.model["players"][bob.seat]["connected"] is True
        assert alice.model["players"][carol.seat]["connected"] is False
        await stop_tasks(steering.pop(bob.seat))
        frozen_at = time.monotonic()
        proxy.freeze()
        await alice.wait_until(
            lambda: not alice.model["players"][bob.seat]["connected"],
            SILENT_TIMEOUT + MARGIN + 3,
            "Bob's seat to show disconnected",
        )
        detected = time.monotonic() - frozen_at
        print(
            f"\nsilent sockets: Carol closed {carol_closed:.2f} s after connecting; Bob's seat "
            f"dropped {detected:.2f} s after the freeze"
        )
        assert alice.over is None, "the match ended too early to tell"
        # Bob's last ack went out at most 250 ms before the freeze.
        assert SILENT_TIMEOUT - 0.35 <= detected <= SILENT_TIMEOUT + MARGIN, detected
        assert alice.close_code is None and not alice.errors
    finally:
        await stop_tasks(*steering.values())
        proxy.close()
        await close_all([alice, bob, carol], readers)
