"""One match in an engine host: its rules state, its seats, its inputs, and its frames."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from games.bus import FrameEntry
from games.engine.framing import Framing
from games.engine.phases import OVER, PLAYING, STARTING, WAITING
from games.engine.spectators import SpectatorStream, spectator_delay
from games.engine.steps import EventSteps
from games.protocol import VIEW_SPECTATORS
from games.rules.base import EVENTS, Game, IllegalMove, Result, Seat, kind

log = logging.getLogger(__name__)

# The engine ticks a quarter of its matches every quarter period, so a web process writes
# four small bursts of frames per tick instead of one large one (docs/PERFORMANCE.md).
TICK_SLOTS = 4
EVENT_KEYFRAME_EVERY = 16  # an event-driven match's steps between two keyframes


class SeatGone(Exception):
    """The seat's grace period ran out: its person left the match for good."""


@dataclass(frozen=True, slots=True)
class Connection:
    """A player's socket: the web process's hub and the socket's id within it."""

    hub: str
    socket: str


class MatchRuntime(EventSteps):
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
        grace: float = 20,
        created: float | None = None,
        options: dict[str, Any] | None = None,
        bot_think: float = 0.5,
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
        self.emptied_at: float | None = None  # when the last person left while it waited
        self.wakeup: Any = None  # the timer that starts it when bots are due (engine host)
        self.grace = grace  # seconds a dropped person keeps the seat
        self.connections: dict[int, Connection] = {}  # seat -> its one socket
        self.connected_at: dict[int, float] = {}  # seat -> when its socket joined
        self.absent: dict[int, float] = {}  # seat -> when its socket dropped (grace running)
        self.left: set[int] = set()  # seats given up for good
        self.names: dict[int, str] = {}  # seat -> its person's name, for the lobby
        self.lobby_sent: tuple[float, tuple] | None = None  # when, and what, it last showed
        self.watchers: dict[str, float] = {}  # hub channel -> when we last heard from it
        self.spectator_hubs: set[str] = set()  # watchers with spectators of the match
        self.spectators = SpectatorStream(game, tick_rate, spectator_delay(game))
        self.framing = Framing(game, match_id, self.spectators)
        self.options = dict(options or {})
        self.checks = callable(getattr(game, "check", None))
        self.inputs: list[tuple[int, Any]] = []
        # Event-driven: frames are numbered by step, match time runs from `origin` (a wall
        # clock second, so a deadline survives a takeover), and each step's frames wait in
        # the outbox until the host sends them (`on_step` tells it).
        self.event_driven = kind(game) == EVENTS
        self.seq = 0
        self.origin = 0.0
        self.outbox: list[FrameEntry] = []
        self.on_step: Callable[[MatchRuntime], None] | None = None
        self.alarm: Any = None  # the timer of its next deadline or bot move (engine host)
        self.bot_think = bot_think  # seconds a bot to move waits before it moves
        self.bot_due: float | None = None  # match time
        self.keyframe_due = True
        self.keyframe_above = -1  # a keyframe is due once the tick passes this (a takeover)
        self.token = 0  # the fencing token of our lease: every frame carries it
        self.final: list[FrameEntry] = []  # the last frames (`over`), for a hub that missed them
        spread = zlib.crc32(match_id.encode())
        self.keyframe_phase = spread % tick_rate  # keyframes spread across ticks
        self.slot = spread % TICK_SLOTS  # and matches across the tick period

    # Seats and sockets
    def connect(self, seat: int, connection: Connection, name: str = "") -> Connection | None:
        """Seat a socket; returns the socket it replaces (one socket per seat), if any."""
        if seat in self.left:
            raise SeatGone(seat)
        previous = self.connections.get(seat)
        self.connections[seat] = connection
        if previous != connection:
            self.connected_at[seat] = time.monotonic()
        self.names[seat] = name
        self.absent.pop(seat, None)
        if self.first_join is None:
            self.first_join = time.monotonic()
        self.emptied_at = None
        if self.phase == PLAYING:
            self.game.join(self.state, seat)
            self._stepped()
        return previous if previous not in (None, connection) else None

    @property
    def tick(self) -> int:
        """The newest frame's number: the rules' tick, or an event-driven match's step."""
        return self.seq if self.event_driven else self.state.tick

    def stop(self, reason: str) -> None:
        """Staff ended the match: its next tick (or at once, its next step) is its last,
        with `reason` in the result."""
        self.game.stop(self.state, reason)
        self._stepped()

    def remove(self, seat: int, to_bot: bool) -> Connection | None:
        """Staff removed the seat's person for good: a bot plays the seat on, or the rules'
        leave runs. Returns the socket to close, if one is open."""
        connection = self.connections.pop(seat, None)
        self.absent.pop(seat, None)
        self.left.add(seat)  # no socket takes the seat again, not even after a takeover
        if to_bot:
            self.roster[seat] = replace(self.roster[seat], bot=True)
            self.game.drop(self.state, seat)  # shown without a person, like any absent seat
        else:
            self.game.leave(self.state, seat)
        self._stepped()
        return connection

    def joiner_keyframe(self, seat: int | None = None) -> tuple[int, str, bytes] | None:
        """A keyframe of the state as it is, for one (re)connecting socket alone (the seat's
        own view; None: a spectator's): the other sockets keep their deltas (a reconnect loop
        must not cost the whole match keyframes). None while there is no state yet (waiting:
        the first frame is a keyframe anyway)."""
        if self.state is None:
            return None
        return self.framing.keyframe(self.state, self.tick, seat, self._extra())

    def disconnect(self, seat: int, connection: Connection, now: float) -> None:
        """A socket is gone; while playing, its seat waits `grace` seconds for a reconnect."""
        if self.connections.get(seat) != connection:
            return  # a socket that was replaced: the seat is someone else's business now
        del self.connections[seat]
        if self.phase == PLAYING:
            self.absent[seat] = now
            self.game.drop(self.state, seat)
            self._stepped()
        elif not self.connections:
            self.emptied_at = now  # everyone left the waiting room

    def expire_absent(self, now: float) -> list[int]:
        """Seats whose grace ran out leave the match (the rules decide what that means)."""
        gone = [seat for seat, since in self.absent.items() if now - since >= self.grace]
        for seat in gone:
            del self.absent[seat]
            self.left.add(seat)
            if self.phase == PLAYING:
                self.game.leave(self.state, seat)
                self._stepped()
        return gone

    def lobby(self, now: float) -> dict[str, Any] | None:
        """While it waits: who is here, and when bots take the free seats. None when there is
        nothing new to show (it changes, or a second passed for the countdown)."""
        if self.phase != WAITING or self.first_join is None:
            return None
        players = tuple((seat, self.names[seat]) for seat in sorted(self.connections))
        if self.lobby_sent is not None:
            sent_at, shown = self.lobby_sent
            if shown == players and now - sent_at < 1:
                return None
        self.lobby_sent = (now, players)
        return {
            "type": "lobby",
            "seats": self.seats,
            "players": [{"seat": seat, "name": name} for seat, name in players],
            "bots_in": round(max(0.0, self.fill_after - (now - self.first_join)), 1),
        }

    def silent_hubs(self, now: float, timeout: float) -> list[str]:
        """Hubs heartbeat every second or so; one that stopped (its web process died)..."""
        hubs = set(self.watchers) | {c.hub for c in self.connections.values()}
        return [hub for hub in hubs if now - self.watchers.get(hub, 0.0) > timeout]

    def drop_hub(self, hub: str, now: float) -> None:
        """... is sent nothing more, and its sockets count as dropped (grace, bot, leave)."""
        self.watchers.pop(hub, None)
        self.spectator_hubs.discard(hub)
        for seat, connection in list(self.connections.items()):
            if connection.hub == hub:
                self.disconnect(seat, connection, now)

    def reconcile_hub(
        self, hub: str, sockets: dict[str, int], now: float, settle: float = 2.0
    ) -> list[tuple[Connection, bool]]:
        """A hub's heartbeat lists its sockets of this match (socket -> seat), to put right
        a join or drop lost while Redis was away. Ours that it no longer has are dropped (a
        join younger than `settle` may have crossed the heartbeat: left alone); one we do not
        know takes its seat if the seat is free. Returns those to close: (socket, seat gone)
        for a seat given up or held by another socket."""
        ours = set()
        for seat, connection in list(self.connections.items()):
            if connection.hub != hub:
                continue
            ours.add(connection.socket)
            if connection.socket not in sockets and now - self.connected_at[seat] > settle:
                self.disconnect(seat, connection, now)
        refused = []
        for socket, seat in sockets.items():
            if socket in ours or not 0 <= seat < self.seats:
                continue
            connection = Connection(hub, socket)
            if seat in self.left:
                refused.append((connection, True))
            elif seat in self.connections:
                refused.append((connection, False))
            else:
                self.connect(seat, connection, self.names.get(seat, ""))
                self.keyframe_now()  # rare (a join lost in an outage): one for everyone
        return refused

    def resume_above(self, tick: int) -> None:
        """A hub's sockets already have `tick` (from a previous owner): they get nothing
        until a keyframe past it, so send one as soon as we are there (an event-driven match
        numbers its next step past it and sends that keyframe at once)."""
        if not self.event_driven:
            self.keyframe_above = max(self.keyframe_above, tick)
            return
        self.seq = max(self.seq, tick)
        self.keyframe_now()

    @property
    def connected_seats(self) -> int:
        return len(self.connections)

    def should_start(self, now: float) -> bool:
        """Start when every seat has a socket, or a person still here has waited `fill_after`
        for bots: bots never play a match alone."""
        if self.phase != WAITING or not self.connections:
            return False
        return self.connected_seats >= self.seats or now - self.first_join >= self.fill_after

    def is_stale(self, now: float, timeout: float) -> bool:
        """A waiting match that nobody connected to for `timeout` seconds, or that everyone
        left and nobody came back to within the reconnect grace."""
        if self.phase != WAITING or self.connections:
            return False
        if self.emptied_at is not None:
            return now - self.emptied_at >= min(self.grace, timeout)
        return now - (self.first_join or self.created) >= timeout

    def start(self, roster: list[Seat]) -> None:
        self.roster = roster
        self.state = self.game.new_state(seed=self.seed, seats=roster, options=self.options)
        self.origin = time.time()
        now = time.monotonic()
        for seat in roster:
            if seat.index in self.connections:
                self.game.join(self.state, seat.index)
            elif not seat.bot:
                self.absent[seat.index] = now  # joined, then dropped while it waited
        self.phase = PLAYING
        self.keyframe_now()  # a ticking match sends it with its first tick

    # Inputs and moves
    def add_input(self, seat: int, move: Any) -> str | None:
        """A person's move (parsed by the web process): queued for the next tick, or, in an
        event-driven match, applied now. Returns the game's reason when it refuses it."""
        if self.phase != PLAYING or seat >= len(self.roster) or self.roster[seat].bot:
            return None
        if seat in self.left:
            return None  # a message still in flight from a socket whose seat is gone
        try:
            if self.event_driven:
                self.game.move(self.state, seat, move, self.now())
            elif self.checks:
                self.game.check(self.state, seat, move)
        except IllegalMove as refusal:
            return str(refusal) or "that move is not allowed now"
        if self.event_driven:
            self._stepped()
        else:
            self.inputs.append((seat, move))
        return None

    def _bot_seats(self) -> list[int]:
        """Seats a bot moves for: bots', and an absent person's where the game says so."""
        absent = self.absent if self.game.bot_plays_absent else ()
        if not self.event_driven:
            return [seat.index for seat in self.roster if seat.bot or seat.index in absent]
        return [s for s in self.game.to_move(self.state) if self.roster[s].bot or s in absent]

    # The tick (ticking games)
    def step(self) -> list[FrameEntry]:
        """One tick's frames (none unless playing)."""
        if self.phase != PLAYING:
            return []
        inputs = [
            (seat, move)
            for seat in self._bot_seats()
            if (move := self.game.bot_input(self.state, seat)) is not None
        ]
        inputs.extend(self.inputs)
        self.inputs = []
        self.game.tick(self.state, inputs)
        return self._frames(self.game.is_over(self.state))

    def _frames(self, over: bool) -> list[FrameEntry]:
        """The step's frames, each view encoded once per sub-protocol, with our fencing
        token; after the last one, `over` is the final message."""
        tick = self.tick
        if self.event_driven:
            periodic = tick % EVENT_KEYFRAME_EVERY == 0
        else:
            periodic = tick % self.tick_rate == self.keyframe_phase
        resumed = self.keyframe_above >= 0 and tick > self.keyframe_above
        key = over or self.keyframe_due or periodic or resumed
        self.keyframe_due = False
        if resumed:
            self.keyframe_above = -1
        if over:
            self.phase = OVER
            self.result = self.game.result(self.state)
        return self.framing.frames(self.state, tick=tick, key=key, token=self.token,
                                   seats=self.seats, result=self.result if over else None,
                                   extra=self._extra())  # fmt: skip

    def add_to(self, batches: dict[str, list[FrameEntry]], frames: list[FrameEntry]) -> None:
        """Each watching hub's share of a step's frames: the spectators' go only to hubs
        with spectators of the match."""
        if not self.spectators.distinct:
            for hub in self.watchers:
                batches[hub].extend(frames)
            return
        players = [f for f in frames if f.view != VIEW_SPECTATORS]
        for hub in self.watchers:
            batches[hub].extend(frames if hub in self.spectator_hubs else players)

    # Checkpoints
    def dump(self) -> dict[str, Any]:
        return {
            "phase": PLAYING if self.phase == STARTING else self.phase,
            "roster": [[s.index, s.name, s.bot] for s in self.roster],
            "state": self.game.dump(self.state) if self.state is not None else None,
            "left": sorted(self.left),
            "seq": self.seq,
            "origin": self.origin,
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.roster = [Seat(index=i, name=n, bot=b) for i, n, b in data["roster"]]
        if data["state"] is not None:
            self.state = self.game.load(data["state"])
            self.phase = OVER if data["phase"] == OVER else PLAYING
            if self.phase == OVER:
                self.result = self.game.result(self.state)
        self.left = set(data.get("left", ()))
        self.seq, self.origin = data.get("seq", 0), data.get("origin", 0.0)
        if self.phase == PLAYING:
            # Until the web processes re-register their sockets (within a second or so), every
            # person is absent; one whose socket is gone too gets a full grace period.
            now = time.monotonic()
            for seat in self.roster:
                if not seat.bot and seat.index not in self.left:
                    self.absent[seat.index] = now
                    self.game.drop(self.state, seat.index)
        self.keyframe_due = True
