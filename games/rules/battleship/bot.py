"""How Battleship's computer players place their fleet and choose where to fire.

Kept apart from the rules in rules.py: aiming is a player's choice, not a rule. Firing is hunt
and target: hunt at random on a checkerboard (every ship, being 2 long or more, covers a cell of
each colour), probe the neighbours of a hit, and once two hits line up follow the line both
ways. Cells of sunk ships are forgotten, so hits left over belong to ships still afloat.

The bot draws from its own generator, seeded from the match's seed, the seat and the moment
(its fleet, or how many shots it has fired), not from the state's `rng`: asking a bot is a
question, not a step, so it must leave the state as it was. Asking twice gives the same
answer, and a match replayed from its move log (which never asks the bot) still draws the
same fleets at its deadlines.
"""

from __future__ import annotations

import random
from typing import Any

from games.rules.battleship.board import Cell, Ship, on_board, random_fleet, ship_cells

NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def bot_placement(seed: int, seat: int, size: int) -> list[list[Any]]:
    """A random legal fleet as a "place" move's entries, [x, y, dir] in FLEET order."""
    return [ship[:3] for ship in random_fleet(_rng(seed, seat, "fleet"), size)]


def bot_target(
    seed: int, seat: int, shots: list[list[Any]], sunk: list[Ship], size: int
) -> list[int]:
    """Where the bot in `seat` fires next; the same for the same shots of the same match."""
    return choose_target(shots, sunk, size, _rng(seed, seat, f"shot {len(shots)}"))


def choose_target(
    shots: list[list[Any]], sunk: list[Ship], size: int, rng: random.Random
) -> list[int]:
    """Where to fire next, given this seat's shots ([x, y, hit]) and the ships it has sunk."""
    fired = {(x, y) for x, y, _ in shots}
    sunk_cells = {cell for ship in sunk for cell in ship_cells(ship)}
    live = {(x, y) for x, y, hit in shots if hit and (x, y) not in sunk_cells}

    def open_cell(cell: Cell) -> bool:
        return on_board(*cell, size) and cell not in fired

    candidates = [cell for cell in _line_ends(live) if open_cell(cell)]
    if not candidates:
        candidates = [
            (x + dx, y + dy)
            for x, y in live
            for dx, dy in NEIGHBOURS
            if open_cell((x + dx, y + dy))
        ]
    if not candidates:
        unfired = [(x, y) for y in range(size) for x in range(size) if (x, y) not in fired]
        candidates = [(x, y) for x, y in unfired if (x + y) % 2 == 0] or unfired
    x, y = rng.choice(sorted(set(candidates)))  # sorted: sets must not decide the order
    return [x, y]


def _line_ends(live: set[Cell]) -> list[Cell]:
    """The cells just beyond each end of every run of two or more live hits in a row or column.

    A run can also be two ships side by side, hit across; once its ends are misses the bot
    falls back to probing neighbours, which finds the ships' real lines.
    """
    ends = []
    for x, y in live:
        for dx, dy in ((1, 0), (0, 1)):
            if (x - dx, y - dy) in live or (x + dx, y + dy) not in live:
                continue  # not where a run of two or more starts
            k = 2
            while (x + dx * k, y + dy * k) in live:
                k += 1
            ends += [(x - dx, y - dy), (x + dx * k, y + dy * k)]
    return ends


def _rng(seed: int, seat: int, moment: str) -> random.Random:
    """The same generator for the same moment of the same match, and a different one otherwise.

    A str seed is hashed with SHA-512, so it does not depend on PYTHONHASHSEED.
    """
    return random.Random(f"battleship bot {seed} {seat} {moment}")
