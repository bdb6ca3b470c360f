"""/metrics of a web process and of an engine while a scripted match plays on real processes."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_match_flow import play_two_player_match
from tests.support import Api, free_port

pytestmark = pytest.mark.timeout(120)


def scrape(base: str) -> dict[tuple[str, tuple], float]:
    """Every sample of `base`/metrics, by (name, sorted labels)."""
    with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_counters_move_while_a_match_plays(redis_url, stack_factory):
    engine_port = free_port()
    stack = stack_factory(redis_url, GAMESERVER_ENGINE_METRICS_PORT=str(engine_port))
    stack.engine()
    engine = f"http://127.0.0.1:{engine_port}"
    web = stack.web("web", server="uvicorn")
    before = scrape(web)
    with urllib.request.urlopen(engine + "/healthz", timeout=5) as response:
        health = json.loads(response.read())
    assert health["ok"] is True and health["name"] == "engine"

    seen_playing = asyncio.Event()

    async def watch_engine() -> None:
        while not seen_playing.is_set():
            samples = await asyncio.to_thread(scrape, engine)
            if value(samples, "gameserver_matches", phase="playing") >= 1:
                seen_playing.set()
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch_engine())
    try:
        await play_two_player_match(Api(web), Api(web))
    finally:
        watcher.cancel()
    assert seen_playing.is_set(), "the engine never counted the match as playing"

    after = scrape(web)
    assert (
        value(after, "gameserver_frames_sent_total")
        > value(before, "gameserver_frames_sent_total") + 50
    )
    assert value(after, "gameserver_closes_total", code="1000") >= 2
    assert value(after, "gameserver_inputs_total") >= 2
    assert value(after, "gameserver_messages_received_total") > 10
    assert value(after, "gameserver_http_requests_total", status="200") > value(
        before, "gameserver_http_requests_total", status="200"
    )
    # The server counts a socket closed once its close handshake ends, a moment after ours.
    deadline = time.monotonic() + 5
    while (still_open := value(scrape(web), "gameserver_connections_open")) != 0:
        assert time.monotonic() < deadline, f"{still_open} sockets still open 5 s after the match"
        await asyncio.sleep(0.1)

    on_engine = scrape(engine)
    assert value(on_engine, "gameserver_tick_work_seconds_count", rate="20") > 50
    assert value(on_engine, "gameserver_tick_wall_seconds_count", rate="20") > 50
    assert value(on_engine, "gameserver_checkpoint_writes_total") >= 1
    assert value(on_engine, "gameserver_matches", phase="playing") == 0
