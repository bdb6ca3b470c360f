"""Four in a Row: the rules, the views and the bot, all in rules.py."""

from games.rules.fourinarow.rules import ROWS, FourInARow, FourState, apply_delta, choose_column

__all__ = ["ROWS", "FourInARow", "FourState", "apply_delta", "choose_column"]
