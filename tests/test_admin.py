"""Operators find matches in the admin; results there are read-only. The admin sits at
DJANGO_ADMIN_PATH, locks a name out at an address after repeated failed logins (django-axes),
and gives staff sessions of hours."""

from __future__ import annotations

import http.client
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model

from games import services
from games.rules.base import Result, Standing
from games.store import get_store
from tests.support import STAFF_PASSWORD, Api, Stack, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-pass-1")
    client.force_login(user)  # authenticate() needs a request under django-axes
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
    assert 'name="created_from"' not in page


def test_the_admin_is_for_staff_only(client):
    services.guest_create(name="guest")
    response = client.get("/admin/games/match/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def heartbeat(channel: str, matches: list[dict], ttl: float = 60) -> None:
    """An engine's heartbeat as games/engine/heartbeat.py writes it, into this process's store."""
    info = {"name": "engine-x", "host": "box", "pid": 42, "started_at": time.time(),
            "channel": channel, "phases": {"playing": len(matches)}, "players": 1,
            "ticks": {"20": {"ticks": 1234, "overruns": 0, "skipped": 0, "p50_ms": 0.1,
                             "p99_ms": 0.4}}, "matches": matches}  # fmt: skip
    async_to_sync(get_store().write_engine_heartbeat)(channel, info, ttl)


def test_live_matches_show_their_engine_tick_and_seats_and_finished_ones_standings(
    staff_client,
):
    running = make_match("alice")
    services.match_start(match_id=running.public_id)
    seats = [{"seat": 0, "name": "alice", "state": "connected"},
             {"seat": 1, "name": "Bit", "state": "bot"}]  # fmt: skip
    summary = {"match": running.public_id, "phase": "playing", "tick": 777, "seats": seats,
               "checkpointed_at": time.time() - 2}  # fmt: skip
    heartbeat("engine.live1", [summary])
    page = staff_client.get("/admin/games/match/").content.decode()
    assert "engine-x (box:42)" in page and "tick 777" in page and "0 alice connected" in page
    page = staff_client.get("/admin/games/match/", {"engine": "engine.live1"}).content.decode()
    assert running.public_id in page
    page = staff_client.get(f"/admin/games/match/{running.pk}/change/").content.decode()
    assert "owner engine <strong>engine-x (box:42)</strong>" in page
    assert "<td>alice</td><td>connected</td>" in page and "<td>Bit</td><td>bot</td>" in page
    page = staff_client.get("/admin/games/match/engines/").content.decode()
    assert "engine-x" in page and "1234" in page and "engine.live1" in page

    done = make_match("carol")
    services.match_start(match_id=done.public_id)
    standings = (Standing(seat=1, score=9, placement=1), Standing(seat=0, score=3, placement=2))
    result = Result(standings=standings, winner=1, reason="time limit")
    services.match_finish(match_id=done.public_id, result=result)
    page = staff_client.get(f"/admin/games/match/{done.pk}/change/").content.decode()
    assert '<table class="standings">' in page
    assert "<td>1</td><td>Bit</td><td>9</td><td>bot</td>" in page
    assert "<td>2</td><td>carol</td><td>3</td><td>person</td>" in page
    assert "time limit" in page  # the raw result is still there, read-only


def test_silent_engines_are_listed_apart_and_a_down_store_is_said(
    staff_client, monkeypatch, settings
):
    settings.GAMESERVER = {**settings.GAMESERVER, "ENGINE_SILENT": 0.05}
    heartbeat("engine.gone", [], ttl=60)
    time.sleep(0.1)
    page = staff_client.get("/admin/games/match/engines/").content.decode()
    assert 'id="silent-engines"' in page and "engine.gone" in page
    assert "No live engine." in page

    async def down():
        raise ConnectionError("Redis is away")

    monkeypatch.setattr(get_store(), "live_engines", down)
    response = staff_client.get("/admin/games/match/engines/")
    assert response.status_code == 200 and "store unavailable" in response.content.decode()
    response = staff_client.get("/admin/games/match/")
    assert response.status_code == 200 and "store unavailable" in response.content.decode()


def test_the_index_links_the_engines_page_and_users_are_found_by_username(staff_client):
    assert "/admin/games/match/engines/" in staff_client.get("/admin/").content.decode()
    match = make_match("dora")
    username = match.participants.get(seat=0).user.username
    page = staff_client.get("/admin/games/match/", {"q": username}).content.decode()
    assert match.public_id in page
    page = staff_client.get("/admin/games/match/", {"player": username}).content.decode()
    assert match.public_id in page


def test_a_match_that_is_not_over_cannot_be_deleted(staff_client):
    running = make_match("erin")
    services.match_start(match_id=running.public_id)
    over = make_match("fred")
    services.match_abandon(match_id=over.public_id)
    page = staff_client.get(f"/admin/games/match/{running.pk}/change/").content.decode()
    assert "/delete/" not in page
    response = staff_client.post(f"/admin/games/match/{running.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert "/delete/" in staff_client.get(f"/admin/games/match/{over.pk}/change/").content.decode()
    # The bulk action deletes the finished one and leaves the running one.
    form = {"action": "delete_selected", "_selected_action": [running.pk, over.pk], "post": "yes"}
    response = staff_client.post("/admin/games/match/", form, follow=True)
    assert "Not deleted, not over yet: " + running.public_id in response.content.decode()
    from games.models import Match

    assert list(Match.objects.values_list("public_id", flat=True)) == [running.public_id]


# The admin on a real web process: its path, the lock-out after failed logins, short sessions.

ADMIN = "ops-7q4x/"  # DJANGO_ADMIN_PATH of these tests' stack
LOGIN = f"/{ADMIN}login/"
PASSWORD = STAFF_PASSWORD
FAILURE_LIMIT = 3
LOCKOUT_SECONDS = 3
STAFF_SESSION_SECONDS = 3


class AdminBrowser:
    """An operator's browser over real HTTP from a chosen loopback address. Cookies are kept
    by hand, so a test can go on sending one that the server should no longer accept."""

    def __init__(self, base: str, source: str = "127.0.0.1"):
        parts = urlsplit(base)
        self.host, self.port, self.source = parts.hostname, parts.port, source
        self.cookies: dict[str, str] = {}
        self.max_age: dict[str, int] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=10, source_address=(self.source, 0)
        )
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        for raw in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(raw).items():
                self.cookies[name] = morsel.value
                if morsel["max-age"]:
                    self.max_age[name] = int(morsel["max-age"])
        return response.status, text

    def login(self, username: str, password: str) -> int:
        """The admin's login form: 302 when let in, 200 for a wrong password, 429 locked."""
        self.request("GET", LOGIN)
        form = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": self.cookies["csrftoken"],
            "next": f"/{ADMIN}",
        }
        return self.request("POST", LOGIN, form)[0]


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory):
    """Two web processes on one database with a moved admin, a low failure limit and short
    lock-outs and staff sessions; staff accounts "ops" and "target"."""
    stack = Stack(
        tmp_path_factory.mktemp("admin"),
        DJANGO_ADMIN_PATH=ADMIN,
        DJANGO_ADMIN_FAILURE_LIMIT=str(FAILURE_LIMIT),
        DJANGO_ADMIN_LOCKOUT_SECONDS=str(LOCKOUT_SECONDS),
        DJANGO_STAFF_SESSION_SECONDS=str(STAFF_SESSION_SECONDS),
    )
    try:
        make_staff(stack, "ops", "target")
        yield stack.web("web1", server="uvicorn"), stack.web("web2", server="uvicorn")
    finally:
        stack.stop()


@pytest.mark.timeout(60)
def test_the_admin_is_served_at_DJANGO_ADMIN_PATH_only(admin_site):
    browser = AdminBrowser(admin_site[0])
    status, page = browser.request("GET", LOGIN)
    assert status == 200 and "Django administration" in page
    assert browser.request("GET", "/admin/login/")[0] == 404
    assert browser.request("GET", "/admin/")[0] == 404
    assert browser.login("ops", PASSWORD) == 302
    assert browser.request("GET", f"/{ADMIN}games/match/")[0] == 200


@pytest.mark.timeout(60)
def test_failed_logins_lock_that_name_at_that_address_in_every_web_process(admin_site):
    web1, web2 = admin_site
    attacker = AdminBrowser(web1)
    answers = [attacker.login("target", f"guess-{i}") for i in range(FAILURE_LIMIT)]
    assert answers == [200] * (FAILURE_LIMIT - 1) + [429]  # the last failure locks
    locked_at = time.monotonic()
    assert attacker.login("target", PASSWORD) == 429  # the right password, locked out
    assert "sessionid" not in attacker.cookies
    assert AdminBrowser(web2).login("target", PASSWORD) == 429  # the count is in the database
    # The operator elsewhere, and another account from the attacker's address, still get in.
    assert AdminBrowser(web1, source="127.0.0.2").login("target", PASSWORD) == 302
    assert AdminBrowser(web1).login("ops", PASSWORD) == 302
    time.sleep(max(0.0, LOCKOUT_SECONDS + 0.5 - (time.monotonic() - locked_at)))
    assert AdminBrowser(web1).login("target", PASSWORD) == 302  # the cool-off is over


@pytest.mark.timeout(60)
def test_staff_sessions_expire_in_hours_and_guests_keep_theirs_for_a_month(admin_site):
    base = admin_site[0]
    operator = AdminBrowser(base, source="127.0.0.3")
    assert operator.login("ops", PASSWORD) == 302
    assert operator.max_age["sessionid"] == STAFF_SESSION_SECONDS
    assert operator.request("GET", f"/{ADMIN}")[0] == 200
    time.sleep(STAFF_SESSION_SECONDS + 0.5)
    status, _ = operator.request("GET", f"/{ADMIN}")  # the old cookie, sent anyway
    assert status == 302, "the server still accepts an expired staff session"
    guest = Api(base)
    guest.post("/api/guest", {"name": "guest"})
    expires = next(c.expires for c in guest.cookies if c.name == "sessionid")
    assert expires - time.time() > 29 * 86400
