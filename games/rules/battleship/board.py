"""Battleship's geometry: the fleet, a ship's cells, whether a fleet fits, a random fleet.

The rules (rules.py) check a placement with these and the bot (bot.py) makes one, so they live
apart from both and neither module has to import the other's. A ship is `[x, y, dir, length]`:
its first cell (x to the right, y downwards, (0, 0) top left), "h" going right or "v" going
down, and its length; a list, because states and views are JSON.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

FLEET = (5, 4, 3, 3, 2)  # ship lengths, in the order a placement lists them
DIRECTIONS = {"h": (1, 0), "v": (0, 1)}

Ship = list[Any]  # [x, y, "h" | "v", length]
Cell = tuple[int, int]


def ship_cells(ship: Sequence[Any]) -> list[Cell]:
    """The cells a ship covers, from its first cell on."""
    x, y, direction, length = ship
    dx, dy = DIRECTIONS[direction]
    return [(x + dx * k, y + dy * k) for k in range(length)]


def on_board(x: int, y: int, size: int) -> bool:
    return 0 <= x < size and 0 <= y < size


def fleet_problem(ships: Sequence[Sequence[Any]], size: int) -> str | None:
    """Why `ships` cannot lie on a size×size board, for the person placing them; None if they can.

    Ships are numbered from 1 in the order given, so "ship 3 (length 3)" is the first of the
    two threes; ships may touch, but not share a cell.
    """
    owner: dict[Cell, int] = {}
    for number, ship in enumerate(ships, start=1):
        cells = ship_cells(ship)
        if not all(on_board(x, y, size) for x, y in cells):
            return f"ship {number} (length {ship[3]}) runs off the {size}×{size} board"
        for x, y in cells:
            if (x, y) in owner:
                return f"ships {owner[x, y]} and {number} overlap at ({x}, {y})"
            owner[x, y] = number
    return None


def random_fleet(rng: random.Random, size: int) -> list[Ship]:
    """A legal fleet, each ship drawn uniformly from the places still free for it.

    Drawing one ship at a time never gets stuck on the boards allowed (8×8 and up): to leave no
    run long enough for the next ship, every row would need at least two cells taken (four,
    for the last ship, of 2), more than the ships before it cover.
    """
    taken: set[Cell] = set()
    fleet: list[Ship] = []
    for length in FLEET:
        places = [
            ship
            for y in range(size)
            for x in range(size)
            for direction in DIRECTIONS
            if _fits(ship := [x, y, direction, length], size, taken)
        ]
        ship = rng.choice(places)
        taken.update(ship_cells(ship))
        fleet.append(ship)
    return fleet


def _fits(ship: Ship, size: int, taken: set[Cell]) -> bool:
    return all(on_board(x, y, size) and (x, y) not in taken for x, y in ship_cells(ship))
