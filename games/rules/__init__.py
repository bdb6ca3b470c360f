"""Every game the server can run, by name. Importable without Django."""

from __future__ import annotations

from games.rules.base import Game
from games.rules.battleship import Battleship
from games.rules.bench import BenchArena
from games.rules.fourinarow import FourInARow
from games.rules.lightcycles import LightCycles

GAMES: dict[str, Game] = {
    game.name: game for game in (LightCycles(), Battleship(), FourInARow(), BenchArena())
}


def get_game(name: str) -> Game:
    """The rules for `name`; the KeyError lists the games there are."""
    try:
        return GAMES[name]
    except KeyError:
        known = ", ".join(sorted(GAMES))
        raise KeyError(f"unknown game {name!r}: the games are {known}") from None
