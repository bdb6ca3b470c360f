"""One match in an engine host: its rules state, its seats, its inputs, and its frames."""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from typing import Any

from games.protocol import encode, encode_msgpack, now_ms
from games.rules.base import Game, InvalidInput, Result, Seat

log = logging.getLogger(__name__)

WAITING, STARTING, PLAYING, OVER = "waiting", "starting", "playing", "over"
# The engine ticks a quarter of its matches every quarter period, so a web process writes
# four small bursts of frames per tick instead of one large one (docs/PERFORMANCE.md).
TICK_SLOTS = 4


@dataclass(frozen=True, slots=True)
class Frame:
    """A tick's frame, encoded once per sub-protocol (JSON text, msgpack bytes); `over` is the
    final message after the last frame."""

    tick: int
    key: bool
    text: str
    binary: bytes
    over: str | None = None
    over_binary: bytes | None = None


class MatchRuntime:
    """Game-agnostic: the rules decide what a tick does, this decides when and for whom."""

    def __init__(
        self,
        *,
        match_id: str,
        game: Game,
        seats: int,
        seed: int,
        tick_rate: int,
        fill_after: float,
        created: float | None = None,
    ):
        self.match_id = match_id
        self.fill_after = fill_after  # seconds a person waits before bots take free seats
        self.game = game
        self.seats = seats
        self.seed = seed
        self.tick_rate = tick_rate
        self.phase = WAITING
        self.state: Any = None
        self.roster: list[Seat] = []
        self.result: Result | None = None
        self.created = time.monotonic() if created is None else created
        self.first_join: float | None = None
        self.sockets: dict[int, int] = {}  # seat -> open sockets; > 0 means connected
        self.watchers: dict[str, float] = {}  # hub channel -> when it last asked for frames
        self.inputs: list[tuple[int, Any]] = []
        self.keyframe_due = True
        spread = zlib.crc32(match_id.encode())
        self.keyframe_phase = spread % tick_rate  # keyframes spread across ticks
        self.slot = spread % TICK_SLOTS  # and matches across the tick period

    # Seats and sockets
    def connect(self, seat: int) -> None:
        self.sockets[seat] = self.sockets.get(seat, 0) + 1
        if self.first_join is None:
            self.first_join = time.monotonic()
        if self.phase == PLAYING:
            self.game.join(self.state, seat)
        self.keyframe_due = True

    def disconnect(self, seat: int) -> None:
        count = self.sockets.get(seat, 0) - 1
        if count <= 0:
            self.sockets.pop(seat, None)
        else:
            self.sockets[seat] = count

    def forget_silent_watchers(self, now: float, ttl: float) -> None:
        """Hubs re-ask every few seconds; one that stopped (its web process died) is dropped."""
        for hub, seen in list(self.watchers.items()):
            if now - seen > ttl:
                del self.watchers[hub]

    @property
    def connected_seats(self) -> int:
        return len(self.sockets)

    def should_start(self, now: float) -> bool:
        """Start when every seat has a socket, or a person has waited `fill_after` for bots."""
        if self.phase != WAITING or self.first_join is None:
            return False
        return self.connected_seats >= self.seats or now - self.first_join >= self.fill_after

    def is_stale(self, now: float, timeout: float) -> bool:
        """A waiting match that nobody connected to, or everyone left, for `timeout` seconds."""
        if self.phase != WAITING or self.sockets:
            return False
        return now - (self.first_join or self.created) >= timeout

    def start(self, roster: list[Seat]) -> None:
        self.roster = roster
        self.state = self.game.new_state(seed=self.seed, seats=roster)
        for seat in self.sockets:
            self.game.join(self.state, seat)
        self.phase = PLAYING
        self.keyframe_due = True

    # Inputs
    def add_input(self, seat: int, data: Any) -> None:
        """Queue a person's input for the next tick; a bad one is dropped (the socket saw it)."""
        if self.phase != PLAYING or seat >= len(self.roster) or self.roster[seat].bot:
            return
        try:
            self.inputs.append((seat, self.game.parse_input(data)))
        except InvalidInput as error:
            log.debug("match %s seat %s: dropped input: %s", self.match_id, seat, error)

    # The tick
    def step(self) -> Frame | None:
        if self.phase != PLAYING:
            return None
        inputs = [
            (seat.index, move)
            for seat in self.roster
            if seat.bot and (move := self.game.bot_input(self.state, seat.index)) is not None
        ]
        inputs.extend(self.inputs)
        self.inputs = []
        self.game.tick(self.state, inputs)
        over = self.game.is_over(self.state)
        return self._frame(over)

    def _frame(self, over: bool) -> Frame:
        keyframe = self.state.tick % self.tick_rate == self.keyframe_phase
        key = over or self.keyframe_due or keyframe
        self.keyframe_due = False
        body: dict[str, Any] = {"type": "frame", "tick": self.state.tick, "sent": now_ms()}
        if key:
            body["key"] = True
            body["state"] = self.game.keyframe(self.state)
        else:
            body["key"] = False
            body["delta"] = self.game.delta(self.state)
        over_text = over_binary = None
        if over:
            self.phase = OVER
            self.result = self.game.result(self.state)
            final = {"type": "over", "result": self.result.to_json()}
            over_text, over_binary = encode(final), encode_msgpack(final)
        return Frame(
            tick=self.state.tick,
            key=key,
            text=encode(body),
            binary=encode_msgpack(body),
            over=over_text,
            over_binary=over_binary,
        )

    # Checkpoints
    def dump(self) -> dict[str, Any]:
        return {
            "phase": PLAYING if self.phase == STARTING else self.phase,
            "roster": [[s.index, s.name, s.bot] for s in self.roster],
            "state": self.game.dump(self.state) if self.state is not None else None,
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.roster = [Seat(index=i, name=n, bot=b) for i, n, b in data["roster"]]
        if data["state"] is not None:
            self.state = self.game.load(data["state"])
            self.phase = OVER if data["phase"] == OVER else PLAYING
            if self.phase == OVER:
                self.result = self.game.result(self.state)
        self.keyframe_due = True
