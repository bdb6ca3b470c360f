"""Battleship: two players hide a fleet each and take turns firing at the other's board; the
first to sink the whole of the other's fleet wins.

Phases: "placing" (both place FLEET at once within `placement_seconds`; at the deadline anyone
not done gets a random fleet), "firing" (one shot a turn, hit or miss, within `turn_seconds`;
a turn that runs out passes, and the third in a row forfeits) and "over". The rules are pure
and deterministic for a seed and a log of calls with their `now`: the first firer and the
fleets given at the deadline come from a `random.Random` kept in the state and checkpoints.
Geometry is in battleship/board.py, the bot in battleship/bot.py.

Moves: {"place": [[x, y, "h" | "v"], ...]}, one entry per length of FLEET in its order, and
{"fire": [x, y]}.

Views hide what a player may not know: a seat sees its own ships, every shot and the ships
sunk; a spectator the same but no ship afloat. Keyframe (seat_keyframe, spectator_keyframe):

    {"phase": "firing", "size": 10, "fleet": [5, 4, 3, 3, 2], "turn": 1, "deadline": 94.5,
     "you": 0,                                    # null for spectators
     "players": [{"seat": 0, "name": "ann", "bot": false, "connected": true, "ready": true,
                  "hits": 3, "timeouts": 0}, ...],
     "ships": [[x, y, dir, length], ...],         # your own; [] until placed, and for spectators
     "shots": [[[x, y, hit], ...], [...]],        # fired BY seat 0, by seat 1, in order
     "sunk": [[[x, y, dir, length], ...], [...]], # OWNED by seat 0, by seat 1, in sinking order
     "winner": null, "reason": null}

Delta (seat_delta, spectator_delta): what the last step changed, {} if nothing visible did.
"phase", "turn", "deadline", "winner", "reason": new values. "shot": [shooter, x, y, hit] and
"sunk": [owner, x, y, dir, length]: one more of each. "ready": [seat, ...]: placed their fleet
this step. "ships": your fleet, in your own view only, in the step it was placed (by you, or
for you at the deadline). "players": [[seat, field, value], ...] sets "connected", "hits" or
"timeouts". apply_delta is the reference a client mirrors.
"""

from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from games.rules.base import EVENTS, IllegalMove, InvalidInput, Option, Result, Seat, Standing
from games.rules.battleship.board import FLEET, Ship, fleet_problem, random_fleet, ship_cells
from games.rules.battleship.bot import bot_placement, bot_target

PLACING, FIRING, OVER = "placing", "firing", "over"
FLEET_SUNK, OUT_OF_TIME, OPPONENT_LEFT = "fleet sunk", "out of time", "opponent left"
MAX_TIMEOUTS = 3  # turns in a row a seat may let run out; the third forfeits
COORDINATE_LIMIT = 31  # parse_input's bound: above any board, so move() names the real one
COORDINATES = f"x and y whole numbers 0 to {COORDINATE_LIMIT}"
OPTIONS = (
    Option("size", "Board size", 10, 8, 12),
    Option("turn_seconds", "Seconds per turn", 30, 5, 120),
    Option("placement_seconds", "Seconds to place ships", 60, 10, 180),
)
PLAYER_VIEW = ("seat", "name", "bot", "connected", "hits", "timeouts")  # and "ready"
View = dict[str, Any]  # a keyframe, a delta or a move: JSON objects
MOVE_EXAMPLES = '{"fire": [3, 4]} or {"place": [[0, 0, "h"], [0, 2, "v"], ...]}'


@dataclass(slots=True, eq=False)
class Player:
    seat: int
    name: str
    bot: bool
    connected: bool
    ships: list[Ship] = field(default_factory=list)  # empty until placed (not ready)
    shots: list[list[Any]] = field(default_factory=list)  # [x, y, hit] fired by this seat
    sunk: list[int] = field(default_factory=list)  # indexes into ships, in sinking order
    hits: int = 0
    timeouts: int = 0  # consecutive turns run out


@dataclass(slots=True, eq=False)
class BattleshipState:
    seed: int
    rng: random.Random
    size: int
    turn_seconds: int
    first: int  # the seat that fires first, drawn at the start
    players: list[Player]
    phase: str = PLACING
    turn: int | None = None
    deadline: float | None = None
    winner: int | None = None
    reason: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)  # what the last step changed


def apply_delta(model: View, delta: View) -> View:
    """Apply one step's delta to the keyframe-shaped model of the step before; returns it."""
    for key in ("phase", "turn", "deadline", "winner", "reason"):
        if key in delta:
            model[key] = delta[key]
    for seat in delta.get("ready", ()):
        model["players"][seat]["ready"] = True
    for seat, name, value in delta.get("players", ()):
        model["players"][seat][name] = value
    if "ships" in delta:
        model["ships"] = [ship[:] for ship in delta["ships"]]
    if "shot" in delta:
        shooter, x, y, hit = delta["shot"]
        model["shots"][shooter].append([x, y, hit])
    if "sunk" in delta:
        owner, *ship = delta["sunk"]
        model["sunk"][owner].append(ship)
    return model


class Battleship:
    """The rules; one instance serves every match (all match data lives in the state).

    Every call that changes the state is one step: it starts a new `changes` record, which
    the deltas are read from, and a refused move raises before touching anything.
    """

    apply_delta = staticmethod(apply_delta)  # the reference a client mirrors
    name: ClassVar[str] = "battleship"
    title: ClassVar[str] = "Battleship"
    listed: ClassVar[bool] = True
    kind: ClassVar[str] = EVENTS
    tick_rate: ClassVar[int] = 1
    min_seats: ClassVar[int] = 2
    max_seats: ClassVar[int] = 2
    default_seats: ClassVar[int] = 2
    bot_plays_absent: ClassVar[bool] = False  # an absent player's clock runs; nobody fires
    clock_waits_for_grace: ClassVar[bool] = True
    bots: ClassVar[bool] = True
    options: ClassVar[tuple[Option, ...]] = OPTIONS

    def new_state(
        self, *, seed: int, seats: list[Seat], options: dict[str, Any] | None = None
    ) -> BattleshipState:
        seats = sorted(seats, key=lambda s: s.index)
        if [s.index for s in seats] != [0, 1]:
            raise ValueError(f"battleship needs seats 0 and 1, got {seats}")
        chosen = {o.name: (options or {}).get(o.name, o.default) for o in OPTIONS}
        rng = random.Random(seed)
        players = [Player(s.index, s.name, s.bot, connected=s.bot) for s in seats]
        state = BattleshipState(
            seed, rng, chosen["size"], chosen["turn_seconds"], rng.randrange(2), players
        )
        state.deadline = chosen["placement_seconds"]
        return state

    def parse_input(self, data: Any) -> View:
        """The move with its shape checked, as fresh lists; what the state allows is move()'s."""
        _require(
            isinstance(data, dict) and len(data) == 1 and data.keys() <= {"place", "fire"},
            f'a move is an object with one field, "place" or "fire", like {MOVE_EXAMPLES}',
            data,
        )
        if "fire" in data:
            cell = data["fire"]
            _require(_is_cell(cell), f'"fire" must be [x, y], {COORDINATES}, like [3, 4]', cell)
            return {"fire": cell[:]}
        placement, lengths = data["place"], ", ".join(map(str, FLEET))
        _require(
            isinstance(placement, list) and len(placement) == len(FLEET),
            f'"place" must list {len(FLEET)} ships [x, y, "h" or "v"], one for each length '
            f"{lengths} in that order",
            placement,
        )
        for number, ship in enumerate(placement, start=1):
            well_formed = isinstance(ship, list) and len(ship) == 3 and _is_cell(ship[:2])
            _require(
                well_formed and ship[2] in ("h", "v"),
                f'"place" ship {number} must be [x, y, "h" or "v"], {COORDINATES}',
                ship,
            )
        return {"place": [ship[:] for ship in placement]}

    def move(self, state: BattleshipState, seat: int, move: View, now: float) -> None:
        if "place" in move:
            fleet = _check_placement(state, seat, move["place"])
            state.changes = {}
            _place(state, seat, fleet)
            if all(player.ships for player in state.players):
                _set(state, phase=FIRING, turn=state.first, deadline=now + state.turn_seconds)
        else:
            x, y = move["fire"]
            _check_shot(state, seat, x, y)
            state.changes = {}
            _fire(state, seat, x, y, now)

    def deadline(self, state: BattleshipState) -> float | None:
        return state.deadline

    def expire(self, state: BattleshipState, now: float) -> None:
        """Placing: fleets at random for whoever is not done. Firing: the turn passes."""
        state.changes = {}
        if state.phase == PLACING:
            for player in state.players:
                if not player.ships:
                    _place(state, player.seat, random_fleet(state.rng, state.size))
            _set(state, phase=FIRING, turn=state.first, deadline=now + state.turn_seconds)
        elif state.phase == FIRING:
            seat = state.turn
            _set_player(state, seat, timeouts=state.players[seat].timeouts + 1)
            if state.players[seat].timeouts >= MAX_TIMEOUTS:
                _finish(state, 1 - seat, OUT_OF_TIME)
            else:
                _set(state, turn=1 - seat, deadline=now + state.turn_seconds)

    def to_move(self, state: BattleshipState) -> tuple[int, ...]:
        if state.phase == PLACING:
            return tuple(player.seat for player in state.players if not player.ships)
        return (state.turn,) if state.phase == FIRING else ()

    def bot_input(self, state: BattleshipState, seat: int) -> View | None:
        """A random fleet while placing, then hunt and target (bot.py); never an illegal move."""
        player = state.players[seat]
        if state.phase == PLACING and not player.ships:
            return {"place": bot_placement(state.seed, seat, state.size)}
        if state.phase == FIRING and seat == state.turn:
            sunk = _sunk_ships(state.players[1 - seat])
            return {"fire": bot_target(state.seed, seat, player.shots, sunk, state.size)}
        return None

    def join(self, state: BattleshipState, seat: int) -> None:
        state.changes = {}
        _set_player(state, seat, connected=True)

    def drop(self, state: BattleshipState, seat: int) -> None:
        state.changes = {}
        _set_player(state, seat, connected=False)

    def leave(self, state: BattleshipState, seat: int) -> None:
        state.changes = {}
        _set_player(state, seat, connected=False)
        if state.phase != OVER:
            _finish(state, 1 - seat, OPPONENT_LEFT)

    def stop(self, state: BattleshipState, reason: str) -> None:
        """Ends now: more hits landed places first, equal hits are a tie."""
        state.changes = {}
        if state.phase != OVER:
            mine, theirs = (player.hits for player in state.players)
            _finish(state, None if mine == theirs else int(theirs > mine), reason)

    def is_over(self, state: BattleshipState) -> bool:
        return state.phase == OVER

    def result(self, state: BattleshipState) -> Result:
        if state.phase != OVER:
            raise RuntimeError("result() needs a finished match: check is_over() first")
        placed = sorted((1 if state.winner in (None, p.seat) else 2, p.seat, p.hits)
                        for p in state.players)  # fmt: skip
        standings = tuple(Standing(seat, hits, place) for place, seat, hits in placed)
        return Result(standings, state.winner, state.reason)

    def seat_keyframe(self, state: BattleshipState, seat: int) -> View:
        return _keyframe(state, seat)

    def seat_delta(self, state: BattleshipState, seat: int) -> View:
        delta = copy.deepcopy(state.changes)
        if seat in delta.get("ready", ()):
            delta["ships"] = [ship[:] for ship in state.players[seat].ships]
        return delta

    def spectator_keyframe(self, state: BattleshipState) -> View:
        return _keyframe(state, None)

    def spectator_delta(self, state: BattleshipState) -> View:
        return copy.deepcopy(state.changes)

    def dump(self, state: BattleshipState) -> View:
        """Every field of the state: the generator's as lists, players as objects."""
        data = {f.name: getattr(state, f.name) for f in fields(state)}
        version, internal, gauss = state.rng.getstate()
        data["rng"] = [version, list(internal), gauss]
        data["players"] = [asdict(player) for player in state.players]  # asdict copies lists
        data["changes"] = copy.deepcopy(state.changes)
        return data

    def load(self, data: Any) -> BattleshipState:
        data = copy.deepcopy(data)  # a checkpoint may be shared; never alias its lists
        version, internal, gauss = data.pop("rng")
        rng = random.Random()
        rng.setstate((version, tuple(internal), gauss))
        players = [Player(**row) for row in data.pop("players")]
        return BattleshipState(rng=rng, players=players, **data)


def _is_cell(value: Any) -> bool:
    if not (isinstance(value, list) and len(value) == 2):
        return False
    return all(type(c) is int and 0 <= c <= COORDINATE_LIMIT for c in value)


def _require(ok: bool, message: str, given: Any) -> None:
    if not ok:
        raise InvalidInput(f"{message}; got {repr(given)[:40]}")


def _check_placement(state: BattleshipState, seat: int, placement: list[list[Any]]) -> list[Ship]:
    """The fleet as ships, or IllegalMove saying why this seat cannot place it now."""
    if state.phase == OVER:
        raise IllegalMove("the match is over")
    if state.players[seat].ships:
        raise IllegalMove("your fleet is placed already")
    fleet = [[x, y, way, length] for (x, y, way), length in zip(placement, FLEET, strict=True)]
    problem = fleet_problem(fleet, state.size)
    if problem:
        raise IllegalMove(problem)
    return fleet


def _check_shot(state: BattleshipState, seat: int, x: int, y: int) -> None:
    if state.phase == OVER:
        raise IllegalMove("the match is over")
    if state.phase == PLACING:
        raise IllegalMove("ships are still being placed")
    if seat != state.turn:
        raise IllegalMove("it is not your turn")
    if not (0 <= x < state.size and 0 <= y < state.size):
        raise IllegalMove(f"({x}, {y}) is off the {state.size}×{state.size} board")
    if [x, y] in (shot[:2] for shot in state.players[seat].shots):
        raise IllegalMove(f"you already fired at ({x}, {y})")


def _place(state: BattleshipState, seat: int, fleet: list[Ship]) -> None:
    state.players[seat].ships = fleet
    state.changes.setdefault("ready", []).append(seat)


def _fire(state: BattleshipState, seat: int, x: int, y: int, now: float) -> None:
    shooter, target = state.players[seat], state.players[1 - seat]
    struck = next((i for i, ship in enumerate(target.ships) if (x, y) in ship_cells(ship)), None)
    hit = struck is not None
    shooter.shots.append([x, y, hit])
    state.changes["shot"] = [seat, x, y, hit]
    _set_player(state, seat, timeouts=0, hits=shooter.hits + hit)
    fired = {(sx, sy) for sx, sy, _ in shooter.shots}
    if hit and fired.issuperset(ship_cells(target.ships[struck])):
        target.sunk.append(struck)
        state.changes["sunk"] = [target.seat, *target.ships[struck]]
        if len(target.sunk) == len(FLEET):
            _finish(state, seat, FLEET_SUNK)
            return
    _set(state, turn=1 - seat, deadline=now + state.turn_seconds)


def _finish(state: BattleshipState, winner: int | None, reason: str) -> None:
    _set(state, phase=OVER, turn=None, deadline=None, winner=winner, reason=reason)


def _set(state: BattleshipState, **values: Any) -> None:
    """Change top-level values, noting in this step's record those that did change."""
    for name, value in values.items():
        if getattr(state, name) != value:
            setattr(state, name, value)
            state.changes[name] = value


def _set_player(state: BattleshipState, seat: int, **values: Any) -> None:
    player = state.players[seat]
    for name, value in values.items():
        if getattr(player, name) != value:
            setattr(player, name, value)
            state.changes.setdefault("players", []).append([seat, name, value])


def _sunk_ships(player: Player) -> list[Ship]:
    return [player.ships[i][:] for i in player.sunk]


def _keyframe(state: BattleshipState, you: int | None) -> View:
    return {
        "phase": state.phase,
        "size": state.size,
        "fleet": list(FLEET),
        "turn": state.turn,
        "deadline": state.deadline,
        "you": you,
        "players": [
            {**{name: getattr(p, name) for name in PLAYER_VIEW}, "ready": bool(p.ships)}
            for p in state.players
        ],
        "ships": [] if you is None else [ship[:] for ship in state.players[you].ships],
        "shots": [[shot[:] for shot in p.shots] for p in state.players],
        "sunk": [_sunk_ships(p) for p in state.players],
        "winner": state.winner,
        "reason": state.reason,
    }
