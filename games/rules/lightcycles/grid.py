"""Light Cycles' arena: its size, the four headings and the padded grid of cells.

The rules (rules.py) and the bot's steering (bot.py) both find cells with
these, so they live apart from both and neither module has to import the other's.
"""

from __future__ import annotations

WIDTH = 64
HEIGHT = 48

STEPS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
OPPOSITE = {"up": "down", "down": "up", "left": "right", "right": "left"}
TURNS = {"up": ("left", "right"), "down": ("right", "left"), "left": ("down", "up")}
TURNS["right"] = ("up", "down")

# The grid is padded with a one-cell wall all round so lookups need no bounds checks.
STRIDE = WIDTH + 2
OFFSETS = {"up": -STRIDE, "down": STRIDE, "left": -1, "right": 1}


def cell_index(x: int, y: int) -> int:
    """Index of cell (x, y) in the padded grid; walls are at x or y == -1 and WIDTH/HEIGHT."""
    return (y + 1) * STRIDE + x + 1
