"""The HTTP API: guests, matches, joining, quick play, tickets, its errors, its rate limits
and quotas (in this process's memory; tests/integration/test_http_limits.py has them on
Redis across two web processes)."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from games import ratelimit, services
from games.models import Match, Participant
from games.store import get_store

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit queues new matches

OTHER = "10.0.0.2"  # another client's address


@pytest.fixture(autouse=True)
def no_counts_yet():
    """Every test starts with no rate-limit counts (they live in this process's memory)."""
    ratelimit.forget_all()


def with_limits(settings, **changes) -> None:
    """Change GAMESERVER_HTTP for this test: rates by name (GUEST_PER_ADDRESS="2/minute"),
    anything else by its key (MAX_QUEUED=3)."""
    config = dict(settings.GAMESERVER_HTTP)
    rates = {k: v for k, v in changes.items() if k in config["RATES"]}
    config["RATES"] = {**config["RATES"], **rates}
    config.update({k: v for k, v in changes.items() if k not in rates})
    settings.GAMESERVER_HTTP = config


def player(name: str = "alice", address: str = "127.0.0.1") -> Client:
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
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


def test_games_are_listed_with_their_kind_bots_and_options():
    games = {g["name"]: g for g in Client().get("/api/games").json()["games"]}
    assert list(games) == ["lightcycles", "battleship", "fourinarow"]  # not Bench Arena
    cycles, ships = games["lightcycles"], games["battleship"]
    assert cycles["tick_rate"] == 20 and cycles["min_seats"] == 2 and cycles["options"] == []
    assert cycles["kind"] == "ticking" and ships["kind"] == "events" and ships["bots"] is True
    assert ships["options"][0] == {"name": "size", "label": "Board size", "default": 10,
                                   "type": "int", "min": 8, "max": 12}  # fmt: skip


def test_a_match_keeps_its_options_and_the_defaults_of_those_not_given():
    created = post(player(), "/api/matches", {"game": "battleship", "private": True,
                                              "options": {"turn_seconds": 15},
                                              "bot_fill": False})  # fmt: skip
    assert created.status_code == 201
    match = created.json()["match"]
    assert match["options"] == {"size": 10, "turn_seconds": 15, "placement_seconds": 60}
    assert match["bot_fill"] is False and match["kind"] == "events"
    stored = Match.objects.get(public_id=match["id"])
    assert stored.options == match["options"] and stored.bot_fill is False


def test_create_a_private_match_and_a_friend_joins_by_code():
    alice, bob = player("alice"), player("bob")
    created = post(alice, "/api/matches", {"game": "lightcycles", "private": True, "seats": 3})
    assert created.status_code == 201
    body = created.json()
    code = body["match"]["code"]
    assert len(code) == 8 and body["seat"] == 0 and body["ticket"]
    assert Client().get("/api/matches").json()["matches"] == []  # private: not listed
    assert "code" not in Client().get(f"/api/matches/{body['match']['id']}").json()["match"]
    joined = post(bob, "/api/join-by-code", {"code": code.lower()}).json()
    assert joined["match"]["id"] == body["match"]["id"] and joined["seat"] == 1
    again = post(bob, "/api/join-by-code", {"code": code}).json()
    assert again["seat"] == 1 and again["ticket"] != joined["ticket"]


def test_a_private_match_is_not_joined_by_id_without_its_code():
    alice, mallory = player("alice"), player("mallory")
    created = post(alice, "/api/matches", {"game": "lightcycles", "private": True}).json()
    match_id, code = created["match"]["id"], created["match"]["code"]
    refused = post(mallory, f"/api/matches/{match_id}/join")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "private_match"
    assert code not in refused.content.decode()
    assert Participant.objects.filter(match__public_id=match_id).count() == 1
    assert post(alice, f"/api/matches/{match_id}/join").json()["seat"] == 0  # her own seat
    assert post(mallory, "/api/join-by-code", {"code": code}).json()["seat"] == 1
    again = post(mallory, f"/api/matches/{match_id}/join").json()  # now she holds one
    assert again["seat"] == 1 and again["match"]["code"] == code


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
        ({"game": "battleship", "options": {"size": 20}}, "bad_options"),
        ({"game": "battleship", "options": {"size": "10"}}, "bad_options"),
        ({"game": "battleship", "options": {"size": True}}, "bad_options"),
        ({"game": "battleship", "options": {"colour": "red"}}, "bad_options"),
        ({"game": "lightcycles", "options": {"size": 10}}, "bad_options"),
        ({"game": "battleship", "options": [1]}, "bad_options"),
        ({"game": "battleship", "bot_fill": "no"}, "bad_bot_fill"),
    ],
)
def test_bad_match_requests_are_refused(body, code):
    response = post(player(), "/api/matches", body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert not Match.objects.exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"size": 20}, "option 'size' must be 8 to 12"),
        ({"turn_seconds": 2.5}, "option 'turn_seconds' must be a whole number"),
        ({"colour": "red"}, "unknown option(s) colour; battleship offers size, turn_seconds, "
                            "placement_seconds"),
    ],
)  # fmt: skip
def test_a_bad_option_is_named_with_what_it_accepts(options, message):
    response = post(player(), "/api/matches", {"game": "battleship", "options": options})
    assert response.json()["error"]["message"] == message


def test_unknown_match_and_code_are_404():
    client = player()
    assert post(client, "/api/matches/nope/join").status_code == 404
    assert post(client, "/api/join-by-code", {"code": "ZZZZZZZZ"}).status_code == 404
    assert client.get("/api/matches/nope").status_code == 404


def test_a_new_ticket_only_for_a_seat_you_hold(settings):
    with_limits(settings, TICKET_PER_SEAT="9/second")  # two tickets at once, below
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


# Rate limits and quotas


def assert_refused(response, status: int, code: str, retry_after: str | None = None) -> dict:
    """A JSON refusal with a Retry-After in whole seconds; returns its error."""
    assert response.status_code == status, (response.status_code, response.content)
    found = response.json()["error"]
    assert found["code"] == code and found["message"], found
    assert response["Retry-After"].isdigit(), response.headers
    if retry_after is not None:
        assert response["Retry-After"] == retry_after
    return found


def seat_in_a_match(client: Client) -> str:
    return post(client, "/api/matches", {"game": "lightcycles"}).json()["match"]["id"]


# Each limited call: its rate setting's prefix, and one call of it by `client`.
CALLS = {
    "guest": lambda client, ctx: post(client, "/api/guest", {"name": "again"}),
    "create": lambda client, ctx: post(client, "/api/matches", {"game": "lightcycles"}),
    "quickplay": lambda client, ctx: post(client, "/api/quickplay", {"game": "lightcycles"}),
    "join": lambda client, ctx: post(client, f"/api/matches/{ctx['match']}/join"),
    "join_code": lambda client, ctx: post(client, "/api/join-by-code", {"code": ctx["code"]}),
    "ticket": lambda client, ctx: post(client, f"/api/matches/{ctx['match']}/ticket"),
}


def limits_context() -> dict:
    owner = player("owner", address="10.9.9.9")
    created = post(owner, "/api/matches", {"game": "lightcycles", "private": True, "seats": 8})
    host = player("host", address="10.9.9.8")
    public = post(host, "/api/matches", {"game": "lightcycles", "seats": 8})
    return {"match": public.json()["match"]["id"], "code": created.json()["match"]["code"]}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("scope", ["ADDRESS", "USER"])
def test_each_limit_refuses_one_client_and_not_another(settings, call, scope):
    """Two calls allowed, the third refused with 429 `rate_limited` naming the limit, and a
    client at another address (and another player) still served."""
    ctx = limits_context()
    rates = {f"{call.upper()}_PER_{scope}": "2/minute", "TICKET_PER_SEAT": "9/second"}
    with_limits(settings, **rates, MAX_OPEN_MATCHES_PER_USER=9, MAX_OPEN_MATCHES_PER_ADDRESS=9)
    if scope == "USER":  # one player from three addresses
        first = player("alice", address="10.0.0.5")
        clients = [first, *(clone(first, f"10.0.0.{n}") for n in (6, 7))]
    else:  # three players from one address
        clients = [player(name, address="10.0.0.5") for name in ("alice", "bob", "carol")]
    ratelimit.forget_all()  # making the players above counted too
    if call == "ticket":
        for client in clients:
            CALLS["join"](client, ctx)
    answers = [CALLS[call](client, ctx) for client in clients]
    assert [a.status_code for a in answers[:2]] == [200 if call != "create" else 201] * 2, [
        a.content for a in answers
    ]
    found = assert_refused(answers[2], 429, "rate_limited")
    where = "from one address" if scope == "ADDRESS" else "for one player"
    assert found["message"].startswith("at most 2 ") and where in found["message"], found
    assert 1 <= int(answers[2]["Retry-After"]) <= 60
    other = player("dave", address=OTHER)
    if call == "ticket":
        CALLS["join"](other, ctx)
    assert CALLS[call](other, ctx).status_code in (200, 201)


def clone(client: Client, address: str) -> Client:
    """The same session (player) from another address."""
    twin = Client(enforce_csrf_checks=True, REMOTE_ADDR=address)
    twin.cookies = client.cookies
    return twin


def test_one_ticket_a_second_per_seat():
    alice = player("alice")
    match_id = seat_in_a_match(alice)
    assert post(alice, f"/api/matches/{match_id}/ticket").status_code == 200
    found = assert_refused(post(alice, f"/api/matches/{match_id}/ticket"), 429, "rate_limited", "1")
    assert "1 tickets per second for one seat" in found["message"], found
    other = seat_in_a_match(alice)  # another seat of hers is not held back
    assert post(alice, f"/api/matches/{other}/ticket").status_code == 200
    time.sleep(1.05)
    assert post(alice, f"/api/matches/{match_id}/ticket").status_code == 200


def test_one_player_asking_for_20_private_matches_gets_2(settings):
    with_limits(settings, CREATE_PER_USER="100/minute", CREATE_PER_ADDRESS="100/minute")
    alice = player("alice")
    body = {"game": "lightcycles", "private": True, "seats": 2}
    answers = [post(alice, "/api/matches", body) for _ in range(20)]
    assert [a.status_code for a in answers[:2]] == [201, 201]
    for answer in answers[2:]:
        found = assert_refused(answer, 429, "open_match_quota", "10")
        assert "at most 2 matches waiting" in found["message"], found
    assert Match.objects.count() == 2
    assert post(player("bob"), "/api/matches", body).status_code == 201  # bob has his own quota
    Match.objects.filter(created_by__first_name="alice").update(status=Match.Status.RUNNING)
    assert post(alice, "/api/matches", body).status_code == 201  # started ones do not count


def test_one_address_gets_a_few_open_matches(settings):
    with_limits(settings, MAX_OPEN_MATCHES_PER_ADDRESS=3)
    body = {"game": "lightcycles", "private": True}
    answers = [post(player(f"p{n}"), "/api/matches", body) for n in range(4)]
    assert [a.status_code for a in answers[:3]] == [201] * 3
    found = assert_refused(answers[3], 429, "open_match_quota")
    assert "at most 3 matches waiting for players made from one address" in found["message"]
    assert Match.objects.filter(created_from="127.0.0.1").count() == 3
    assert post(player("far", address=OTHER), "/api/matches", body).status_code == 201


def test_a_long_queue_makes_new_matches_wait(settings):
    """More unclaimed matches queued than GAMESERVER_MAX_QUEUED: 503 `busy`, no new row;
    joining an open match still works."""
    with_limits(settings, MAX_QUEUED=get_store().queue_length() + 1)
    open_id = seat_in_a_match(player("a"))
    seat_in_a_match(player("b"))  # the queue is now over the bound
    before = Match.objects.count()
    assert_refused(post(player("c"), "/api/matches", {"game": "lightcycles"}), 503, "busy", "5")
    assert Match.objects.count() == before
    assert post(player("d"), f"/api/matches/{open_id}/join").status_code == 200


def test_guessing_join_codes_locks_the_guesser_out_for_longer_each_time(settings):
    with_limits(settings, CODE_FAILURES=2)
    code = post(player("alice"), "/api/matches", {"game": "lightcycles", "private": True})
    code = code.json()["match"]["code"]
    mallory = player("mallory")
    for guess in ("AAAAAAAA", "BBBBBBBB", "CCCCCCCC"):  # the third wrong one locks
        assert post(mallory, "/api/join-by-code", {"code": guess}).status_code == 404
    found = assert_refused(post(mallory, "/api/join-by-code", {"code": code}), 429, "rate_limited")
    assert "locked out" in found["message"] and found["message"].endswith("doubles the wait)")
    assert mallory_waits(mallory, code) == 2
    friend = player("bob", address=OTHER)  # another address and player: not locked
    assert post(friend, "/api/join-by-code", {"code": code}).status_code == 200
    time.sleep(2.05)
    assert post(mallory, "/api/join-by-code", {"code": "DDDDDDDD"}).status_code == 404
    assert mallory_waits(mallory, code) == 4  # the fourth wrong one: twice as long
    twin = clone(mallory, "10.0.0.9")  # the same player from elsewhere: still locked
    assert_refused(post(twin, "/api/join-by-code", {"code": code}), 429, "rate_limited")
    newcomer = player("eve")  # another player from mallory's address: the address is locked
    assert_refused(post(newcomer, "/api/join-by-code", {"code": code}), 429, "rate_limited")


def mallory_waits(client: Client, code: str) -> int:
    response = post(client, "/api/join-by-code", {"code": code})
    assert_refused(response, 429, "rate_limited")
    return int(response["Retry-After"])


def test_limits_off_for_a_load_test(settings):
    with_limits(settings, LIMITS=False, GUEST_PER_ADDRESS="1/minute", MAX_OPEN_MATCHES_PER_USER=1)
    alice = player("alice")
    for _ in range(3):
        assert post(alice, "/api/guest", {"name": "alice"}).status_code == 200
        assert post(alice, "/api/matches", {"game": "lightcycles"}).status_code == 201


@pytest.mark.parametrize(
    "path", ["/api/quickplay", "/api/matches", "/api/join-by-code", "/api/guest"]
)
def test_staff_accounts_do_not_play(path):
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get("/api/session")
    body = {"game": "lightcycles", "code": "ABCDEFGH", "name": "ops"}
    body = {
        k: v
        for k, v in body.items()
        if k in {"/api/guest": "name", "/api/join-by-code": "code"}.get(path, "game")
    }
    response = post(client, path, body)
    assert response.status_code == 403 and response.json()["error"] == {
        "code": "staff",
        "message": "staff accounts cannot play: use a guest in another browser",
    }
    assert not Match.objects.exists()


# Malformed bodies: 400 JSON naming the field, never a traceback


DEEP = "[" * 2000 + "]" * 2000  # past Python's recursion limit, within the 4096 bytes


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("/api/quickplay", {"game": []}, "bad_game"),
        ("/api/quickplay", {"game": {"a": 1}}, "bad_game"),
        ("/api/quickplay", {"game": 7}, "bad_game"),
        ("/api/matches", {"game": ["lightcycles"]}, "bad_game"),
        ("/api/matches", {"game": "lightcycles", "private": 1}, "bad_private"),
        ("/api/matches", {"game": "lightcycles", "seats": True}, "bad_seats"),
        ("/api/matches", {"game": "lightcycles", "seats": 2.0}, "bad_seats"),
        ("/api/matches", {"game": "lightcycles", "seats": [4]}, "bad_seats"),
        ("/api/join-by-code", {"code": 12345678}, "bad_code"),
        ("/api/join-by-code", {"code": ["ABCDEFGH"]}, "bad_code"),
        ("/api/guest", {"name": {"first": "x"}}, "bad_name"),
        ("/api/guest", {"name": "ok", "admin": True}, "bad_field"),
        ("/api/quickplay", {"game": "lightcycles", "seats": 2}, "bad_field"),
        ("/api/quickplay", '{"game": ' + DEEP + "}", "bad_json"),
        ("/api/quickplay", DEEP, "bad_json"),
        ("/api/quickplay", '["lightcycles"]', "bad_json"),
        ("/api/quickplay", '"lightcycles"', "bad_json"),
        ("/api/quickplay", b"\xff\xfe{", "bad_json"),
        ("/api/quickplay", "{" + '"a": 1, ' * 700 + "}", "too_large"),
    ],
)
def test_malformed_bodies_get_a_json_400_and_no_traceback(caplog, path, body, code):
    client = player()
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    with caplog.at_level(logging.WARNING):
        response = client.post(
            path,
            data=raw,
            content_type="application/json",
            headers={"X-CSRFToken": client.cookies["csrftoken"].value},
        )
    assert response.status_code in (400, 413) and response["Content-Type"] == "application/json"
    found = response.json()["error"]
    assert found["code"] == code and found["message"], found
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not Match.objects.exists()


def test_an_unexpected_failure_is_a_json_500_logged_once(caplog, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "match_quickplay", broken)
    client = player()
    with caplog.at_level(logging.INFO):
        response = post(client, "/api/quickplay", {"game": "lightcycles"})
    assert response.status_code == 500 and response.json()["error"]["code"] == "server_error"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info[0] is RuntimeError, logged


def test_unknown_api_paths_are_json_404s():
    response = Client().post("/api/nothing/here", data="{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_limits_count_in_memory_while_redis_does_not_answer(caplog):
    """A Redis that does not answer must not refuse (or fail) a call: this process counts
    alone for a while, and says so once."""
    from tests.support import free_port

    counts = ratelimit.Counts(f"redis://127.0.0.1:{free_port()}/0", "t:", timeout=0.2)
    item = ratelimit.rates("guest", "user")[0]
    with caplog.at_level(logging.WARNING, logger="games.ratelimit"):
        for _ in range(item.amount):
            assert counts.run(lambda s: ratelimit._hit(s, item, "user", "1")) is None
        assert counts.run(lambda s: ratelimit._hit(s, item, "user", "1")) >= 1  # held, in memory
    assert [r.getMessage() for r in caplog.records] == [
        "rate limits: Redis did not answer (ConnectionError); counting in this process until "
        "it does"
    ]
