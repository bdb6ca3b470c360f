"""Scripted Light Cycles matches for the integration tests: seats over the HTTP API, players
that steer clear of crashes (a crash can end a match a test still needs), and checks on the
frames they received."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from typing import Any

import websockets

from games.rules.lightcycles import apply_delta
from games.rules.lightcycles.grid import HEIGHT, STEPS, TURNS, WIDTH
from tests.players import Player
from tests.support import Api


def guest(base: str, name: str) -> Api:
    api = Api(base)
    api.post("/api/guest", {"name": name})
    return api


def private_match(
    base: str, names: list[str], seats: int
) -> tuple[str, dict[str, Api], dict[str, dict[str, Any]]]:
    """A private Light Cycles match of `seats` seats: the first name creates it, the others join
    by its code; bots take the seats left once someone has been connected for a second."""
    apis = {name: guest(base, name) for name in names}
    first, *others = names
    created = apis[first].post(
        "/api/matches", {"game": "lightcycles", "private": True, "seats": seats}
    )
    answers = {first: created}
    for name in others:
        answers[name] = apis[name].post("/api/join-by-code", {"code": created["match"]["code"]})
    return created["match"]["id"], apis, answers


async def start(player: Player) -> asyncio.Task:
    """Connect and start reading; the task ends when the server closes the socket."""
    await player.connect()
    return asyncio.create_task(player.run())


def cautious_heading(model: dict[str, Any], seat: int, turn: bool = False) -> str:
    """safe_heading, with every cell another live cycle could move into next counted as taken:
    two cycles entering one cell both crash, and a crash can end a match a test still needs."""
    view = {**model, "players": list(model["players"])}
    for other in model["players"]:
        if other["seat"] != seat and other["alive"]:
            for dx, dy in STEPS.values():
                x, y = other["x"] + dx, other["y"] + dy
                view["players"].append({"x": x, "y": y, "trail": [[x, y]]})
    return safe_heading(view, seat, turn)


async def steer(player: Player) -> None:
    """Keep the player's cycle out of walls, trails and other heads' way until cancelled or
    the match ends."""
    decided_at = None  # cycles move together, so decide once per move of one's own
    while player.over is None:
        if player.playing() and player.me()["alive"]:
            me = player.me()
            if (me["x"], me["y"]) != decided_at:
                decided_at = me["x"], me["y"]
                heading = cautious_heading(player.model, player.seat)
                if heading != me["dir"]:
                    with contextlib.suppress(websockets.ConnectionClosed):
                        await player.send_input({"dir": heading})
        await asyncio.sleep(0.01)


ROOM_TO_TURN = 8  # cells ahead when the test takes over: 0.8 s of riding straight


async def turn_and_watch(player: Player, watcher: Player, steering: asyncio.Task,
                         timeout: float = 2) -> str:  # fmt: skip
    """Take the player's cycle over from `steering`, turn it, and wait until the watcher sees
    the new heading.

    The test takes over only with room ahead, so the cycle does not crash while it waits. A
    turn back onto the way the cycle last moved is refused, and the heading a frame shows
    may not have been ridden yet: wait for a move the way the frame heads (from then on both
    turns are allowed), then take the roomier turn so the cycle is not crashed by the test."""
    loop = asyncio.get_running_loop()
    await player.wait_until(lambda: clear_ahead(player.model, player.seat) >= ROOM_TO_TURN, 30,
                            f"{ROOM_TO_TURN} cells clear ahead")  # fmt: skip
    await stop_tasks(steering)
    deadline = loop.time() + timeout
    last = player.me()["x"], player.me()["y"]
    while True:
        me = player.me()
        assert me["alive"], f"seat {player.seat}: the cycle crashed before the turn"
        at = me["x"], me["y"]
        if at != last:
            step = (at[0] - last[0], at[1] - last[1])
            if step == STEPS[me["dir"]]:
                break
            last = at
        assert loop.time() < deadline, f"seat {player.seat}: no move within {timeout} s"
        await asyncio.sleep(0.002)
    heading = cautious_heading(player.model, player.seat, turn=True)
    await player.send_input({"dir": heading})
    await watcher.wait_until(
        lambda: watcher.model["players"][player.seat]["dir"] == heading, timeout, "the turn"
    )
    return heading


async def stop_tasks(*tasks: asyncio.Task) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def close_all(players: list[Player], readers: list[asyncio.Task]) -> None:
    """Close the players' sockets and wait for their readers to finish."""
    for player in players:
        if player.ws is not None:
            await player.ws.close()
    await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), 10)


def models_by_tick(frames: list[tuple[float, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """The client model after each frame, as a browser builds it: a keyframe replaces it, a
    delta applies to the previous tick's model (one that does not follow on is a failure)."""
    models: dict[int, dict[str, Any]] = {}
    model = None
    for _, frame in frames:
        if frame["key"]:
            model = copy.deepcopy(frame["state"])
        elif model is not None:
            assert frame["tick"] == model["tick"] + 1, (
                f"a delta for tick {frame['tick']} after tick {model['tick']} with no keyframe"
            )
            model = apply_delta(copy.deepcopy(model), frame["delta"])
        if model is not None:
            models[frame["tick"]] = model
    return models


def assert_steady(player: Player, since: float, until: float) -> None:
    """Every tick arrived, in order, at about the tick rate between two moments."""
    ticks = [frame["tick"] for at, frame in player.frames if since <= at <= until]
    assert len(ticks) > 1, f"seat {player.seat}: no frames between the two moments"
    assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), (
        f"seat {player.seat}: ticks missing or out of order: {ticks}"
    )
    rate = (len(ticks) - 1) / (until - since)
    assert 15 < rate < 25, f"seat {player.seat}: {rate:.1f} frames/s"


def clear_ahead(model: dict[str, Any], seat: int) -> int:
    """Cells the seat's cycle can still ride straight before a wall or a trail stops it."""
    taken = taken_cells(model)
    me = model["players"][seat]
    dx, dy = STEPS[me["dir"]]
    x, y, cells = me["x"] + dx, me["y"] + dy, 0
    while 0 <= x < WIDTH and 0 <= y < HEIGHT and (x, y) not in taken:
        x, y, cells = x + dx, y + dy, cells + 1
    return cells


def taken_cells(model: dict[str, Any]) -> set[tuple[int, int]]:
    """The cells no cycle may ride into: every trail (stored as its corners, so the straight
    runs between them are filled in) and every head."""
    taken: set[tuple[int, int]] = set()
    for player in model["players"]:
        trail = player["trail"]
        for (x1, y1), (x2, y2) in zip(trail, trail[1:], strict=False):
            for x in range(min(x1, x2), max(x1, x2) + 1):
                for y in range(min(y1, y2), max(y1, y2) + 1):
                    taken.add((x, y))
        taken.add((player["x"], player["y"]))
    return taken


def safe_heading(model: dict, seat: int, turn: bool = False) -> str:
    """The heading with the most room to move into (a bounded flood fill), then the longest
    straight run: enough to outlive a fuzz run; a crash would end the match too early. With
    `turn`, only the two turns off the current heading are candidates."""
    taken = taken_cells(model)
    me = model["players"][seat]

    def free(x: int, y: int) -> bool:
        return 0 <= x < WIDTH and 0 <= y < HEIGHT and (x, y) not in taken

    def room(x: int, y: int) -> int:
        seen, todo = {(x, y)}, [(x, y)]
        while todo and len(seen) < 300:
            cx, cy = todo.pop()
            for dx, dy in STEPS.values():
                cell = (cx + dx, cy + dy)
                if cell not in seen and free(*cell):
                    seen.add(cell)
                    todo.append(cell)
        return len(seen)

    def score(heading: str) -> tuple[int, int]:
        dx, dy = STEPS[heading]
        x, y = me["x"] + dx, me["y"] + dy
        if not free(x, y):
            return (-1, 0)
        run = 0
        while run < 10 and free(x + dx * (run + 1), y + dy * (run + 1)):
            run += 1
        return (room(x, y), run)

    candidates = list(TURNS[me["dir"]]) if turn else [me["dir"], *TURNS[me["dir"]]]
    return max(candidates, key=score)
