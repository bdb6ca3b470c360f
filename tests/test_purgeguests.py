"""Old guests go; recent ones, staff and guests seated in a live match stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from games import services
from games.models import Participant

pytestmark = pytest.mark.django_db


def aged(name: str, days: int):
    user = services.guest_create(name=name)
    user.last_login = timezone.now() - timedelta(days=days)
    user.save(update_fields=["last_login"])
    return user


def test_guests_unused_for_the_given_days_are_deleted_and_history_kept():
    old, seated = aged("old", 40), aged("seated", 40)
    aged("recent", 2)
    finished = services.match_create(game="lightcycles", private=True, seats=2, user=old)
    finished.status = "finished"
    finished.save(update_fields=["status"])
    services.match_create(game="lightcycles", private=True, seats=2, user=seated)  # waiting
    call_command("purgeguests", "--days", "30")
    left = set(get_user_model().objects.values_list("first_name", flat=True))
    assert left == {"recent", "seated"}
    kept = Participant.objects.get(match=finished)
    assert kept.user is None and kept.display_name == "old"  # the result still names them
