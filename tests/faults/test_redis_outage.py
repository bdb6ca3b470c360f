"""Redis down for 30 s on the Procfile's stack (two uvicorn web processes, two engines), while
one match ends and another runs on. The ended match's players get `over` once Redis is back and
its result is in the database; the other match streams again; quick play during the outage
answers a fast 503 JSON error with Retry-After and leaves no match row behind; guests can still
be created; an input that cannot reach the engine is answered with `degraded`; no process
dies; and every process writes under one log line a second while it lasts.

The redis-server is killed after a snapshot and started again from it, so it comes back with
its data as of the crash (the restart test covers a Redis that lost everything): by then every
lease and ticket in it has expired, while the checkpoints and the queue are 30 s stale.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

import pytest
import websockets

from games.rules.bench import apply_delta as bench_delta
from tests.faults.checks import agreed_result, assert_database, matches
from tests.faults.scenes import (
    cross_web_match,
    heard_again,
    let_go_before_a_crash,
    procfile_stack,
    seconds,
)
from tests.matches import close_all, guest, start, steer, stop_tasks
from tests.players import Player
from tests.support import Api, Process

pytestmark = pytest.mark.timeout(150)

OUTAGE = 30  # seconds, as the issue asks; the file still runs in about a minute
RECOVERY = 5  # seconds from Redis answering to `over` and to frames again (the bound)
MEASURE = 15  # seconds we keep watching past a bound, so a slow recovery is measured, not cut
FAST = 1.0  # seconds an HTTP call that needs Redis may take to say it is unavailable
DEGRADED_EVERY = 2  # at most one `degraded` error per socket in this many seconds
SETTINGS = {
    # Shorter than the outage: an engine that cannot reach Redis must not blame the hubs'
    # silence on them (their sockets are still open), or the running match's seat is lost.
    "GAMESERVER_RECONNECT_GRACE": "10",
    "GAMESERVER_CHECKPOINT_EVERY": "10",
}


@dataclass
class Answer:
    status: int
    headers: Message
    body: Any  # the JSON, or the first characters of a body that is not JSON
    seconds: float


def post_raw(api: Api, path: str, body: dict[str, Any]) -> Answer:
    """A POST that keeps what Api.post drops: the headers, a body that is not JSON, the time."""
    csrf = next((c.value for c in api.cookies if c.name == "csrftoken"), "")
    request = urllib.request.Request(
        api.base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-CSRFToken": csrf,
                 "Referer": api.base + "/", "Origin": api.base},
    )  # fmt: skip
    started = time.monotonic()
    try:
        with api.opener.open(request, timeout=10) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
    took = time.monotonic() - started
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode(errors="replace")[:200]
    return Answer(status, headers, parsed, took)


def assert_unavailable(answer: Answer, what: str) -> None:
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    assert answer.status == 503 and code == "unavailable", (
        f"{what} answered {answer.status} {answer.body!r} "
        '(want 503 {"error": {"code": "unavailable", ...}})'
    )
    retry_after = answer.headers.get("Retry-After", "")
    assert retry_after.isdigit(), f"{what}: Retry-After is {retry_after!r}, want seconds"
    assert answer.seconds < FAST, f"{what} took {answer.seconds:.2f} s (bound {FAST} s)"


async def over_after(player: Player, since: float) -> float | None:
    """Seconds from `since` until the player has `over`; None within MEASURE."""
    deadline = since + MEASURE
    while time.monotonic() < deadline:
        if player.over is not None:
            return time.monotonic() - since
        await asyncio.sleep(0.02)
    return None


def log_offsets(processes: list[Process]) -> dict[str, int]:
    return {p.name: p.log_path.stat().st_size for p in processes}


def log_lines(process: Process, start: int, end: int) -> list[str]:
    """The lines the process logged between two offsets (a traceback's lines count each)."""
    return process.log_path.read_bytes()[start:end].decode(errors="replace").splitlines()


async def keep_sending_inputs(player: Player) -> None:
    """Turn now and then, as a person would; while Redis is down each one is undeliverable."""
    headings = ["up", "left", "down", "right"]
    n = 0
    while True:
        n += 1
        try:
            await player.send_input({"dir": headings[n % 4]})
        except websockets.ConnectionClosed:
            return
        await asyncio.sleep(0.5)


async def test_a_redis_outage_loses_no_result_and_leaves_no_orphan(
    restartable_redis, stack_factory
):
    redis_server = restartable_redis
    stack = stack_factory(redis_server.url, **SETTINGS)
    engines, webs = procfile_stack(stack)
    watched = stack.webs + engines
    readers: dict[Player, asyncio.Task] = {}
    steering: dict[Player, asyncio.Task] = {}
    inputs: list[asyncio.Task] = []
    try:
        ending_id, ending = cross_web_match(webs, ("erin", "fred"))
        gina_api = guest(webs[1], "gina")
        bench = gina_api.post("/api/matches", {"game": "bench", "private": True, "seats": 1})
        gina = Player(gina_api.ws_url(), bench, gina_api.base, apply_delta=bench_delta)
        quick = [guest(web, f"quick-{n}") for n, web in enumerate(webs, 1)]
        for player in [*ending, gina]:
            readers[player] = await start(player)
        for player in ending:
            steering[player] = asyncio.create_task(steer(player))
        for player in ending:
            await player.wait_until(player.playing, 30, "the match to start")
        await gina.wait_until(lambda: gina.frames, 30, "the bench match's first frame")
        before = set(matches(stack))
        pids = {p.name: p.proc.pid for p in stack.processes}
        await asyncio.sleep(1)

        # Erin lets go a moment before a crash: her match ends a second into the outage.
        cells = await let_go_before_a_crash(ending[0], steering)
        offsets = log_offsets(watched)
        down_at = redis_server.stop(signal.SIGKILL, keep_data=True)
        print(f"\nredis-server killed; erin's cycle had {cells} cells to go")
        inputs.append(asyncio.create_task(keep_sending_inputs(gina)))

        await asyncio.sleep(2)
        refused = await asyncio.gather(
            *(asyncio.to_thread(post_raw, api, "/api/quickplay", {"game": "lightcycles"})
              for api in quick)
        )  # fmt: skip
        newcomer = await asyncio.to_thread(Api, webs[0])
        guest_answer = await asyncio.to_thread(post_raw, newcomer, "/api/guest", {"name": "late"})
        await asyncio.sleep(max(0.0, down_at + OUTAGE * 2 / 3 - time.monotonic()))
        refused += await asyncio.gather(
            *(asyncio.to_thread(post_raw, api, "/api/quickplay", {"game": "lightcycles"})
              for api in quick)
        )  # fmt: skip
        after_refusals = set(matches(stack))
        await asyncio.sleep(max(0.0, down_at + OUTAGE - time.monotonic()))
        names = {"erin": ending[0], "fred": ending[1], "gina": gina}
        open_during = {name: not readers[p].done() for name, p in names.items()}
        ends = log_offsets(watched)
        log_window = time.monotonic() - down_at
        back_at = await asyncio.to_thread(redis_server.start, keep_data=True)
        await stop_tasks(*inputs)
        print(f"redis-server down {back_at - down_at:.1f} s")

        overs = await asyncio.gather(*(over_after(p, back_at) for p in ending))
        gina_back = await heard_again(gina, back_at, MEASURE)
        for player, took in zip(ending, overs, strict=True):
            print(f"ended match, seat {player.seat}: `over` {seconds(took)} after Redis answered")
        print(f"running bench match: frames again {seconds(gina_back)} after Redis answered")
        print(f"inputs during the outage: {len(gina.errors)} errors, codes "
              f"{sorted({e.get('code') for e in gina.errors})}")  # fmt: skip
        logged = {p.name: log_lines(p, offsets[p.name], ends[p.name]) for p in watched}
        for name, lines in logged.items():
            print(f"{name}: {len(lines)} log lines in {log_window:.1f} s of outage")
        for answer in refused:
            print(f"quick play during the outage: {answer.status} in {answer.seconds:.3f} s")

        for n, answer in enumerate(refused):
            assert_unavailable(answer, f"quick play #{n + 1} on {quick[n % 2].base} (Redis down)")
        assert guest_answer.status == 200, (
            f"creating a guest needs no Redis, yet answered {guest_answer.status} "
            f"{guest_answer.body!r}"
        )
        assert after_refusals == before, (
            f"quick play while Redis was down left match rows {sorted(after_refusals - before)}"
        )
        assert all(open_during.values()), f"sockets closed during the outage: {open_during}"
        assert gina_back is not None and gina_back <= RECOVERY, (
            f"the bench match's player had no frame until {seconds(gina_back)} after Redis "
            f"answered (bound {RECOVERY} s); closed {gina.close_code}, errors {gina.errors[-3:]}"
        )
        degraded = [e for e in gina.errors if e.get("code") == "degraded"]
        assert 1 <= len(degraded) <= OUTAGE / DEGRADED_EVERY + 1, (
            f"inputs sent every 0.5 s while Redis was down earned {len(degraded)} `degraded` "
            f"errors (want 1 to {OUTAGE // DEGRADED_EVERY + 1}); errors: {gina.errors[-3:]}"
        )
        assert gina.over is None and not readers[gina].done(), "the bench match went on"

        for player, took in zip(ending, overs, strict=True):
            assert took is not None, (
                f"seat {player.seat} of the match that ended in the outage got no `over` within "
                f"{MEASURE} s of Redis answering; closed {player.close_code}, errors "
                f"{player.errors[-3:]}"
            )
            await asyncio.wait_for(readers[player], 5)
            assert player.close_code == 1000, f"seat {player.seat}: closed {player.close_code}"
        await asyncio.to_thread(assert_database, stack, {ending_id: agreed_result(ending)})
        assert set(matches(stack)) == before, "no match row came or went"
        dead = [p.name for p in stack.processes if not p.alive()]
        assert not dead, f"processes died: {dead}"
        assert {p.name: p.proc.pid for p in stack.processes} == pids
        for name, lines in logged.items():
            assert len(lines) < log_window, (
                f"{name} wrote {len(lines)} log lines in {log_window:.1f} s of outage (bound: "
                "under 1 a second); the last of them:\n" + "\n".join(lines[-15:])
            )
        for player, took in zip(ending, overs, strict=True):
            assert took <= RECOVERY, (
                f"seat {player.seat} of the match that ended in the outage got `over` "
                f"{seconds(took)} after Redis answered (bound {RECOVERY} s)"
            )
    finally:
        await stop_tasks(*inputs, *steering.values())
        await close_all(list(readers), list(readers.values()))
