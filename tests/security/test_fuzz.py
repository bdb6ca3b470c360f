"""Fuzz a live match: tens of thousands of random and mutated frames, text and binary, over
both sub-protocols, while two well-behaved players keep playing. Nothing may crash, nothing
may close with 1011, the good players keep their tick rate, and the result is written."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import msgspec
import pytest
import websockets.sync.client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from games.protocol import SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK, TICKET_PREFIX
from games.rules.lightcycles import HEIGHT, STEPS, TURNS, WIDTH
from tests.players import Player
from tests.support import Api

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager"),
]
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)  # what msgpack can carry

json_values = st.recursive(
    st.none() | st.booleans() | INT64 | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=20,
)  # fmt: skip
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["input", "ack", "ping", "auth", "teleport", ""])},
    optional={
        "ack": st.integers(min_value=-(2**40), max_value=2**40) | json_values,
        "id": INT64 | json_values,
        "data": st.fixed_dictionaries({"dir": st.sampled_from(["up", "left", "x", ""])})
        | json_values,
        "ticket": st.text(max_size=200),
        "extra": json_values,
    },
)


def mutate(raw: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    return bytes(data)


frames = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    messages.map(json.dumps),
    messages.map(msgspec.msgpack.encode),
    st.tuples(messages.map(msgspec.msgpack.encode),
              st.lists(st.tuples(st.integers(0, 999), st.integers(0, 255)), max_size=4))
    .map(lambda pair: mutate(*pair)),
    st.tuples(messages.map(lambda m: json.dumps(m).encode()),
              st.lists(st.tuples(st.integers(0, 999), st.integers(0, 255)), max_size=4))
    .map(lambda pair: mutate(*pair).decode("utf-8", "replace")),
    json_values.map(json.dumps),
)  # fmt: skip


def safe_heading(model: dict, seat: int) -> str:
    """The heading with the most room to move into (a bounded flood fill), then the longest
    straight run: enough to outlive a fuzz run; a crash would end the match too early."""
    taken = set()
    for player in model["players"]:
        trail = player["trail"]
        for (x1, y1), (x2, y2) in zip(trail, trail[1:], strict=False):
            for x in range(min(x1, x2), max(x1, x2) + 1):
                for y in range(min(y1, y2), max(y1, y2) + 1):
                    taken.add((x, y))
        taken.add((player["x"], player["y"]))
    me = model["players"][seat]

    def free(x: int, y: int) -> bool:
        return 0 <= x < WIDTH and 0 <= y < HEIGHT and (x, y) not in taken

    def room(x: int, y: int) -> int:
        seen, todo = {(x, y)}, [(x, y)]
        while todo and len(seen) < 300:
            cx, cy = todo.pop()
            for dx, dy in STEPS.values():
                cell = (cx + dx, cy + dy)
                if cell not in seen and free(*cell):
                    seen.add(cell)
                    todo.append(cell)
        return len(seen)

    def score(heading: str) -> tuple[int, int]:
        dx, dy = STEPS[heading]
        x, y = me["x"] + dx, me["y"] + dy
        if not free(x, y):
            return (-1, 0)
        run = 0
        while run < 10 and free(x + dx * (run + 1), y + dy * (run + 1)):
            run += 1
        return (room(x, y), run)

    return max([me["dir"], *TURNS[me["dir"]]], key=score)


class Fuzzer:
    """Mallory: a seated player whose sockets (one per sub-protocol) send garbage."""

    def __init__(self, api: Api, match_id: str):
        self.api = api
        self.match_id = match_id
        self.sockets: dict[str, websockets.sync.client.ClientConnection] = {}
        self.sent = 0
        self.close_codes: list[int] = []

    def socket(self, subprotocol: str) -> websockets.sync.client.ClientConnection | None:
        ws = self.sockets.get(subprotocol)
        if ws is None or ws.close_code is not None:
            if ws is not None:
                self.close_codes.append(ws.close_code)
            status, answer = self.api.request("POST", f"/api/matches/{self.match_id}/ticket", {})
            if status == 409:
                return None  # the match ended: the assertions below say whether too early
            ticket = answer["ticket"]
            ws = websockets.sync.client.connect(
                self.api.ws_url(), subprotocols=[subprotocol, TICKET_PREFIX + ticket],
                origin=self.api.base, max_queue=None, open_timeout=10,
            )  # fmt: skip
            self.sockets[subprotocol] = ws
        return ws

    def throw(self, frame: str | bytes) -> None:
        for subprotocol in (SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK):
            ws = self.socket(subprotocol)
            if ws is None:
                return
            try:
                ws.send(frame)
                self.sent += 1
            except websockets.ConnectionClosed:
                pass  # counted at the next reconnect


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
    await asyncio.wait_for(reader, 120)


def generated_frames(count: int) -> list[str | bytes]:
    """Draw the frames first: hypothesis is slower than the server, and a Light Cycles match
    lasts only as long as its good players stay out of the walls."""
    pool: list[str | bytes] = []

    @settings(max_examples=count // 75 + 1, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.lists(frames, min_size=50, max_size=100))
    def collect(batch: list[str | bytes]) -> None:
        pool.extend(batch)

    collect()
    return pool


def test_garbage_on_both_subprotocols_does_not_disturb_a_match(stack_factory):
    pool = generated_frames(5_000)  # thrown well within one match's lifetime, also on a busy CI
    stack = stack_factory(
        GAMESERVER_RATE_LIMIT="10000",
        GAMESERVER_RATE_BURST="10000",
        GAMESERVER_MAX_BAD_MESSAGES="100000",  # volume: a socket is not closed after ten
    )
    web = stack.web()
    apis = {name: Api(web) for name in ("alice", "bob", "mallory")}
    for name, api in apis.items():
        api.post("/api/guest", {"name": name})
    created = apis["alice"].post("/api/matches", {"game": "lightcycles", "private": True,
                                                  "seats": 3})  # fmt: skip
    code = created["match"]["code"]
    bob_seat = apis["bob"].post("/api/join-by-code", {"code": code})
    apis["mallory"].post("/api/join-by-code", {"code": code})
    match_id = created["match"]["id"]
    good = [Player(apis["alice"].ws_url(), created, web), Player(apis["bob"].ws_url(), bob_seat,
                                                                 web)]  # fmt: skip
    stop = threading.Event()
    fuzzer = Fuzzer(apis["mallory"], match_id)
    fuzzer.socket(SUBPROTOCOL_JSON)
    fuzzer.socket(SUBPROTOCOL_MSGPACK)  # all three seats connected: the match starts

    async def good_players() -> None:
        await asyncio.gather(*(play_well(p, stop) for p in good))

    outcome: list[BaseException] = []
    thread = threading.Thread(
        target=lambda: outcome.extend(
            [e for e in [_run(good_players)] if e is not None]
        )  # fmt: skip
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not all(p.playing() for p in good) and time.monotonic() < deadline:
        time.sleep(0.05)
    fuzz_start = time.monotonic()
    for i, frame in enumerate(pool):
        fuzzer.throw(frame)
        if i % 50 == 49:
            time.sleep(0.05)  # ~2,000 messages a second: 100× the per-socket limit it lifts
    fuzz_end = time.monotonic()
    stop.set()
    thread.join(150)
    assert not thread.is_alive() and outcome == []

    assert len(pool) >= 3_000 and fuzzer.sent == 2 * len(pool)  # every frame on both sockets
    assert 1011 not in fuzzer.close_codes
    for player in good:
        assert (player.close_code, player.over is not None) == (1000, True), player.messages[-3:]
        assert not [e for e in player.errors], player.errors
        during = [f["tick"] for t, f in player.frames if fuzz_start <= t <= fuzz_end]
        assert during == list(range(during[0], during[0] + len(during))), "ticks were missed"
        rate = (len(during) - 1) / (fuzz_end - fuzz_start)
        assert 15 < rate < 25, f"{rate:.1f} frames/s while fuzzed"
    match = apis["alice"].get(f"/api/matches/{match_id}")["match"]
    assert match["status"] == "finished" and match["result"] == good[0].over["result"]
    assert all(p.alive() for p in stack.processes), "a server process died"


def _run(coroutine_function) -> BaseException | None:
    try:
        asyncio.run(coroutine_function())
    except BaseException as error:  # reported to the test's thread
        return error
    return None
