"""No fault at all, on Redis: three players of one match on the same web process each get
`over` and close 1000 (their sockets' detaches interleave at an await in the frame hub, and
once lost all but one `over`)."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.checks import agreed_result, assert_database
from tests.matches import close_all, private_match, start
from tests.players import Player
from tests.support import Stack

pytestmark = pytest.mark.timeout(90)

END_WITHIN = 30  # seconds from play to the end: unsteered cycles reach a wall in under 7 s
OTHERS_WITHIN = 5  # seconds from the first player's `over` to the last one's close


def web_log(stack: Stack) -> list[str]:
    return stack.webs[0].output().splitlines()


async def test_every_player_on_one_web_process_gets_over(redis_url, stack_factory):
    stack = stack_factory(redis_url)
    stack.engine()
    web = stack.web(server="uvicorn")
    match_id, apis, seats = private_match(web, ["alice", "bob", "carol"], seats=3)
    players = [Player(apis[name].ws_url(), seats[name], web) for name in apis]
    readers = [await start(player) for player in players]
    try:
        for player in players:
            await player.wait_until(player.playing, 30, "the match to start")
        # Nobody steers: every cycle rides straight into a wall and the match ends by itself.
        await asyncio.wait(readers, timeout=END_WITHIN, return_when=asyncio.FIRST_COMPLETED)
        done, _ = await asyncio.wait(readers, timeout=OTHERS_WITHIN)
        seen = {p.seat: (p.over is not None, p.close_code) for p in players}
        print(f"\nseat: (got over, close code) {seen}")
        crashes = [line for line in web_log(stack) if "Error" in line]
        assert len(done) == len(players), f"sockets left open: {seen}; web log: {crashes[-3:]}"
        assert all(p.over is not None and p.close_code == 1000 for p in players), seen
        await asyncio.to_thread(assert_database, stack, {match_id: agreed_result(players)})
    finally:
        await close_all(players, readers)
