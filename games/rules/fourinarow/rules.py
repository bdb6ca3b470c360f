"""Four in a Row: two players drop discs into the columns of a grid ROWS high in turns; four
of one's discs in a line (across, down or diagonally) win, a full grid is a draw. A turn has
a clock; a turn that runs out passes. Event-driven (docs/GAMES.md, "Tutorial: Four in a Row").

Move: {"column": n}. Everyone sees the same view. Keyframe:

    {"columns": 7, "rows": 6, "turn": 0, "deadline": 20.0, "phase": "playing",
     "winner": null, "reason": null, "last": [3, 0],    # the last disc dropped, or null
     "grid": [[], [], [], [0], [], [], []],             # grid[column]: seats, bottom first
     "players": [{"seat": 0, "name": "ann", "bot": false, "connected": true}, ...]}

Delta: what the last step changed. "turn", "deadline", "phase", "winner", "reason": new
values; "drop": [seat, column], one more disc (and so the new "last"); "connected":
[[seat, flag], ...]. apply_delta is the reference static/js/games/fourinarow/model.js mirrors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

from games.rules.base import EVENTS, IllegalMove, InvalidInput, Option, Result, Seat, Standing

ROWS = 6
LAST = 15  # parse_input's last column: above any grid, so move() names the real bound
PLAYING, OVER = "playing", "over"
FOUR, DRAW, OPPONENT_LEFT = "four in a row", "draw", "opponent left"
LINES = ((1, 0), (0, 1), (1, 1), (1, -1))  # across, down, and the two diagonals
View = dict[str, Any]


@dataclass(slots=True, eq=False)
class FourState:
    columns: int
    turn_seconds: int
    names: list[str]
    bots: list[bool]
    grid: list[list[int]]  # grid[column] = the seats of its discs, bottom first
    connected: list[bool]
    turn: int = 0
    deadline: float | None = None
    phase: str = PLAYING
    winner: int | None = None
    reason: str | None = None
    last: list[int] | None = None  # [column, row] of the last disc: what the client marks
    changes: dict[str, Any] = field(default_factory=dict)  # what the last step changed


def apply_delta(model: View, delta: View) -> View:
    """One step's delta applied to the keyframe-shaped model of the step before; returns it."""
    for key in ("turn", "deadline", "phase", "winner", "reason"):
        if key in delta:
            model[key] = delta[key]
    if "drop" in delta:
        seat, column = delta["drop"]
        model["grid"][column].append(seat)
        model["last"] = [column, len(model["grid"][column]) - 1]
    for seat, connected in delta.get("connected", ()):
        model["players"][seat]["connected"] = connected
    return model


class FourInARow:
    """The rules; one instance serves every match (all of a match lives in its FourState)."""

    apply_delta = staticmethod(apply_delta)  # the reference the client mirrors
    name: ClassVar[str] = "fourinarow"  # the id in the API and the database: never rename
    title: ClassVar[str] = "Four in a Row"
    listed: ClassVar[bool] = True
    kind: ClassVar[str] = EVENTS
    tick_rate: ClassVar[int] = 1  # unused by an event-driven game
    min_seats: ClassVar[int] = 2
    max_seats: ClassVar[int] = 2
    default_seats: ClassVar[int] = 2
    bot_plays_absent: ClassVar[bool] = False  # nobody moves for a person who is away...
    clock_waits_for_grace: ClassVar[bool] = True  # ...and their clock waits for them
    bots: ClassVar[bool] = True
    options: ClassVar[tuple[Option, ...]] = (
        Option("columns", "Columns", 7, 5, 9),
        Option("turn_seconds", "Seconds per turn", 20, 5, 120),
    )

    def new_state(self, *, seed: int, seats: list[Seat], options: dict[str, Any]) -> FourState:
        seats = sorted(seats, key=lambda s: s.index)
        if [s.index for s in seats] != [0, 1]:
            raise ValueError(f"four in a row needs seats 0 and 1, got {seats}")
        state = FourState(
            columns=options["columns"],
            turn_seconds=options["turn_seconds"],
            names=[seat.name for seat in seats],
            bots=[seat.bot for seat in seats],
            grid=[[] for _ in range(options["columns"])],
            connected=[seat.bot for seat in seats],
            turn=seed % 2,
        )
        state.deadline = float(state.turn_seconds)
        return state

    def parse_input(self, data: Any) -> View:
        if not isinstance(data, dict) or set(data) != {"column"}:
            raise InvalidInput('a move is {"column": n}, the column to drop a disc into')
        column = data["column"]
        if isinstance(column, bool) or not isinstance(column, int) or not 0 <= column <= LAST:
            raise InvalidInput(f'"column" must be a whole number 0 to {LAST}, got {column!r}')
        return {"column": column}

    def move(self, state: FourState, seat: int, move: View, now: float) -> None:
        column = move["column"]
        if state.phase == OVER:
            raise IllegalMove("the match is over")
        if seat != state.turn:
            raise IllegalMove("it is not your turn")
        if column >= state.columns:
            raise IllegalMove(f"there are only {state.columns} columns")
        if len(state.grid[column]) == ROWS:
            raise IllegalMove(f"column {column + 1} is full")
        state.changes = {"drop": [seat, column]}  # a new step: from here on, what it changes
        state.grid[column].append(seat)
        state.last = [column, len(state.grid[column]) - 1]
        if _four(state.grid, column, seat):
            _finish(state, seat, FOUR)
        elif all(len(discs) == ROWS for discs in state.grid):
            _finish(state, None, DRAW)
        else:
            _next_turn(state, now)

    def deadline(self, state: FourState) -> float | None:
        return state.deadline

    def expire(self, state: FourState, now: float) -> None:
        """The turn ran out: the turn passes, and nothing else."""
        state.changes = {}
        if state.phase == PLAYING:
            _next_turn(state, now)

    def to_move(self, state: FourState) -> tuple[int, ...]:
        return (state.turn,) if state.phase == PLAYING else ()

    def bot_input(self, state: FourState, seat: int) -> View | None:
        if state.phase != PLAYING or seat != state.turn:
            return None
        return {"column": choose_column(state.grid, state.columns, seat)}

    def join(self, state: FourState, seat: int) -> None:
        _connect(state, seat, True)

    def drop(self, state: FourState, seat: int) -> None:
        _connect(state, seat, False)

    def leave(self, state: FourState, seat: int) -> None:
        _connect(state, seat, False)
        if state.phase == PLAYING:
            _finish(state, 1 - seat, OPPONENT_LEFT)

    def stop(self, state: FourState, reason: str) -> None:
        """Staff ended the match: nobody has four, so it stands as a draw."""
        state.changes = {}
        if state.phase == PLAYING:
            _finish(state, None, reason)

    def keyframe(self, state: FourState) -> View:
        return {
            "columns": state.columns,
            "rows": ROWS,
            "turn": state.turn,
            "deadline": state.deadline,
            "phase": state.phase,
            "winner": state.winner,
            "reason": state.reason,
            "last": None if state.last is None else state.last[:],
            "grid": [discs[:] for discs in state.grid],
            "players": [_player(state, seat) for seat in range(len(state.names))],
        }

    def delta(self, state: FourState) -> View:
        return copy.deepcopy(state.changes)

    def is_over(self, state: FourState) -> bool:
        return state.phase == OVER

    def result(self, state: FourState) -> Result:
        places = [1 if state.winner in (None, seat) else 2 for seat in (0, 1)]
        standings = tuple(Standing(seat, int(places[seat] == 1), places[seat]) for seat in (0, 1))
        return Result(standings, state.winner, state.reason or DRAW)

    def dump(self, state: FourState) -> View:
        return copy.deepcopy({name: getattr(state, name) for name in FourState.__slots__})

    def load(self, data: View) -> FourState:
        return FourState(**copy.deepcopy(data))  # a checkpoint may be shared: never alias it


def _player(state: FourState, seat: int) -> View:
    return {"seat": seat, "name": state.names[seat], "bot": state.bots[seat],
            "connected": state.connected[seat]}  # fmt: skip


def _next_turn(state: FourState, now: float) -> None:
    state.turn = 1 - state.turn
    state.deadline = now + state.turn_seconds
    state.changes.update(turn=state.turn, deadline=state.deadline)


def _finish(state: FourState, winner: int | None, reason: str) -> None:
    state.phase, state.winner, state.reason, state.deadline = OVER, winner, reason, None
    state.changes.update(phase=OVER, winner=winner, reason=reason, deadline=None)


def _connect(state: FourState, seat: int, connected: bool) -> None:
    """A presence change is a step of its own; its delta names the flag only if it changed."""
    state.changes = {}
    if state.connected[seat] != connected:
        state.connected[seat] = connected
        state.changes["connected"] = [[seat, connected]]


def _seat_at(grid: list[list[int]], column: int, row: int) -> int | None:
    if 0 <= column < len(grid) and 0 <= row < len(grid[column]):
        return grid[column][row]
    return None


def _four(grid: list[list[int]], column: int, seat: int) -> bool:
    """Whether the top disc of `column` (seat's, just dropped) makes four in a line."""
    row = len(grid[column]) - 1
    for dc, dr in LINES:
        run = 1
        for sign in (1, -1):
            c, r = column + sign * dc, row + sign * dr
            while _seat_at(grid, c, r) == seat:
                run, c, r = run + 1, c + sign * dc, r + sign * dr
        if run >= 4:
            return True
    return False


def _wins(grid: list[list[int]], column: int, seat: int) -> bool:
    """Whether `seat` dropping into `column` now would make four (the grid is left as it was)."""
    if len(grid[column]) == ROWS:
        return False
    grid[column].append(seat)
    try:
        return _four(grid, column, seat)
    finally:
        grid[column].pop()


def choose_column(grid: list[list[int]], columns: int, seat: int) -> int:
    """The bot's column: a win if there is one, else block the other's, else the open column
    nearest the middle that does not hand the other a win on top of it. The grid is left as
    it was, and ties go left, so the choice depends on the grid alone."""
    other = 1 - seat
    open_columns = sorted(
        (c for c in range(columns) if len(grid[c]) < ROWS),
        key=lambda c: (abs(2 * c - (columns - 1)), c),
    )
    for wanted in (seat, other):
        for column in open_columns:
            if _wins(grid, column, wanted):
                return column
    for column in open_columns:
        grid[column].append(seat)
        try:
            gives = _wins(grid, column, other)
        finally:
            grid[column].pop()
        if not gives:
            return column
    return open_columns[0]
