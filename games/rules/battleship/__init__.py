"""Battleship: the rules (rules.py), the board's geometry (board.py) and the bot (bot.py)."""

from games.rules.battleship.board import FLEET
from games.rules.battleship.rules import Battleship, BattleshipState, apply_delta

__all__ = ["FLEET", "Battleship", "BattleshipState", "apply_delta"]
