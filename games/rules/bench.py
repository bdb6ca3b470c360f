"""Bench Arena: the game the benchmark plays, and a plain example of the Game contract.

Each player is a point on a wrapping 256×256 field that moves one unit per tick in the
direction it was last told; the score is the distance travelled. Nobody can lose, so a match
lasts its full time limit: a load test keeps the same players connected for its whole run,
which a real game (whose players crash out) would not. It is unlisted in the lobby.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from games.rules.base import JSON, InvalidInput, Result, Seat, Standing

SIZE = 256
TIME_LIMIT_TICKS = 30 * 60 * 20  # 30 minutes at 20 Hz: longer than any benchmark run
BOT_TURN_EVERY = 20
STEPS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
HEADINGS = tuple(STEPS)


@dataclass(slots=True)
class Dot:
    seat: int
    name: str
    bot: bool
    x: int
    y: int
    dir: str
    score: int = 0
    connected: bool = False


@dataclass(slots=True)
class BenchState:
    dots: list[Dot]
    tick: int = 0
    turned: list[list[Any]] = field(default_factory=list)  # [seat, dir] changed this tick
    presence: list[list[Any]] = field(default_factory=list)  # [seat, connected] since a tick
    shown_presence: list[list[Any]] = field(default_factory=list)  # ...carried by this delta
    stopped: str | None = None  # the reason, once staff ended the match


def apply_delta(model: JSON, delta: JSON) -> JSON:
    """Positions are sent every tick; scores are implied (+1 per tick), headings on change."""
    model["tick"] = delta["tick"]
    model["phase"] = delta.get("phase", model["phase"])
    for player, (x, y) in zip(model["players"], delta["pos"], strict=True):
        player["x"], player["y"] = x, y
        player["score"] += 1
    for seat, heading in delta.get("dirs", ()):
        model["players"][seat]["dir"] = heading
    for seat, connected in delta.get("connected", ()):
        model["players"][seat]["connected"] = connected
    return model


class BenchArena:
    apply_delta = staticmethod(apply_delta)  # the reference a client mirrors
    name: ClassVar[str] = "bench"
    title: ClassVar[str] = "Bench Arena"
    listed: ClassVar[bool] = False
    tick_rate: ClassVar[int] = 20
    min_seats: ClassVar[int] = 1
    max_seats: ClassVar[int] = 8
    default_seats: ClassVar[int] = 4
    bot_plays_absent: ClassVar[bool] = False  # bench players come and go with the load

    def new_state(
        self, *, seed: int, seats: list[Seat], options: dict[str, Any] | None = None
    ) -> BenchState:
        dots = [
            Dot(
                seat=s.index,
                name=s.name,
                bot=s.bot,
                x=(seed + 61 * s.index) % SIZE,
                y=(seed // SIZE + 97 * s.index) % SIZE,
                dir=HEADINGS[(seed + s.index) % 4],
                connected=s.bot,
            )
            for s in seats
        ]
        return BenchState(dots=dots)

    def parse_input(self, data: JSON) -> str:
        if not isinstance(data, dict) or set(data) != {"dir"}:
            raise InvalidInput('input must be {"dir": "up" | "down" | "left" | "right"}')
        if data["dir"] not in STEPS:
            raise InvalidInput(f"dir must be one of {', '.join(HEADINGS)}, not {data['dir']!r}")
        return data["dir"]

    def tick(self, state: BenchState, inputs: list[tuple[int, Any]]) -> None:
        state.tick += 1
        state.turned = []
        state.shown_presence, state.presence = state.presence, []
        for seat, heading in inputs:
            dot = state.dots[seat]
            if dot.dir != heading:
                dot.dir = heading
                state.turned.append([seat, heading])
        for dot in state.dots:
            dx, dy = STEPS[dot.dir]
            dot.x = (dot.x + dx) % SIZE
            dot.y = (dot.y + dy) % SIZE
            dot.score += 1

    def bot_input(self, state: BenchState, seat: int) -> str | None:
        if (state.tick + seat) % BOT_TURN_EVERY:
            return None
        return HEADINGS[(state.tick // BOT_TURN_EVERY + seat) % 4]

    def join(self, state: BenchState, seat: int) -> None:
        _set_presence(state, seat, True)

    def drop(self, state: BenchState, seat: int) -> None:
        _set_presence(state, seat, False)

    def leave(self, state: BenchState, seat: int) -> None:
        _set_presence(state, seat, False)  # its dot keeps moving: nobody loses in this game

    def keyframe(self, state: BenchState) -> JSON:
        return {
            "tick": state.tick,
            "phase": "over" if self.is_over(state) else "play",
            "size": SIZE,
            "players": [
                {
                    "seat": d.seat,
                    "name": d.name,
                    "bot": d.bot,
                    "x": d.x,
                    "y": d.y,
                    "dir": d.dir,
                    "score": d.score,
                    "connected": d.connected,
                }
                for d in state.dots
            ],
        }

    def delta(self, state: BenchState) -> JSON:
        delta: dict[str, Any] = {"tick": state.tick, "pos": [[d.x, d.y] for d in state.dots]}
        if state.turned:
            delta["dirs"] = state.turned
        if state.shown_presence:
            delta["connected"] = state.shown_presence
        if self.is_over(state):
            delta["phase"] = "over"
        return delta

    def is_over(self, state: BenchState) -> bool:
        return state.tick >= TIME_LIMIT_TICKS or state.stopped is not None

    def stop(self, state: BenchState, reason: str) -> None:
        state.stopped = reason

    def result(self, state: BenchState) -> Result:
        ranked = sorted(state.dots, key=lambda d: -d.score)
        placements = {d.seat: 1 + sum(o.score > d.score for o in ranked) for d in ranked}
        standings = tuple(
            Standing(seat=d.seat, score=d.score, placement=placements[d.seat]) for d in ranked
        )
        winners = [d.seat for d in ranked if placements[d.seat] == 1]
        return Result(
            standings=standings,
            winner=winners[0] if len(winners) == 1 else None,
            reason=state.stopped or ("time limit" if len(winners) == 1 else "draw"),
        )

    def dump(self, state: BenchState) -> JSON:
        return {
            "tick": state.tick,
            "stopped": state.stopped,
            "dots": [
                [d.seat, d.name, d.bot, d.x, d.y, d.dir, d.score, d.connected] for d in state.dots
            ],
        }

    def load(self, data: JSON) -> BenchState:
        return BenchState(dots=[Dot(*row) for row in data["dots"]], tick=data["tick"],
                          stopped=data.get("stopped"))  # fmt: skip


def _set_presence(state: BenchState, seat: int, connected: bool) -> None:
    """Between ticks: the next tick's delta carries it."""
    dot = state.dots[seat]
    if dot.connected != connected:
        dot.connected = connected
        state.presence.append([seat, connected])
