"""The benchmark's baseline: the Bench Arena workload on a bare `websockets` server.

It does what our Django Channels stack does for a player (seat, welcome, a 20 Hz tick loop on
`TickClock`, each match's frame built like `MatchRuntime._frame` and encoded once, inputs, ping)
and nothing else: no HTTP API, tickets, Origin check, channel layer, database or checkpoints.
The benchmark reports our CPU per delivered frame as a ratio to this server's, so the game work,
encoding and message checks here are ours, byte for byte; only the plumbing differs. It imports
no Django, only the rules, the protocol module and the tick clock.

    python -m bench.raw_server --port 8765 [--host 127.0.0.1] [--seats 4] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from games import protocol
from games.engine.clock import TickClock, TickStats
from games.engine.runtime import TICK_SLOTS
from games.rules.base import InvalidInput, Seat
from games.rules.bench import BenchArena

GAME = BenchArena()
FILL_AFTER = 2.0  # seconds a partial match waits before bots take its free seats
MAX_MESSAGE_BYTES = 4096  # as GAMESERVER["MAX_MESSAGE_BYTES"]


@dataclass(eq=False)
class Match:
    """One match: its seats in arrival order, its sockets, its rules state once running."""

    id: str
    seats: int
    seed: int
    created: float = field(default_factory=time.monotonic)
    roster: list[Seat] = field(default_factory=list)
    sockets: dict[ServerConnection, int] = field(default_factory=dict)  # socket -> seat
    inputs: list[tuple[int, Any]] = field(default_factory=list)
    state: Any = None
    keyframe_due: bool = True
    keyframe_phase: int = field(init=False)  # spreads keyframes across ticks, as ours
    slot: int = field(init=False)  # and matches across the tick period, as ours

    def __post_init__(self) -> None:
        spread = zlib.crc32(self.id.encode())
        self.keyframe_phase = spread % GAME.tick_rate
        self.slot = spread % TICK_SLOTS

    def to_json(self) -> dict[str, Any]:
        """The `match` of a welcome, shaped like selectors.match_json (the keys a client uses)."""
        return {
            "id": self.id,
            "game": GAME.name,
            "status": "waiting" if self.state is None else "running",
            "seats": self.seats,
            "tick_rate": GAME.tick_rate,
            "players": [
                {"seat": s.index, "name": s.name, "bot": s.bot, "score": 0, "placement": None}
                for s in self.roster
            ],
        }

    def start(self) -> None:
        """Fill free seats with bots (a partial last group still plays) and start ticking."""
        for index in range(len(self.roster), self.seats):
            self.roster.append(Seat(index=index, name=f"bot {index}", bot=True))
        self.state = GAME.new_state(seed=self.seed, seats=self.roster)
        self.keyframe_due = True

    def step(self) -> str:
        """One tick, as MatchRuntime.step and _frame: bots first, then inputs in arrival order."""
        inputs = [
            (s.index, move)
            for s in self.roster
            if s.bot and (move := GAME.bot_input(self.state, s.index)) is not None
        ]
        inputs.extend(self.inputs)
        self.inputs = []
        GAME.tick(self.state, inputs)
        key = self.keyframe_due or self.state.tick % GAME.tick_rate == self.keyframe_phase
        self.keyframe_due = False
        body: dict[str, Any] = {"type": "frame", "tick": self.state.tick, "sent": protocol.now_ms()}
        if key:
            body["key"] = True
            body["state"] = GAME.keyframe(self.state)
        else:
            body["key"] = False
            body["delta"] = GAME.delta(self.state)
        return protocol.encode(body)


class RawServer:
    """Seats sockets into matches of `seats` in arrival order and ticks every running match."""

    def __init__(self, seats: int):
        self.seats = seats
        self.matches: dict[str, Match] = {}
        self.open: Match | None = None  # the match new arrivals are seated in
        self.arrivals = self.created = 0
        self.frames = 0  # frames handed to broadcast, for the exit summary
        self.clock: TickClock | None = None

    def seat(self, ws: ServerConnection) -> tuple[Match, int]:
        if self.open is None or len(self.open.roster) >= self.seats:
            self.created += 1
            self.open = Match(
                id=f"raw{self.created:07d}", seats=self.seats, seed=self.created * 7919
            )
            self.matches[self.open.id] = self.open
        match, self.arrivals = self.open, self.arrivals + 1
        seat = len(match.roster)
        match.roster.append(Seat(index=seat, name=f"player {self.arrivals}"))
        match.sockets[ws] = seat
        match.keyframe_due = True
        if len(match.roster) == self.seats:
            match.start()
        return match, seat

    def leave(self, ws: ServerConnection, match: Match) -> None:
        """A closed socket leaves its match; a match with no sockets is forgotten."""
        match.sockets.pop(ws, None)
        if not match.sockets:
            self.matches.pop(match.id, None)
            if self.open is match:
                self.open = None

    async def handler(self, ws: ServerConnection) -> None:
        match, seat = self.seat(ws)
        welcome = {
            "type": "welcome",
            "match": match.to_json(),
            "seat": seat,
            "tick_rate": GAME.tick_rate,
            "server_time": protocol.now_ms(),
        }
        try:
            await ws.send(protocol.encode(welcome))
            async for message in ws:
                text = message if isinstance(message, str) else None
                try:
                    await self.receive(ws, match, seat, text)
                except protocol.ProtocolError as error:
                    await ws.send(protocol.error_message(error.code, error.message))
                    if error.close is not None:
                        await ws.close(error.close)
        except ConnectionClosed:
            pass  # closed while we were sending: the socket is gone either way
        finally:
            self.leave(ws, match)

    async def receive(
        self, ws: ServerConnection, match: Match, seat: int, text: str | None
    ) -> None:
        """The consumer's checks: strict schema, then the game's own input check."""
        message = protocol.decode_client(text, max_bytes=MAX_MESSAGE_BYTES)
        if isinstance(message, protocol.Input):
            try:
                move = GAME.parse_input(message.data)
            except InvalidInput as error:
                raise protocol.ProtocolError("bad_input", str(error)) from None
            if match.state is not None:  # before the start, inputs are dropped, as ours
                match.inputs.append((seat, move))
        elif isinstance(message, protocol.Ping):
            pong = {"type": "pong", "id": message.id, "server_time": protocol.now_ms()}
            await ws.send(protocol.encode(pong))
        elif isinstance(message, protocol.Auth):
            raise protocol.ProtocolError("already_authenticated", "this socket is seated already")
        # Ack: nothing to do; there is no slow-consumer handling here.

    async def tick_loop(self) -> None:
        """One loop for all matches, scheduled like the engine host's (start + n·period): in
        TICK_SLOTS slots a tick period, each stepping its share of the matches (crc32 of the
        id) with no yield in between, as the engine does; then, here, their broadcasts.

        Fan-out is `websockets.broadcast`, not `await ws.send(text)` per socket: with 400
        players (100 matches) for 10 s on this 2-core machine it cost 29-39 µs of server CPU
        per delivered frame on asyncio and 30-32 on uvloop, against 39-50 and 41-47 for the
        awaits, which run a send context manager and a drain check per socket. broadcast
        writes to every open socket synchronously with no backpressure: a slow socket is not
        skipped (websockets 17 skips only sockets that are not open, or mid-way through a
        fragmented send); its write buffer grows until the keepalive ping times it out. It
        can therefore never stall the tick loop in a drain, as one slow socket could with
        awaits. Our hub awaits one ASGI send per player; the ratio counts that cost as ours.
        """
        clock = self.clock = TickClock(GAME.tick_rate * TICK_SLOTS)
        while True:
            await clock.next_tick()
            started = time.perf_counter()
            now = time.monotonic()
            slot = clock.n % TICK_SLOTS
            for match in list(self.matches.values()):
                if match.slot != slot:
                    continue
                if match.state is None:
                    if now - match.created >= FILL_AFTER and match.sockets:
                        match.start()
                        if self.open is match:
                            self.open = None
                    continue
                if not match.sockets:
                    continue  # everyone left; already forgotten
                text = match.step()
                broadcast(match.sockets, text)
                self.frames += len(match.sockets)
            elapsed = time.perf_counter() - started
            clock.record(elapsed, elapsed)


async def main(args: argparse.Namespace) -> None:
    server = RawServer(args.seats)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(
        server.handler,
        args.host,
        args.port,
        subprotocols=[protocol.SUBPROTOCOL_JSON],  # echoed; other offers get HTTP 400
        compression=None,  # daphne negotiates no permessage-deflate either
        ping_interval=20,
        ping_timeout=30,  # as the Procfile's daphne
        max_size=2**16,  # decode_client enforces the 4096-byte limit with its own error
    ) as ws_server:
        ticker = asyncio.create_task(server.tick_loop())
        gc.freeze()  # as runengine: start-up objects never need collecting
        print(f"raw server ready on ws://{args.host}:{args.port}/", flush=True)
        await stop.wait()
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        ws_server.close()
        await ws_server.wait_closed()
    stats = server.clock.stats if server.clock else TickStats()
    print(
        f"raw server stopped: ticks={stats.ticks} frames_sent={server.frames} "
        f"overruns={stats.overruns} skipped={stats.skipped}",
        file=sys.stderr,
        flush=True,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seats", type=int, default=GAME.default_seats)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args(argv)
    if not GAME.min_seats <= args.seats <= GAME.max_seats:
        parser.error(f"--seats must be {GAME.min_seats}..{GAME.max_seats}")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.uvloop:
        import uvloop

        uvloop.run(main(arguments))
    else:
        asyncio.run(main(arguments))
