"""Staff actions that need no engine: a ban refuses every way into a match, unban restores
it, a kicked seat gets no ticket, and each action is in the audit trail, read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from games import staff
from games.models import Ban, Participant, StaffAction
from tests.test_api import no_counts_yet, player, post  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ops():
    return get_user_model().objects.create_superuser("ops", None, "a-long-pass-1")


def the_guest():
    return get_user_model().objects.get(is_staff=False)


def test_a_banned_user_gets_no_match_and_no_ticket_until_unbanned(ops):
    alice = player("alice")
    created = post(alice, "/api/matches", {"game": "lightcycles", "private": True}).json()
    match_id = created["match"]["id"]
    user = the_guest()

    said = staff.ban(ops, user, "griefing")
    assert "banned" in said
    for path, body in [
        ("/api/quickplay", {"game": "lightcycles"}),
        ("/api/matches", {"game": "lightcycles"}),
        (f"/api/matches/{match_id}/ticket", {}),
    ]:
        answer = post(alice, path, body)
        assert answer.status_code == 403, (path, answer.content)
        assert answer.json()["error"] == {
            "code": "banned",
            "message": "this account may not play: griefing",
        }

    staff.unban(ops, user, "appeal granted")
    assert not Ban.objects.exists()
    assert post(alice, f"/api/matches/{match_id}/ticket").status_code == 200
    assert post(alice, "/api/quickplay", {"game": "lightcycles"}).status_code == 200

    trail = list(StaffAction.objects.order_by("at").values_list("kind", "staff_name", "reason"))
    assert trail == [("ban", "ops", "griefing"), ("unban", "ops", "appeal granted")]
    assert all(a.target == user for a in StaffAction.objects.all())


def test_staff_are_not_banned_and_unbanning_the_unbanned_says_so(ops):
    with pytest.raises(staff.StaffError, match="staff accounts"):
        staff.ban(ops, ops)
    player("bob")
    with pytest.raises(staff.StaffError, match="not banned"):
        staff.unban(ops, the_guest())
    assert not StaffAction.objects.exists(), "only what took effect is recorded"


def test_a_kicked_seat_gets_no_ticket():
    alice = player("alice")
    match_id = post(alice, "/api/matches", {"game": "lightcycles"}).json()["match"]["id"]
    Participant.objects.filter(match__public_id=match_id).update(kicked_at=timezone.now())
    answer = post(alice, f"/api/matches/{match_id}/ticket")
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "kicked")


def test_actions_on_a_match_that_is_not_running_are_refused(ops):
    alice = player("alice")
    match_id = post(alice, "/api/matches", {"game": "lightcycles"}).json()["match"]["id"]
    match = Participant.objects.get(match__public_id=match_id).match
    with pytest.raises(staff.StaffError, match="waiting, not running"):
        staff.end_match(ops, match, "test")
    with pytest.raises(staff.StaffError, match="some text"):
        staff.send_notice(ops, match, "   ")
