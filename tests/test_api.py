"""The HTTP API: guests, matches, joining, quick play, tickets, and its errors."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from games import services
from games.models import Match, Participant

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit queues new matches


def player(name: str = "alice") -> Client:
    client = Client(enforce_csrf_checks=True)
    client.get("/api/session")
    post(client, "/api/guest", {"name": name})
    return client


def post(client: Client, path: str, body=None, csrf: bool = True):
    headers = {"X-CSRFToken": client.cookies["csrftoken"].value} if csrf else {}
    return client.post(
        path, data=json.dumps(body or {}), content_type="application/json", headers=headers
    )


def test_the_page_and_session_set_the_csrf_cookie():
    client = Client()
    assert client.get("/").status_code == 200
    assert "csrftoken" in client.cookies
    assert client.get("/api/session").json() == {"player": None}


def test_a_guest_gets_a_name_and_can_rename():
    client = player("  alice   cooper ")
    assert client.get("/api/session").json()["player"]["name"] == "alice cooper"
    assert post(client, "/api/guest", {"name": "bob"}).json()["player"]["name"] == "bob"


@pytest.mark.parametrize("name", ["", "x" * 25, "bad\x00name", 42, None])
def test_bad_names_are_refused(name):
    client = Client(enforce_csrf_checks=True)
    client.get("/api/session")
    response = post(client, "/api/guest", {"name": name})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_name"


def test_post_without_csrf_token_is_a_json_403():
    client = player()
    response = post(client, "/api/quickplay", {"game": "lightcycles"}, csrf=False)
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf"


def test_wrong_method_and_bad_json_are_json_errors():
    client = player()
    response = client.get("/api/quickplay")
    assert response.status_code == 405 and response["Allow"] == "POST"
    response = client.post(
        "/api/quickplay",
        data="{oops",
        content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"


def test_playing_needs_a_name_first():
    client = Client(enforce_csrf_checks=True)
    client.get("/api/session")
    response = post(client, "/api/quickplay", {"game": "lightcycles"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "no_player"


def test_games_are_listed():
    games = Client().get("/api/games").json()["games"]
    assert [g["name"] for g in games] == ["lightcycles"]
    assert games[0]["tick_rate"] == 20 and games[0]["min_seats"] == 2


def test_create_a_private_match_and_a_friend_joins_by_code():
    alice, bob = player("alice"), player("bob")
    created = post(alice, "/api/matches", {"game": "lightcycles", "private": True, "seats": 3})
    assert created.status_code == 201
    body = created.json()
    code = body["match"]["code"]
    assert len(code) == 6 and body["seat"] == 0 and body["ticket"]
    assert Client().get("/api/matches").json()["matches"] == []  # private: not listed
    assert "code" not in Client().get(f"/api/matches/{body['match']['id']}").json()["match"]
    joined = post(bob, "/api/join-by-code", {"code": code.lower()}).json()
    assert joined["match"]["id"] == body["match"]["id"] and joined["seat"] == 1
    again = post(bob, "/api/join-by-code", {"code": code}).json()
    assert again["seat"] == 1 and again["ticket"] != joined["ticket"]


def test_a_full_match_refuses_more_players():
    alice = player("alice")
    match_id = post(alice, "/api/matches", {"game": "lightcycles", "seats": 2}).json()["match"][
        "id"
    ]
    assert post(player("bob"), f"/api/matches/{match_id}/join").status_code == 200
    response = post(player("carol"), f"/api/matches/{match_id}/join")
    assert response.status_code == 409 and response.json()["error"]["code"] == "match_full"


def test_quickplay_fills_an_open_match_before_making_another():
    first = post(player("a"), "/api/quickplay", {"game": "lightcycles"}).json()
    second = post(player("b"), "/api/quickplay", {"game": "lightcycles"}).json()
    assert first["match"]["id"] == second["match"]["id"]
    listed = Client().get("/api/matches?game=lightcycles").json()["matches"]
    assert [m["id"] for m in listed] == [first["match"]["id"]]
    assert [p["name"] for p in listed[0]["players"]] == ["a", "b"]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"game": "chess"}, "unknown_game"),
        ({"game": "lightcycles", "seats": 1}, "bad_seats"),
        ({"game": "lightcycles", "seats": 9}, "bad_seats"),
        ({"game": "lightcycles", "seats": "4"}, "bad_seats"),
        ({"game": "lightcycles", "private": "yes"}, "bad_private"),
    ],
)
def test_bad_match_requests_are_refused(body, code):
    response = post(player(), "/api/matches", body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not Match.objects.exists()


def test_unknown_match_and_code_are_404():
    client = player()
    assert post(client, "/api/matches/nope/join").status_code == 404
    assert post(client, "/api/join-by-code", {"code": "ZZZZZZ"}).status_code == 404
    assert client.get("/api/matches/nope").status_code == 404


def test_a_new_ticket_only_for_a_seat_you_hold():
    alice = player("alice")
    match_id = post(alice, "/api/matches", {"game": "lightcycles"}).json()["match"]["id"]
    assert post(alice, f"/api/matches/{match_id}/ticket").json()["seat"] == 0
    response = post(player("mallory"), f"/api/matches/{match_id}/ticket")
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_seat"
    Match.objects.filter(public_id=match_id).update(status=Match.Status.FINISHED)
    assert post(alice, f"/api/matches/{match_id}/ticket").status_code == 409


def test_joining_a_started_match_is_refused_but_your_own_seat_comes_back():
    alice = player("alice")
    match_id = post(alice, "/api/matches", {"game": "lightcycles"}).json()["match"]["id"]
    Match.objects.filter(public_id=match_id).update(status=Match.Status.RUNNING)
    response = post(player("late"), f"/api/matches/{match_id}/join")
    assert response.status_code == 409 and response.json()["error"]["code"] == "match_started"
    assert post(alice, f"/api/matches/{match_id}/join").json()["seat"] == 0
    assert Participant.objects.filter(match__public_id=match_id).count() == 1


def test_a_seat_given_up_gets_no_ticket_and_cannot_be_joined_again():
    alice = player("alice")
    match_id = post(alice, "/api/matches", {"game": "lightcycles"}).json()["match"]["id"]
    Match.objects.filter(public_id=match_id).update(status=Match.Status.RUNNING)
    services.participant_leave(match_id=match_id, seat=0)  # the engine, after the grace
    for path in (f"/api/matches/{match_id}/ticket", f"/api/matches/{match_id}/join"):
        response = post(alice, path)
        assert response.status_code == 410 and response.json()["error"]["code"] == "seat_gone"
