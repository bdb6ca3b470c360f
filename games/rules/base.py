"""The contract between a game's rules and the engine that runs them (docs/GAMES.md).

A game is a plain class with no I/O: the engine owns time, sockets, storage and bots'
scheduling; the rules own what a move, a tick or a deadline does. Everything a rules method
returns for the wire (views, moves, results) must be JSON-compatible (dicts, lists, str, int,
float, bool, None): the engine encodes each distinct view once per frame for every socket.

Two kinds of game share one contract:
- **ticking** (Light Cycles): the engine calls `tick()` `tick_rate` times a second;
- **event-driven** (Battleship): the engine calls `move()` for each accepted move, `expire()`
  when the game's `deadline()` comes, and `join`/`drop`/`leave` on presence changes, and
  nothing in between: an idle match costs nothing and sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

JSON = Any
TICKING, EVENTS = "ticking", "events"


class InvalidInput(ValueError):
    """A player's input does not fit the game's shape; the message says what was wrong.
    Checked by the web process before the input travels (an `error` frame `bad_input`)."""


class IllegalMove(ValueError):
    """A well-formed move the state does not allow now ("not your turn", "that column is
    full"); the message goes to the mover alone as an `error` frame `illegal_move`."""


@dataclass(frozen=True)
class Seat:
    """One place in a match, filled by a person or a bot when the match starts."""

    index: int
    name: str
    bot: bool = False


@dataclass(frozen=True)
class Standing:
    seat: int
    score: int
    placement: int  # 1 is first; equal placements are ties


@dataclass(frozen=True)
class Result:
    """How a match ended; written to the database once, at match end."""

    standings: tuple[Standing, ...]
    winner: int | None  # seat index, None for a draw
    reason: str  # short, for people: "last cycle standing", "time limit", "draw"

    def to_json(self) -> JSON:
        return {
            "winner": self.winner,
            "reason": self.reason,
            "standings": [
                {"seat": s.seat, "score": s.score, "placement": s.placement} for s in self.standings
            ],
        }


@dataclass(frozen=True)
class Option:
    """A per-match setting a game offers (turn seconds, board size): its type comes from
    `default` (int or bool, or str with `choices`); ints are bounded by `low`..`high`."""

    name: str
    label: str  # shown to people in the lobby
    default: int | bool | str
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """A game that declares an option it could not check fails when it is imported, not
        at the first match someone creates."""
        if isinstance(self.default, bool):
            return
        if isinstance(self.default, int):
            if self.low is None or self.high is None or not self.low <= self.default <= self.high:
                raise ValueError(f"option {self.name!r}: an int needs low <= default <= high")
        elif self.default not in self.choices:
            raise ValueError(f"option {self.name!r}: the default must be one of its choices")

    def parse(self, value: Any) -> int | bool | str:
        """The value, or ValueError saying what this option accepts."""
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"option {self.name!r} must be true or false")
        elif isinstance(self.default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"option {self.name!r} must be a whole number")
            if not self.low <= value <= self.high:
                raise ValueError(f"option {self.name!r} must be {self.low} to {self.high}")
        elif value not in self.choices:
            raise ValueError(f"option {self.name!r} must be one of {', '.join(self.choices)}")
        return value

    def to_json(self) -> JSON:
        shown: dict[str, Any] = {"name": self.name, "label": self.label, "default": self.default}
        if isinstance(self.default, bool):
            shown["type"] = "bool"
        elif isinstance(self.default, int):
            shown.update(type="int", min=self.low, max=self.high)
        else:
            shown.update(type="choice", choices=list(self.choices))
        return shown


def parse_options(game: Game, given: Any) -> dict[str, Any]:
    """Every option of `game`, from `given` (a dict, or None for the defaults); ValueError
    names an unknown option or a bad value."""
    declared = {option.name: option for option in options_of(game)}
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ValueError("options must be an object of option name to value")
    unknown = sorted(str(name) for name in given if name not in declared)
    if unknown:
        offered = ", ".join(declared) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)}; {game.name} offers {offered}")
    return {name: option.parse(given.get(name, option.default))
            for name, option in declared.items()}  # fmt: skip


class Game(Protocol):
    """What the engine needs from every game. One instance serves every match of the game.

    Optional parts (the engine looks them up with getattr): `kind` (TICKING by default),
    `options` (none), `bots` (True), `check`, the per-seat views `seat_keyframe` and
    `seat_delta`, the spectator views `spectator_keyframe` and `spectator_delta`, and
    `spectator_delay`. A game with per-seat views is never asked for keyframe() or delta().
    """

    name: ClassVar[str]  # stable id used in the API and the database, e.g. "lightcycles"
    title: ClassVar[str]  # shown to people
    listed: ClassVar[bool]  # offered in the lobby; False for games only reachable by name
    tick_rate: ClassVar[int]  # ticking: ticks per second; event-driven: 1 (unused)
    min_seats: ClassVar[int]
    max_seats: ClassVar[int]
    default_seats: ClassVar[int]
    # While a dropped person may still come back (the reconnect grace), a bot plays the seat;
    # False: the seat gets no input, as if its person sat still.
    bot_plays_absent: ClassVar[bool]

    @staticmethod
    def apply_delta(model: JSON, delta: JSON) -> JSON:
        """A view's keyframe-shaped model with one delta applied, in place: the reference a
        browser client mirrors, and what the checklist (tests/rules/test_checklist.py) runs."""

    def new_state(self, *, seed: int, seats: list[Seat], options: dict[str, Any]) -> Any:
        """The state at the start of a match (match time 0), with every seat filled and the
        match's options (parse_options has checked them)."""

    def parse_input(self, data: JSON) -> JSON:
        """A client's `data` as the game's move (JSON-compatible: it travels to the engine),
        or InvalidInput naming the problem. The shape only: the state is not at hand."""

    def bot_input(self, state: Any, seat: int) -> JSON | None:
        """What a bot in `seat` does now; deterministic for a given state."""

    def join(self, state: Any, seat: int) -> None:
        """A person's connection to `seat` is (again) present."""

    def drop(self, state: Any, seat: int) -> None:
        """The connection to `seat` is lost; its person may come back within the grace."""

    def leave(self, state: Any, seat: int) -> None:
        """The person in `seat` has given it up for good (or did not come back in time)."""

    def keyframe(self, state: Any) -> JSON:
        """The full state a client needs to draw the match from scratch."""

    def delta(self, state: Any) -> JSON:
        """What the last step changed; keyframe + deltas applied in order == next keyframe."""

    def is_over(self, state: Any) -> bool: ...

    def result(self, state: Any) -> Result:
        """Only called once is_over() is true."""

    def stop(self, state: Any, reason: str) -> None:
        """End the match now (staff ended it): is_over() is true from now on, and result()
        places every seat as it stands, with `reason` as the result's reason."""

    def dump(self, state: Any) -> JSON:
        """A checkpoint: load(dump(s)) behaves exactly like s from here on."""

    def load(self, data: JSON) -> Any: ...


class TickingGame(Game, Protocol):
    """Advances every tick, moves or not (kind TICKING)."""

    def check(self, state: Any, seat: int, move: JSON) -> None:
        """Optional: raise IllegalMove to refuse a move when it arrives, before its tick."""

    def tick(self, state: Any, inputs: list[tuple[int, Any]]) -> None:
        """Advance one tick, applying (seat, move) pairs in arrival order."""


class EventGame(Game, Protocol):
    """Advances only on an accepted move, a deadline it asked for, or a presence change
    (kind EVENTS). Every call that changes the state is one step: the engine sends a frame
    after each, and delta() (or seat_delta) says what that one call changed. `now` is match
    time: seconds since the match started, kept by the engine across checkpoints and
    takeovers (a deadline stays pinned to the wall clock)."""

    # The clock of a seat to move waits while its person is away within the reconnect grace.
    clock_waits_for_grace: ClassVar[bool]

    def move(self, state: Any, seat: int, move: JSON, now: float) -> None:
        """Apply one move, or raise IllegalMove (and change nothing)."""

    def deadline(self, state: Any) -> float | None:
        """Match time of the next timer (a turn clock), None for none."""

    def expire(self, state: Any, now: float) -> None:
        """The deadline has come (now >= deadline())."""

    def to_move(self, state: Any) -> tuple[int, ...]:
        """The seats whose move the match waits for: their bots are asked, their clocks run."""


def kind(game: Game) -> str:
    return getattr(game, "kind", TICKING)


def options_of(game: Game) -> tuple[Option, ...]:
    return getattr(game, "options", ())


def offers_bots(game: Game) -> bool:
    return getattr(game, "bots", True)


def has_seat_views(game: Game) -> bool:
    """True: each seat sees its own view (hidden information), spectators theirs."""
    return callable(getattr(game, "seat_keyframe", None))
