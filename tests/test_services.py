"""Match start and the result write: exactly once, whatever calls it how often."""

from __future__ import annotations

import pytest

from games import services
from games.models import Match, Participant
from games.rules.base import Result, Standing

pytestmark = pytest.mark.django_db


def test_start_seats_bots_in_free_seats_and_closes_the_match():
    user = services.guest_create(name="alice")
    match = services.match_create(game="lightcycles", private=False, seats=4, user=user)
    roster = services.match_start(match_id=match.public_id)
    assert [(s.index, s.bot) for s in roster] == [(0, False), (1, True), (2, True), (3, True)]
    assert services.match_start(match_id=match.public_id) is None
    match.refresh_from_db()
    assert match.status == Match.Status.RUNNING and match.started_at is not None


def test_the_result_is_written_once():
    user = services.guest_create(name="alice")
    match = services.match_create(game="lightcycles", private=False, seats=2, user=user)
    services.match_start(match_id=match.public_id)
    result = Result(
        standings=(
            Standing(seat=1, score=30, placement=1),
            Standing(seat=0, score=10, placement=2),
        ),
        winner=1,
        reason="last cycle standing",
    )
    assert services.match_finish(match_id=match.public_id, result=result) is True
    other = Result(standings=(Standing(seat=0, score=99, placement=1),), winner=0, reason="x")
    assert services.match_finish(match_id=match.public_id, result=other) is False
    match.refresh_from_db()
    assert match.status == Match.Status.FINISHED and match.result["winner"] == 1
    scores = dict(Participant.objects.filter(match=match).values_list("seat", "score"))
    assert scores == {0: 10, 1: 30}
    assert services.match_abandon(match_id=match.public_id) is False
