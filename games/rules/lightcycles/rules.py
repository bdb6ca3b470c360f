"""Light Cycles: a realtime Tron arena for 2 to 8 players.

Every cycle moves one cell every MOVE_EVERY ticks and leaves a trail; whoever runs into a wall or
any trail crashes. Crashed cycles stay on the board: their trails are obstacles to the end. The
rules are pure and deterministic for a seed and an input log; the only randomness (the spawn
layout, bots' occasional turns) comes from a `random.Random` kept in the state and checkpoints.

Coordinates are cells, x to the right and y downwards, (0, 0) top left (lightcycles/grid.py). The
wire format and the `apply_delta` algorithm a client mirrors are described in docs/GAMES.md; the
bots' steering is in lightcycles/bot.py.
"""

from __future__ import annotations

import math
import random
from dataclasses import astuple, dataclass, field
from typing import Any, ClassVar

from games.rules.base import JSON, InvalidInput, Result, Seat, Standing
from games.rules.lightcycles.bot import choose_heading
from games.rules.lightcycles.grid import HEIGHT, OFFSETS, OPPOSITE, STEPS, STRIDE, WIDTH, cell_index

TICK_RATE = 20
COUNTDOWN_TICKS = 3 * TICK_RATE  # nobody moves, inputs still set the heading
MOVE_EVERY = 2  # ticks per cell: 10 cells/s
PLAY_TICKS = 90 * TICK_RATE  # the time limit, counted from the end of the countdown
MOVE_POINTS = 1  # per cell moved
CRASH_BONUS = 10  # to every cycle still alive, per cycle that crashes
LAST_BONUS = 50  # to the last cycle standing
SPAWN_MARGIN = 10  # cells between the spawn ellipse and the walls
SPAWN_CLEAR_MOVES = 12  # moves everyone survives going straight from the start (1.2 s)
SPAWN_TRIES = 20  # redraws allowed to get there; in practice one or two do

COUNTDOWN, PLAY, OVER = "countdown", "play", "over"
LAST_STANDING, TIME_LIMIT, DRAW = "last cycle standing", "time limit", "draw"


@dataclass(slots=True, eq=False)
class Cycle:
    seat: int
    name: str
    bot: bool
    x: int
    y: int
    heading: str  # where the next move goes; what keyframes show as "dir"
    travelled: str  # the direction of the last move; a heading may never reverse it
    trail: list[list[int]]  # polyline of corner cells: start, each turn, the head
    alive: bool = True
    connected: bool = False
    score: int = 0
    placement: int | None = None  # set when the cycle crashes or the match ends


@dataclass(slots=True, eq=False)
class LightCyclesState:
    seed: int
    rng: random.Random
    cycles: list[Cycle]
    grid: bytearray  # padded, 1 where a wall or a trail is
    tick: int = 0
    phase: str = COUNTDOWN
    countdown: int = COUNTDOWN_TICKS
    play_ticks: int = 0
    reason: str | None = None
    seen: list[Any] = field(default_factory=list)  # what clients saw at the last tick's end
    last_delta: dict[str, Any] = field(default_factory=dict)


def extend_trail(trail: list[list[int]], x: int, y: int) -> None:
    """Add a head one step from trail[-1]: lengthen the last segment, or start a new one.

    The server and apply_delta both build trails with this, which keeps keyframes and
    keyframe + deltas identical.
    """
    hx, hy = trail[-1]
    if len(trail) >= 2:
        px, py = trail[-2]
        if x - hx == _sign(hx - px) and y - hy == _sign(hy - py):
            trail[-1] = [x, y]
            return
    trail.append([x, y])


def apply_delta(model: JSON, delta: JSON) -> JSON:
    """Apply one tick's delta to a keyframe-shaped model, in place; returns the model.

    Every entry but "moves" sets a value, so applying a delta to a keyframe that already
    contains a leave or join from between ticks is harmless.
    """
    model["tick"] = delta["tick"]
    for key in ("phase", "countdown"):
        if key in delta:
            model[key] = delta[key]
    players = model["players"]
    for seat, x, y in delta.get("moves", ()):
        player = players[seat]
        extend_trail(player["trail"], x, y)
        player["x"], player["y"] = x, y
    for seat, heading in delta.get("dirs", ()):
        players[seat]["dir"] = heading
    for seat in delta.get("crashed", ()):
        players[seat]["alive"] = False
    for seat, score in delta.get("scores", ()):
        players[seat]["score"] = score
    for seat, connected in delta.get("connected", ()):
        players[seat]["connected"] = connected
    return model


class LightCycles:
    """The rules; one instance serves every match (all match data lives in the state)."""

    apply_delta = staticmethod(apply_delta)  # the reference a client mirrors
    name: ClassVar[str] = "lightcycles"
    title: ClassVar[str] = "Light Cycles"
    listed: ClassVar[bool] = True
    tick_rate: ClassVar[int] = TICK_RATE
    min_seats: ClassVar[int] = 2
    max_seats: ClassVar[int] = 8
    default_seats: ClassVar[int] = 4
    bot_plays_absent: ClassVar[bool] = True  # a dropped player is not crashed by the drop

    def new_state(
        self, *, seed: int, seats: list[Seat], options: dict[str, Any] | None = None
    ) -> LightCyclesState:
        seats = sorted(seats, key=lambda s: s.index)
        if not self.min_seats <= len(seats) <= self.max_seats:
            raise ValueError(
                f"lightcycles needs {self.min_seats} to {self.max_seats} seats, got {len(seats)}"
            )
        if [s.index for s in seats] != list(range(len(seats))):
            raise ValueError(f"seat indexes must be 0..{len(seats) - 1}, got {seats}")
        rng = random.Random(seed)
        cycles = [
            Cycle(s.index, s.name, s.bot, x, y, d, d, [[x, y]], connected=s.bot)
            for s, (x, y, d) in zip(seats, _spawns(rng, len(seats)), strict=True)
        ]
        state = LightCyclesState(seed, rng, cycles, _build_grid(cycles))
        state.seen = _visible(state)
        state.last_delta = {"tick": 0}
        return state

    def parse_input(self, data: JSON) -> str:
        """Return the requested direction; the message of InvalidInput says how to fix it."""
        example = 'like {"dir": "up"}'
        if not isinstance(data, dict):
            raise InvalidInput(f"input must be an object {example}, got {type(data).__name__}")
        extra = sorted(str(k) for k in data if k != "dir")
        if extra:
            raise InvalidInput(f'unknown input field(s) {", ".join(extra)}: only "dir" is allowed')
        if "dir" not in data:
            raise InvalidInput(f'input needs "dir", {example}')
        heading = data["dir"]
        if not isinstance(heading, str) or heading not in STEPS:
            shown = repr(heading)[:20]
            raise InvalidInput(f'"dir" must be "up", "down", "left" or "right", got {shown}')
        return heading

    def tick(self, state: LightCyclesState, inputs: list[tuple[int, Any]]) -> None:
        state.tick += 1
        moves: list[list[int]] = []
        if state.phase != OVER:
            for seat, heading in inputs:
                cycle = state.cycles[seat]
                if cycle.alive and heading != OPPOSITE[cycle.travelled]:
                    cycle.heading = heading
            if state.phase == COUNTDOWN:
                state.countdown -= 1
                if state.countdown == 0:
                    state.phase = PLAY
            else:
                state.play_ticks += 1
                if state.play_ticks % MOVE_EVERY == 0:
                    moves = _step(state)
                if state.phase == PLAY and state.play_ticks >= PLAY_TICKS:
                    _place_survivors(state, TIME_LIMIT)
        seen = _visible(state)
        state.last_delta = _diff(state.tick, state.seen, seen, moves)
        state.seen = seen

    def bot_input(self, state: LightCyclesState, seat: int) -> str | None:
        """Steer only just before a move, so a bot costs next to nothing on other ticks."""
        cycle = state.cycles[seat]
        if not cycle.alive or state.phase != PLAY or (state.play_ticks + 1) % MOVE_EVERY:
            return None
        choice = choose_heading(state, cycle)
        return None if choice == cycle.heading else choice

    def join(self, state: LightCyclesState, seat: int) -> None:
        state.cycles[seat].connected = True

    def drop(self, state: LightCyclesState, seat: int) -> None:
        """The cycle rides on, steered by the bot, until its person is back or the grace ends."""
        state.cycles[seat].connected = False

    def leave(self, state: LightCyclesState, seat: int) -> None:
        """Giving up a seat crashes its cycle at once; the next delta carries the change."""
        cycle = state.cycles[seat]
        cycle.connected = False
        if cycle.alive and state.phase != OVER:
            _eliminate(state, [cycle])

    def stop(self, state: LightCyclesState, reason: str) -> None:
        if state.phase != OVER:
            _place_survivors(state, reason)

    def keyframe(self, state: LightCyclesState) -> JSON:
        return {
            "phase": state.phase,
            "tick": state.tick,
            "countdown": state.countdown,
            "width": WIDTH,
            "height": HEIGHT,
            "players": [
                {
                    "seat": c.seat,
                    "name": c.name,
                    "bot": c.bot,
                    "alive": c.alive,
                    "connected": c.connected,
                    "dir": c.heading,
                    "x": c.x,
                    "y": c.y,
                    "score": c.score,
                    "trail": [point[:] for point in c.trail],
                }
                for c in state.cycles
            ],
        }

    def delta(self, state: LightCyclesState) -> JSON:
        return state.last_delta

    def is_over(self, state: LightCyclesState) -> bool:
        return state.phase == OVER

    def result(self, state: LightCyclesState) -> Result:
        if state.phase != OVER:
            raise RuntimeError("result() needs a finished match: check is_over() first")
        placed = [(c.placement, c.seat, c.score) for c in state.cycles]
        if any(placement is None for placement, _, _ in placed):
            raise RuntimeError(f"a finished match left a cycle without a place: {placed}")
        standings = tuple(Standing(seat, score, place) for place, seat, score in sorted(placed))
        firsts = [s.seat for s in standings if s.placement == 1]
        winner = firsts[0] if len(firsts) == 1 else None
        return Result(standings, winner, state.reason or DRAW)

    def dump(self, state: LightCyclesState) -> JSON:
        version, internal, gauss = state.rng.getstate()
        return {
            "seed": state.seed,
            "rng": [version, list(internal), gauss],
            "tick": state.tick,
            "phase": state.phase,
            "countdown": state.countdown,
            "play_ticks": state.play_ticks,
            "reason": state.reason,
            "seen": state.seen,
            "last_delta": state.last_delta,
            "cycles": [list(astuple(c)) for c in state.cycles],  # astuple copies the trails
        }

    def load(self, data: JSON) -> LightCyclesState:
        rng = random.Random()
        version, internal, gauss = data["rng"]
        rng.setstate((version, tuple(internal), gauss))
        cycles = [Cycle(*row) for row in data["cycles"]]
        for cycle in cycles:  # a checkpoint may be shared; never alias its lists
            cycle.trail = [point[:] for point in cycle.trail]
        return LightCyclesState(
            data["seed"],
            rng,
            cycles,
            _build_grid(cycles),
            tick=data["tick"],
            phase=data["phase"],
            countdown=data["countdown"],
            play_ticks=data["play_ticks"],
            reason=data["reason"],
            seen=[data["seen"][0], data["seen"][1], [row[:] for row in data["seen"][2]]],
            last_delta=data["last_delta"],
        )


def _sign(v: int) -> int:
    return (v > 0) - (v < 0)


def _spawns(rng: random.Random, count: int) -> list[tuple[int, int, str]]:
    """Evenly round an ellipse, turned by the seed, all heading the same way round it.

    Cycles going round one way chase each other instead of meeting head on. Rounding to cells
    can still put a cycle on the line of the one ahead, so such a draw is redrawn.
    """
    cx, cy = (WIDTH - 1) / 2, (HEIGHT - 1) / 2
    rx, ry = cx - SPAWN_MARGIN, cy - SPAWN_MARGIN
    for _ in range(SPAWN_TRIES):
        offset = rng.random() * 2 * math.pi / count
        turn = 1 if rng.random() < 0.5 else -1  # clockwise or not
        spawns = []
        for k in range(count):
            angle = offset + 2 * math.pi * k / count
            tx, ty = -rx * math.sin(angle) * turn, ry * math.cos(angle) * turn
            if abs(tx) >= abs(ty):
                heading = "right" if tx > 0 else "left"
            else:
                heading = "down" if ty > 0 else "up"
            x, y = round(cx + rx * math.cos(angle)), round(cy + ry * math.sin(angle))
            spawns.append((x, y, heading))
        rng.shuffle(spawns)
        if _clear_start(spawns):
            break
    return spawns


def _clear_start(spawns: list[tuple[int, int, str]]) -> bool:
    """Would every cycle survive SPAWN_CLEAR_MOVES moves without steering?"""
    cycles = [Cycle(i, "", False, x, y, d, d, [[x, y]]) for i, (x, y, d) in enumerate(spawns)]
    trial = LightCyclesState(0, random.Random(0), cycles, _build_grid(cycles), phase=PLAY)
    for _ in range(SPAWN_CLEAR_MOVES):
        _step(trial)
    return all(c.alive for c in cycles)


def _build_grid(cycles: list[Cycle]) -> bytearray:
    grid = bytearray(STRIDE * (HEIGHT + 2))
    for i in range(STRIDE):
        grid[i] = grid[cell_index(i - 1, HEIGHT)] = 1
    for y in range(HEIGHT):
        grid[cell_index(-1, y)] = grid[cell_index(WIDTH, y)] = 1
    for cycle in cycles:
        x, y = cycle.trail[0]
        grid[cell_index(x, y)] = 1
        for nx, ny in cycle.trail[1:]:
            while (x, y) != (nx, ny):
                x, y = x + _sign(nx - x), y + _sign(ny - y)
                grid[cell_index(x, y)] = 1
    return grid


def _step(state: LightCyclesState) -> list[list[int]]:
    """Move every live cycle one cell at once; returns the moves as [seat, x, y]."""
    grid = state.grid
    alive = [c for c in state.cycles if c.alive]
    targets = {c.seat: cell_index(c.x, c.y) + OFFSETS[c.heading] for c in alive}
    claims: dict[int, int] = {}
    for target in targets.values():
        claims[target] = claims.get(target, 0) + 1
    # Nobody is on a target yet, so swapping heads crashes both: each target is a trail cell.
    crashed = [c for c in alive if grid[targets[c.seat]] or claims[targets[c.seat]] > 1]
    moves = []
    for cycle in alive:
        if cycle in crashed:
            continue
        dx, dy = STEPS[cycle.heading]
        cycle.x += dx
        cycle.y += dy
        cycle.travelled = cycle.heading
        cycle.score += MOVE_POINTS
        grid[targets[cycle.seat]] = 1
        extend_trail(cycle.trail, cycle.x, cycle.y)
        moves.append([cycle.seat, cycle.x, cycle.y])
    _eliminate(state, crashed)
    return moves


def _eliminate(state: LightCyclesState, crashed: list[Cycle]) -> None:
    """Crash cycles together: they share the best place left; survivors get the bonuses."""
    if not crashed:
        return
    alive_before = sum(c.alive for c in state.cycles)
    for cycle in crashed:
        cycle.alive = False
        cycle.placement = alive_before - len(crashed) + 1
    survivors = [c for c in state.cycles if c.alive]
    for cycle in survivors:
        cycle.score += CRASH_BONUS * len(crashed)
    if len(survivors) == 1:
        survivors[0].score += LAST_BONUS
        survivors[0].placement = 1
        _finish(state, LAST_STANDING)
    elif not survivors:
        _finish(state, DRAW)


def _place_survivors(state: LightCyclesState, reason: str) -> None:
    """Survivors are placed by score, ties shared; the crashed keep their places below them."""
    survivors = [c for c in state.cycles if c.alive]
    for cycle in survivors:
        cycle.placement = 1 + sum(other.score > cycle.score for other in survivors)
    _finish(state, reason)


def _finish(state: LightCyclesState, reason: str) -> None:
    state.phase = OVER
    state.countdown = 0
    state.reason = reason


def _visible(state: LightCyclesState) -> list[Any]:
    """The values a delta reports by setting them, as JSON-ready lists for checkpoints."""
    players = [[c.alive, c.connected, c.score, c.heading] for c in state.cycles]
    return [state.phase, state.countdown, players]


def _diff(tick: int, before: list[Any], after: list[Any], moves: list[list[int]]) -> JSON:
    delta: dict[str, Any] = {"tick": tick}
    if after[0] != before[0]:
        delta["phase"] = after[0]
    if after[1] != before[1]:
        delta["countdown"] = after[1]
    if moves:
        delta["moves"] = moves
    pairs = list(enumerate(zip(before[2], after[2], strict=True)))
    changes = {
        "dirs": [[seat, new[3]] for seat, (old, new) in pairs if new[3] != old[3]],
        "crashed": [seat for seat, (old, new) in pairs if old[0] and not new[0]],
        "scores": [[seat, new[2]] for seat, (old, new) in pairs if new[2] != old[2]],
        "connected": [[seat, new[1]] for seat, (old, new) in pairs if new[1] != old[1]],
    }
    delta.update((key, value) for key, value in changes.items() if value)
    return delta
