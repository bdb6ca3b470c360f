"""Quick play under concurrency: players who arrive together at different web processes share
matches instead of each starting a half-empty one (that bots would then fill)."""

from __future__ import annotations

import threading

import pytest

from tests.support import Api

pytestmark = pytest.mark.timeout(120)

PLAYERS = 16  # four Light Cycles matches of four, if nobody races


def test_simultaneous_quick_plays_on_two_web_processes_fill_matches_in_turn(stack_factory):
    stack = stack_factory(GAMESERVER_BOT_FILL_SECONDS="60")  # keep matches open to joiners
    webs = [stack.web("web1", server="uvicorn"), stack.web("web2", server="uvicorn")]
    apis = [Api(webs[i % 2]) for i in range(PLAYERS)]
    for i, api in enumerate(apis):
        api.post("/api/guest", {"name": f"p{i}"})
    barrier = threading.Barrier(PLAYERS)
    answers: list[dict] = []

    def quick_play(api: Api) -> None:
        barrier.wait(10)
        answers.append(api.post("/api/quickplay", {"game": "lightcycles"}))

    threads = [threading.Thread(target=quick_play, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(answers) == PLAYERS
    matches: dict[str, set[int]] = {}
    for answer in answers:
        matches.setdefault(answer["match"]["id"], set()).add(answer["seat"])
    assert sorted(len(seats) for seats in matches.values()) == [4, 4, 4, 4], matches
    assert all(seats == {0, 1, 2, 3} for seats in matches.values())
