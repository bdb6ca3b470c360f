"""Scenes several fault tests set up the same way: the Procfile's stack, a match of two people
on different web processes, a cycle let go just before a crash (so a match ends inside a
fault), and how long until a player hears from the server again. Here so that test modules
need not import each other."""

from __future__ import annotations

import asyncio
import time

import websockets

from tests.matches import clear_ahead, guest, steer, stop_tasks
from tests.players import Player
from tests.support import Process, Stack


def procfile_stack(stack: Stack) -> tuple[list[Process], list[str]]:
    """Two engines and two uvicorn web processes, as the Procfile runs them; returns the
    engines and the web processes' base URLs."""
    engines = [stack.engine("engine-1"), stack.engine("engine-2")]
    webs = [stack.web("web-1", server="uvicorn"), stack.web("web-2", server="uvicorn")]
    return engines, webs


def cross_web_match(webs: list[str], names: tuple[str, str]) -> tuple[str, list[Player]]:
    """A private two-seat Light Cycles match of two people, one on each web process: a fault
    must not lose a match whose frames cross from one process to the other."""
    first, second = guest(webs[0], names[0]), guest(webs[1], names[1])
    created = first.post("/api/matches", {"game": "lightcycles", "private": True, "seats": 2})
    joined = second.post("/api/join-by-code", {"code": created["match"]["code"]})
    seats = ((first, created), (second, joined))
    return created["match"]["id"], [Player(api.ws_url(), seat, api.base) for api, seat in seats]


async def let_go_before_a_crash(player: Player, steering: dict[Player, asyncio.Task]) -> int:
    """Stop steering the player's cycle when its way ahead is a few cells long: ridden straight
    at 10 cells/s it crashes within 1.5 s, which ends a two-cycle match. Returns the cells."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = player.playing() and player.me()["alive"]
        if alive and 6 <= clear_ahead(player.model, player.seat) <= 14:
            await stop_tasks(steering.pop(player))
            await asyncio.sleep(0.2)  # an input already on its way lands and shows in the model
            cells = clear_ahead(player.model, player.seat)
            if 3 <= cells <= 14 and player.me()["alive"]:
                return cells
            steering[player] = asyncio.create_task(steer(player))
        await asyncio.sleep(0.02)
    raise AssertionError(f"seat {player.seat}: the way ahead never came to 6-14 cells in 30 s")


async def keep_pinging(player: Player) -> None:
    """Ping every second while the player waits for the match to start: a socket that sends
    nothing for GAMESERVER_SILENT_TIMEOUT is closed, and Player only acks ticks it has."""
    n = 0
    while True:
        n += 1
        try:
            await player.send({"type": "ping", "id": n})
        except websockets.ConnectionClosed:
            return
        await asyncio.sleep(1)


async def heard_again(
    player: Player, since: float, within: float, above: int | None = None
) -> float | None:
    """Seconds from `since` to the player's first frame after it (past tick `above`, if given:
    after a takeover, frames already on their way count for nothing), or to `over`; None if
    neither came within `within` s, so that a slow recovery is measured, not cut."""
    deadline = since + within
    while time.monotonic() < deadline:
        after = [
            at
            for at, frame in player.frames
            if at >= since and (above is None or frame["tick"] > above)
        ]
        if after:
            return after[0] - since
        if player.over is not None:
            return time.monotonic() - since
        await asyncio.sleep(0.02)
    return None


def seconds(value: float | None) -> str:
    """A measured time for a message: `never` when nothing came within the window."""
    return "never" if value is None else f"{value:.2f} s"
