"""Light Cycles: the rules (rules.py), the arena's geometry (grid.py) and the bots (bot.py)."""

from games.rules.lightcycles.rules import LightCycles, LightCyclesState, apply_delta, extend_trail

__all__ = ["LightCycles", "LightCyclesState", "apply_delta", "extend_trail"]
