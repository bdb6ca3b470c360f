"""The contract between a game's rules and the engine that runs them.

A game is a plain class with no I/O: the engine owns time, sockets, storage and bots'
scheduling; the rules own what happens in one tick. Everything a rules method returns for the
wire (keyframe, delta, result) must be JSON-compatible (dicts, lists, str, int, float, bool,
None) because the engine encodes it once per tick for every player.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

JSON = Any


class InvalidInput(ValueError):
    """A player's input does not fit the game; the message says what was wrong."""


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


class Game(Protocol):
    """What the engine needs from a game. One instance serves every match of that game."""

    name: ClassVar[str]  # stable id used in the API and the database, e.g. "lightcycles"
    title: ClassVar[str]  # shown to people
    listed: ClassVar[bool]  # offered in the lobby; False for games only reachable by name
    tick_rate: ClassVar[int]  # ticks per second
    min_seats: ClassVar[int]
    max_seats: ClassVar[int]
    default_seats: ClassVar[int]
    # While a dropped person may still come back (the reconnect grace), a bot plays the seat;
    # False: the seat gets no input, as if its person sat still.
    bot_plays_absent: ClassVar[bool]

    def new_state(self, *, seed: int, seats: list[Seat]) -> Any:
        """The state at the start of a match, with every seat (people and bots) filled."""

    def parse_input(self, data: JSON) -> Any:
        """Turn a client's `data` into an input, or raise InvalidInput naming the problem."""

    def tick(self, state: Any, inputs: list[tuple[int, Any]]) -> None:
        """Advance one tick, applying (seat, input) pairs in arrival order."""

    def bot_input(self, state: Any, seat: int) -> Any | None:
        """What a bot in `seat` does this tick; deterministic for a given state."""

    def join(self, state: Any, seat: int) -> None:
        """A person's connection to `seat` is (again) present."""

    def drop(self, state: Any, seat: int) -> None:
        """The connection to `seat` is lost; its person may come back within the grace."""

    def leave(self, state: Any, seat: int) -> None:
        """The person in `seat` has given it up for good (or did not come back in time)."""

    def keyframe(self, state: Any) -> JSON:
        """The full state a client needs to draw the match from scratch."""

    def delta(self, state: Any) -> JSON:
        """What the last tick changed; keyframe + deltas applied in order == next keyframe."""

    def is_over(self, state: Any) -> bool: ...

    def result(self, state: Any) -> Result:
        """Only called once is_over() is true."""

    def stop(self, state: Any, reason: str) -> None:
        """End the match now (staff ended it): from the next tick is_over() is true, and
        result() places every seat as it stands, with `reason` as the result's reason."""

    def dump(self, state: Any) -> JSON:
        """A checkpoint: load(dump(s)) behaves exactly like s from here on."""

    def load(self, data: JSON) -> Any: ...
