"""How Light Cycles' computer players steer (and dropped players' cycles while they are away).

Kept apart from the rules in rules.py: steering is a player's choice, not a rule, and can
change without touching how a tick plays out. It must stay deterministic all the same: its only
randomness is the match's own `state.rng`, so a seed and an input log still replay a match.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from games.rules.lightcycles.grid import OFFSETS, STEPS, STRIDE, TURNS, cell_index

if TYPE_CHECKING:
    from games.rules.lightcycles.rules import Cycle, LightCyclesState

BOT_LOOKAHEAD = 4  # cells a bot wants clear straight ahead before it stops thinking
BOT_SPACE_LIMIT = 200  # flood fills stop counting here; enough to tell a pocket from the arena
BOT_TURN_CHANCE = 0.04  # per move, when the way ahead is clear: roughly one turn every 2.5 s


def choose_heading(state: LightCyclesState, cycle: Cycle) -> str:
    """Keep going while the way is clear, now and then turn; else head for the most room."""
    grid, rng = state.grid, state.rng
    head = cell_index(cycle.x, cycle.y)
    straight = cycle.travelled
    if _run(grid, head, straight) >= BOT_LOOKAHEAD and not _contested(state, cycle, straight):
        if rng.random() >= BOT_TURN_CHANCE:
            return straight
        side = rng.choice(TURNS[straight])
        start = head + OFFSETS[side]
        if _run(grid, head, side) >= BOT_LOOKAHEAD and _room(grid, start)[0] >= BOT_SPACE_LIMIT:
            return side
        return straight
    best, best_key = straight, None
    filled: set[int] = set()
    filled_room = 0
    for option in (straight, *TURNS[straight]):
        start = head + OFFSETS[option]
        if grid[start]:
            continue
        # Turns into the region already filled have the same room; skip a second fill.
        room = filled_room if start in filled else 0
        if not room:
            room, filled = _room(grid, start)
            filled_room = room
        key = (room, not _contested(state, cycle, option), _run(grid, head, option))
        if best_key is None or key > best_key:
            best, best_key = option, key
    return best


def _run(grid: bytearray, head: int, heading: str) -> int:
    """Free cells straight ahead, counted up to BOT_LOOKAHEAD."""
    step = OFFSETS[heading]
    for n in range(BOT_LOOKAHEAD):
        head += step
        if grid[head]:
            return n
    return BOT_LOOKAHEAD


def _contested(state: LightCyclesState, cycle: Cycle, heading: str) -> bool:
    """Could another cycle move into the cell this heading enters next?"""
    dx, dy = STEPS[heading]
    x, y = cycle.x + dx, cycle.y + dy
    return any(
        other.alive and other is not cycle and abs(other.x - x) + abs(other.y - y) == 1
        for other in state.cycles
    )


def _room(grid: bytearray, start: int) -> tuple[int, set[int]]:
    """Free cells reachable from `start`, counted up to about BOT_SPACE_LIMIT."""
    seen = {start}
    stack = [start]
    while stack and len(seen) < BOT_SPACE_LIMIT:
        i = stack.pop()
        for j in (i - 1, i + 1, i - STRIDE, i + STRIDE):
            if not grid[j] and j not in seen:
                seen.add(j)
                stack.append(j)
    return min(len(seen), BOT_SPACE_LIMIT), seen
