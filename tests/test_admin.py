"""Operators find matches in the admin; results there are read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from games import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-password-1")
    client.login(username="ops", password="a-long-password-1")
    return client


def make_match(name: str, private: bool = False):
    user = services.guest_create(name=name)
    return services.match_create(game="lightcycles", private=private, seats=2, user=user)


def test_matches_are_listed_and_found_by_player_name_code_and_id(staff_client):
    alice = make_match("alice")
    bob = make_match("bob", private=True)
    services.match_start(match_id=bob.public_id)
    page = staff_client.get("/admin/games/match/").content.decode()
    assert alice.public_id in page and bob.public_id in page
    for query, found, missing in [
        ("alice", alice, bob),
        (bob.join_code, bob, alice),
        (alice.public_id, alice, bob),
    ]:
        page = staff_client.get("/admin/games/match/", {"q": query}).content.decode()
        assert found.public_id in page and missing.public_id not in page
    page = staff_client.get("/admin/games/match/", {"status__exact": "running"}).content.decode()
    assert bob.public_id in page and alice.public_id not in page


def test_a_match_page_shows_participants_and_nothing_is_editable(staff_client):
    match = make_match("alice")
    services.match_start(match_id=match.public_id)
    page = staff_client.get(f"/admin/games/match/{match.pk}/change/").content.decode()
    assert "alice" in page and "Bit" in page  # the bot seated in seat 1
    assert 'name="result"' not in page and 'name="status"' not in page


def test_the_admin_is_for_staff_only(client):
    services.guest_create(name="guest")
    response = client.get("/admin/games/match/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
