"""Fuzz live matches: 20,000 distinct random and mutated frames (garbage.py), each thrown over
both sub-protocols, while two well-behaved players play. Nothing may crash, nothing may close
with 1011, every bad frame gets its error frame, in order, the good players keep their tick
rate, and every match's result is written.

A Light Cycles match lasts only as long as its good players stay out of the walls and each
other's trails; on a loaded machine that can be shorter than the throw. Then a new match takes
the rest of the pool, from the first frame the server had not answered yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
from typing import Any

import pytest
import websockets
import websockets.sync.client

from games.protocol import (
    CODECS,
    SUBPROTOCOL_JSON,
    SUBPROTOCOL_MSGPACK,
    TICKET_PREFIX,
    Auth,
    Input,
    ProtocolError,
)
from games.rules import get_game
from games.rules.base import InvalidInput
from tests.matches import safe_heading
from tests.players import Player
from tests.security.garbage import garbage
from tests.security.sockets import decode, encode
from tests.support import Api

pytestmark = [
    pytest.mark.timeout(180),  # it takes about 30 s; eight short matches would take longer
    pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager"),
]

FRAMES = 20_000
MAX_MATCHES = 8
RATE = 3_000  # messages a second over both sockets: 75 times the per-socket limit lifted below
BATCH = 25  # frames per socket between looks at the clock and at the match
MAX_MESSAGE_BYTES = 4096  # the server's default, which the stack keeps
FUZZ_SETTINGS = {
    "GAMESERVER_RATE_LIMIT": "10000",
    "GAMESERVER_RATE_BURST": "10000",
    "GAMESERVER_MAX_BAD_MESSAGES": "100000",  # volume: a socket is not closed after ten
    "GAMESERVER_PRIVATE_BOT_FILL_SECONDS": "600",  # a match starts once all four are in
    # The fuzzers ack garbage, and idle from connecting to the end of the countdown: flow
    # control and the silence rule have their own tests, this one must not depend on them.
    "GAMESERVER_FLOW_LAG": "60",
    "GAMESERVER_SLOW_CLOSE": "600",
    "GAMESERVER_SILENT_TIMEOUT": "600",
}
# Two good players, and a fuzzer per sub-protocol in its own seat: a seat has one socket, a
# second one for the same seat replaces the first.
GOOD = {"alice": SUBPROTOCOL_JSON, "bob": SUBPROTOCOL_MSGPACK}
FUZZERS = {"mallory": SUBPROTOCOL_JSON, "trudy": SUBPROTOCOL_MSGPACK}
LIGHTCYCLES = get_game("lightcycles")


async def play_well(player: Player, stop: threading.Event) -> None:
    """Steer away from walls and trails until told to stop, then go straight to the end."""
    await player.connect()
    reader = asyncio.create_task(player.run())
    await player.wait_until(player.playing, 30, "the match to start")
    while not stop.is_set() and player.over is None and player.me()["alive"]:
        heading = safe_heading(player.model, player.seat)
        if heading != player.me()["dir"]:
            try:
                await player.send_input({"dir": heading})
            except websockets.ConnectionClosed:
                break  # the reader records how it closed; the test asserts on that
        await asyncio.sleep(0.05)
    await asyncio.wait_for(reader, 60)


class GoodPlayers:
    """Alice (JSON) and Bob (msgpack) playing well on an event loop thread of their own."""

    def __init__(self, web: str, apis: dict[str, Api], seats: dict[str, dict[str, Any]]):
        self.players = [
            Player(apis[name].ws_url(), seats[name], web, binary=sub == SUBPROTOCOL_MSGPACK)
            for name, sub in GOOD.items()
        ]
        self.stop = threading.Event()
        self.failures: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        async def play() -> None:
            await asyncio.gather(*(play_well(p, self.stop) for p in self.players))

        try:
            asyncio.run(play())
        except BaseException as error:  # reported to the test's thread by finish()
            self.failures.append(error)

    def playing(self) -> bool:
        return all(p.playing() for p in self.players)

    def done(self) -> bool:
        return not self.thread.is_alive()

    def finish(self, timeout: float) -> None:
        """Stop steering (the cycles go straight into the walls) and wait for the end."""
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the match did not end within {timeout} s"
        assert self.failures == [], self.failures


def expected_error(frame: str | bytes, subprotocol: str) -> str | None:
    """The error code docs/PROTOCOL.md promises for `frame` on an authenticated socket of a
    running Light Cycles match, or None for a message it accepts (worked out with the server's
    own decoders: the test checks what reaches the wire, not the schema)."""
    text, data = (frame, None) if isinstance(frame, str) else (None, frame)
    try:
        message = CODECS[subprotocol].decode(text, data, MAX_MESSAGE_BYTES)
    except ProtocolError as error:
        return error.code
    if isinstance(message, Auth):
        return "already_authenticated"
    if isinstance(message, Input):
        try:
            LIGHTCYCLES.parse_input(message.data)
        except InvalidInput:
            return "bad_input"
    return None


class FuzzSocket:
    """Mallory: a seated player's socket on one sub-protocol that sends garbage and keeps
    every answer for the end of the match (its queue is unbounded, so it never stalls)."""

    def __init__(self, api: Api, seat: dict[str, Any], subprotocol: str):
        self.subprotocol = subprotocol
        self.sentinel = secrets.randbelow(2**31)  # its pong: the server read all before it
        self.thrown: list[str | bytes] = []
        self.ws = websockets.sync.client.connect(
            api.ws_url(), subprotocols=[subprotocol, TICKET_PREFIX + seat["ticket"]],
            origin=api.base, max_queue=None, open_timeout=10,
        )  # fmt: skip

    def throw(self, frames: list[str | bytes]) -> bool:
        """Send `frames` in order; False when the server closed the socket (the match ended)."""
        try:
            for frame in frames:
                self.ws.send(frame)
                self.thrown.append(frame)
        except websockets.ConnectionClosed:
            return False
        return True

    def send_sentinel(self) -> None:
        # Refused if the match ended first: then the error frames say how far the server got.
        with contextlib.suppress(websockets.ConnectionClosed):
            self.ws.send(encode({"type": "ping", "id": self.sentinel}, self.subprotocol))

    def answered(self, timeout: float) -> int:
        """Wait for the server to close the socket at the match's end (1000 after `over`);
        assert that its answers were an error frame for every bad frame, in order, with the
        code docs/PROTOCOL.md gives; return how many of the thrown frames it went through."""
        answers: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                raw = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
                answers.append(decode(raw, self.subprotocol))
        except websockets.ConnectionClosed:
            pass
        except TimeoutError:
            raise AssertionError(f"{self.subprotocol}: not closed within {timeout} s") from None
        what = f"{self.subprotocol} fuzzer, last frames {self.thrown[-3:]!r}"
        assert self.ws.close_code == 1000, (self.ws.close_code, answers[-3:], what)
        assert answers and answers[-1]["type"] == "over", (answers[-3:], what)
        errors = [a["code"] for a in answers if a["type"] == "error"]
        expected = [(i, expected_error(f, self.subprotocol)) for i, f in enumerate(self.thrown)]
        expected = [(i, code) for i, code in expected if code is not None]
        pairs = zip(errors, expected, strict=False)
        wrong = next((n for n, (got, (_, code)) in enumerate(pairs) if got != code), None)
        assert wrong is None, (
            f"{what}: error frame {wrong} is {errors[wrong]!r}, expected {expected[wrong][1]!r} "
            f"for frame {self.thrown[expected[wrong][0]]!r}"
        )
        assert len(errors) <= len(expected), (f"{what}: error frames for good messages",
                                              errors[len(expected) :][:3])  # fmt: skip
        if any(a["type"] == "pong" and a["id"] == self.sentinel for a in answers):
            assert len(errors) == len(expected), "a bad frame before the sentinel got no answer"
            return len(self.thrown)
        return expected[len(errors) - 1][0] + 1 if errors else 0


def fuzz_match(web: str, apis: dict[str, Api], pool: list[str | bytes], start: int,
               number: int) -> tuple[int, int]:  # fmt: skip
    """A new private match fuzzed with pool[start:] until it ends or the pool is thrown; asserts
    it was undisturbed. Returns how many frames of pool[start:] the server went through on both
    fuzzers' sockets, and how many messages were sent."""
    created = apis["alice"].post(
        "/api/matches", {"game": "lightcycles", "private": True, "seats": 4}
    )
    match_id, code = created["match"]["id"], created["match"]["code"]
    seats = {"alice": created}
    for name in ("bob", *FUZZERS):
        seats[name] = apis[name].post("/api/join-by-code", {"code": code})
    good = GoodPlayers(web, apis, seats)
    fuzzers = [FuzzSocket(apis[name], seats[name], sub) for name, sub in FUZZERS.items()]
    deadline = time.monotonic() + 30
    while not good.playing() and time.monotonic() < deadline and not good.done():
        time.sleep(0.05)
    assert good.playing(), (f"match {number} did not start", good.failures)

    fuzz_start = time.monotonic()
    at, sent = start, 0
    while at < len(pool) and not good.done():
        batch = pool[at : at + BATCH]
        if not all([fuzzer.throw(batch) for fuzzer in fuzzers]):  # a list: both throw
            break  # the match ended (the sockets' close codes are asserted below)
        at, sent = at + len(batch), sent + 2 * len(batch)
        time.sleep(max(0.0, fuzz_start + sent / RATE - time.monotonic()))
    fuzz_end = time.monotonic()
    print(f"match {number}: {sent} messages in {fuzz_end - fuzz_start:.1f} s "
          f"({sent / max(fuzz_end - fuzz_start, 0.001):.0f}/s)")  # fmt: skip
    for fuzzer in fuzzers:
        fuzzer.send_sentinel()
    good.finish(timeout=45)
    answered = min(fuzzer.answered(timeout=15) for fuzzer in fuzzers)

    for player in good.players:
        where = f"match {number}, seat {player.seat}"
        assert (player.close_code, player.over is not None) == (1000, True), (
            where, player.close_code, player.messages[-3:],
        )  # fmt: skip
        assert player.errors == [], (where, player.errors)
        arrivals = [(t, f["tick"]) for t, f in player.frames if fuzz_start <= t <= fuzz_end]
        during = [tick for _, tick in arrivals]
        first = during[0] if during else 0
        assert during == list(range(first, first + len(during))), f"{where}: missed ticks"
        span = arrivals[-1][0] - arrivals[0][0] if arrivals else 0.0
        if span >= 1:  # the match may have ended early; over a shorter span one late frame is 10 %
            rate = (len(during) - 1) / span
            assert 15 < rate < 25, f"{where}: {rate:.1f} frames/s while fuzzed"
    result = good.players[0].over["result"]
    assert [p.over["result"] for p in good.players] == [result, result]
    deadline = time.monotonic() + 5  # the engine writes the result while `over` goes out
    match = apis["alice"].get(f"/api/matches/{match_id}")["match"]
    while match["status"] != "finished" and time.monotonic() < deadline:
        time.sleep(0.1)
        match = apis["alice"].get(f"/api/matches/{match_id}")["match"]
    assert (match["status"], match["result"]) == ("finished", result), f"match {number}"
    return answered, sent


def test_garbage_on_both_subprotocols_does_not_disturb_matches(stack_factory):
    """20,000 distinct frames, each over both sub-protocols, in as many matches as it takes."""
    began = time.monotonic()
    pool = garbage(FRAMES)
    drawn = time.monotonic() - began
    assert len(set(pool)) == len(pool) >= 20_000
    stack = stack_factory(**FUZZ_SETTINGS)
    web = stack.web()
    apis = {name: Api(web) for name in (*GOOD, *FUZZERS)}
    for name, api in apis.items():
        api.post("/api/guest", {"name": name})

    thrown, sent, matches = 0, 0, 0
    while thrown < len(pool):
        assert matches < MAX_MATCHES, f"{matches} matches ended before {len(pool)} frames"
        matches += 1
        answered, messages = fuzz_match(web, apis, pool, thrown, matches)
        thrown, sent = thrown + answered, sent + messages

    assert sent >= 2 * len(pool)  # every frame on both sockets, some twice across matches
    assert all(p.alive() for p in stack.processes), "a server process died"
    print(f"{len(pool)} distinct frames drawn in {drawn:.1f} s, {sent} messages in {matches} "
          f"matches, {time.monotonic() - began:.1f} s in all")  # fmt: skip
