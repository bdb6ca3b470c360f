"""Chat in the admin: staff find lines, delete them (marked, kept, recorded) and mute their
authors; adding a mute mutes, deleting it unmutes; no line can be edited or erased."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from games import services
from games.models import ChatMessage, Mute, StaffAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "a-long-pass-1")
    client.force_login(user)
    return client


def lines(*texts: str) -> list[ChatMessage]:
    user = services.guest_create(name="mallory")
    return [ChatMessage.objects.create(user=user, name="mallory", text=t) for t in texts]


def test_staff_find_and_delete_lines_and_the_deletion_is_recorded(staff_client):
    spam, fine = lines("buy gold <a href=x>now</a>", "good game")
    page = staff_client.get("/admin/games/chatmessage/", {"q": "gold"}).content.decode()
    assert "buy gold &lt;a href=x&gt;now&lt;/a&gt;" in page and "good game" not in page
    chosen = {"action": "delete_lines", "_selected_action": [spam.pk]}
    answer = staff_client.post("/admin/games/chatmessage/", chosen)
    assert answer.status_code == 302
    spam.refresh_from_db()
    fine.refresh_from_db()
    assert spam.deleted_at is not None and fine.deleted_at is None
    assert ChatMessage.objects.filter(pk=spam.pk).exists()  # kept, for the audit trail
    action = StaffAction.objects.get(kind=StaffAction.Kind.DELETE_CHAT)
    assert action.staff_name == "ops" and "buy gold" in action.detail
    assert staff_client.get(f"/admin/games/chatmessage/{spam.pk}/change/").status_code == 200
    refused = staff_client.post(f"/admin/games/chatmessage/{spam.pk}/change/", {"text": "x"})
    assert refused.status_code == 403  # read-only
    spam.refresh_from_db()
    assert spam.text.startswith("buy gold")


def test_muting_from_the_log_and_unmuting_from_the_mutes(staff_client):
    (line,) = lines("spam spam")
    staff_client.post("/admin/games/chatmessage/",
                      {"action": "mute_authors", "_selected_action": [line.pk]})  # fmt: skip
    mute = Mute.objects.get(user=line.user)
    assert mute.muted_by.username == "ops"
    staff_client.post(f"/admin/games/mute/{mute.pk}/delete/", {"post": "yes"})
    assert not Mute.objects.filter(user=line.user).exists()
    kinds = list(StaffAction.objects.order_by("at").values_list("kind", flat=True))
    assert kinds == [StaffAction.Kind.MUTE, StaffAction.Kind.UNMUTE]
