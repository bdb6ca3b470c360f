"""Battleship on real processes (uvicorn, runengine, Redis): two people play a whole match and
neither socket ever receives a ship of the other's that is still afloat; an idle match sends
nothing and adds no tick loop; a refused move is told to its mover alone; a turn clock fires
on time, and after the engine is killed the new owner keeps the same deadline."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from typing import Any

import pytest
import redis

from games.engine.steps import EARLY
from games.rules.battleship import apply_delta
from games.rules.battleship.board import ship_cells
from tests.players import Player
from tests.support import Api, wait_for

pytestmark = pytest.mark.timeout(150)
# How early a clock may seem to run out: frames carry match time rounded to the ms, and an
# alarm may ring up to EARLY before its deadline (the rules are then given the deadline).
SLACK = EARLY + 0.001

# Fleets on cells the other's never uses, so a ship of one never looks like a ship of the other.
FLEETS = [
    [[0, 0, "h"], [0, 2, "h"], [0, 4, "h"], [0, 6, "h"], [0, 8, "h"]],  # ann: rows, left
    [[9, 0, "v"], [8, 0, "v"], [7, 0, "v"], [6, 0, "v"], [5, 0, "v"]],  # bob: columns, right
]
LENGTHS = (5, 4, 3, 3, 2)


def ships_of(seat: int) -> list[tuple]:
    return [(x, y, d, n) for (x, y, d), n in zip(FLEETS[seat], LENGTHS, strict=True)]


def ship_tuples(value: Any) -> list[tuple]:
    """Every [x, y, dir, length] anywhere in a decoded frame."""
    found = []
    if isinstance(value, list):
        if len(value) == 4 and value[2] in ("h", "v") and all(type(v) is int for v in value[::3]):
            found.append(tuple(value))
        for item in value:
            found.extend(ship_tuples(item))
    elif isinstance(value, dict):
        for item in value.values():
            found.extend(ship_tuples(item))
    return found


async def seated(web: str, **options: Any) -> tuple[Api, list[Player], list[asyncio.Task], str]:
    """A private two-seat match without bots: ann creates it, bob joins by its code."""
    apis = [Api(web), Api(web)]
    for api, name in zip(apis, ("ann", "bob"), strict=True):
        api.post("/api/guest", {"name": name})
    created = apis[0].post("/api/matches", {"game": "battleship", "private": True, "seats": 2,
                                            "bot_fill": False, "options": options})  # fmt: skip
    joined = apis[1].post("/api/join-by-code", {"code": created["match"]["code"]})
    players = [Player(api.ws_url(), answer, web, apply_delta=apply_delta)
               for api, answer in zip(apis, (created, joined), strict=True)]  # fmt: skip
    readers = []
    for player in players:
        await player.connect()
        readers.append(asyncio.create_task(player.run()))
    for player in players:
        await player.wait_until(lambda p=player: p.model is not None, 30, "the first keyframe")
    return apis[0], players, readers, created["match"]["id"]


async def place_both(players: list[Player]) -> None:
    for player in players:
        await player.send_input({"place": FLEETS[player.seat]})
    for player in players:
        await player.wait_until(lambda p=player: p.model["phase"] == "firing", 10, "firing")


def next_target(player: Player) -> list[int]:
    fired = {(x, y) for x, y, _ in player.model["shots"][player.seat]}
    size = player.model["size"]
    return next([x, y] for y in range(size) for x in range(size) if (x, y) not in fired)


def engine_loads(output: str) -> list[dict]:
    return [json.loads(line) for line in re.findall(r"engine \S+ load (\{.*\})", output)]


async def test_two_people_play_to_the_end_and_neither_ever_sees_the_other_s_fleet(
    redis_url, stack_factory
):
    stack = stack_factory(redis_url, GAMESERVER_REPORT_SECONDS="1")
    engine = stack.engine()
    web = stack.web(server="uvicorn")
    api, players, readers, match_id = await seated(web)
    await place_both(players)

    # Idle: nobody moves for two seconds; nothing is sent, and the engine has no tick loop.
    counts = [len(p.frames) for p in players]
    await asyncio.sleep(2)
    assert [len(p.frames) for p in players] == counts, "an idle turn sent frames"
    load = engine_loads(engine.output())[-1]
    assert load["event_driven"] == 1 and load["ticking"] == 0 and load["ticks"] == {}

    # A shot out of turn is refused to its mover alone, with the game's reason.
    mover = players[players[0].model["turn"]]
    waiting = players[1 - mover.seat]
    await waiting.send_input({"fire": [0, 0]})
    await waiting.wait_until(lambda: waiting.errors, 5, "the refusal")
    assert waiting.errors[-1] == {"type": "error", "code": "illegal_move",
                                  "message": "it is not your turn"}  # fmt: skip
    assert mover.errors == []

    while players[0].over is None:
        turn = players[0].model["turn"]
        if turn is None:
            await asyncio.sleep(0.01)
            continue
        shooter = players[turn]
        before = len(shooter.model["shots"][turn])
        await shooter.send_input({"fire": next_target(shooter)})
        await shooter.wait_until(
            lambda s=shooter, t=turn, b=before: len(s.model["shots"][t]) > b or s.over, 5, "a shot"
        )
    await asyncio.wait_for(asyncio.gather(*readers), 10)

    for player in players:
        other = 1 - player.seat
        hidden = set(ships_of(other))
        for _, frame in player.frames:
            shown = set(ship_tuples(frame))
            sunk = {tuple(s) for s in (frame.get("state") or {}).get("sunk", [[], []])[other]}
            delta_sunk = (frame.get("delta") or {}).get("sunk")
            if delta_sunk and delta_sunk[0] == other:
                sunk.add(tuple(delta_sunk[1:]))
            leaked = (shown & hidden) - sunk
            assert not leaked, f"seat {player.seat} was sent afloat ships {leaked}: {frame}"
        own = set(ships_of(player.seat))
        assert any(own <= set(ship_tuples(f)) for _, f in player.frames), "it sees its fleet"
        assert player.over is not None and player.close_code == 1000
    winner = players[0].over["result"]["winner"]
    loser = players[1 - winner]
    sunk_cells = {cell for ship in loser.model["sunk"][loser.seat] for cell in ship_cells(ship)}
    assert len(sunk_cells) == sum(LENGTHS), "the loser's whole fleet was sunk"
    match = wait_for(
        lambda: (m := api.get(f"/api/matches/{match_id}")["match"])["status"] == "finished" and m,
        10,
        "the result in the database",
    )
    assert match["result"] == players[0].over["result"]
    assert match["options"] == {"size": 10, "turn_seconds": 30, "placement_seconds": 60}


def match_clock(player: Player) -> float:
    """Wall-clock second of the match's time 0, from a frame's send time and match time."""
    _, frame = player.frames[-1]
    return frame["sent"] / 1000 - frame["now"]


def passed_from(frame: dict, turn: int) -> bool:
    if frame["key"]:
        return frame["state"]["turn"] == 1 - turn
    return frame["delta"].get("turn") == 1 - turn


async def expiry(player: Player, turn: int, timeout: float) -> dict:
    """The first frame in which `turn`'s clock had run out (the turn passed without a shot)."""
    seen = len(player.frames)
    await player.wait_until(lambda: any(passed_from(f, turn) for _, f in player.frames[seen:]),
                            timeout, "the clock to run out")  # fmt: skip
    return next(f for _, f in player.frames[seen:] if passed_from(f, turn))


async def test_a_turn_clock_fires_on_time_and_keeps_its_deadline_through_a_takeover(
    redis_url, stack_factory
):
    stack = stack_factory(redis_url, GAMESERVER_LEASE_TTL="2")
    engines = [stack.engine("engine-a"), stack.engine("engine-b")]
    web = stack.web(server="uvicorn")
    api, players, readers, match_id = await seated(web, turn_seconds=8, placement_seconds=10)
    await place_both(players)
    ann = players[0]

    # Nobody fires: the clock runs out on time, within 100 ms of its deadline.
    turn, deadline = ann.model["turn"], ann.model["deadline"]
    origin = match_clock(ann)
    frame = await expiry(ann, turn, 12)
    late = frame["sent"] / 1000 - (origin + deadline)
    print(f"\nturn clock ran out {late * 1000:.1f} ms after its deadline")
    assert -SLACK <= late < 0.1, f"the clock ran out {late * 1000:.1f} ms after its deadline"

    # The next turn's owner is killed: another engine takes the match over from its
    # checkpoint, and the same deadline runs out there.
    turn, deadline = ann.model["turn"], ann.model["deadline"]
    prefix = stack.env["GAMESERVER_REDIS_PREFIX"]
    lease = redis.Redis.from_url(redis_url).get(f"{prefix}:lease:{match_id}").decode()
    victim = next(e for e in engines if lease.split()[0] in e.output())
    survivor = next(e for e in engines if e is not victim)
    victim.stop(signal.SIGKILL)
    frame = await expiry(ann, turn, 20)
    assert f"now running match {match_id}" in survivor.output()
    await ann.wait_until(lambda: ann.model["turn"] == 1 - turn, 5, "the turn to pass")
    assert ann.model["deadline"] > deadline, "the next turn has a new deadline"
    late = frame["sent"] / 1000 - (origin + deadline)
    print(f"after a kill -9 and takeover: {late * 1000:.1f} ms after the same deadline")
    assert -SLACK <= late < 0.1, f"after the takeover the clock ran out {late * 1000:.0f} ms late"
    assert [p["timeouts"] for p in ann.model["players"]] == [1, 1], "each ran out once"
    for player in players:
        await player.ws.close()
    await asyncio.wait_for(asyncio.gather(*readers), 10)
