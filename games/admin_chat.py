"""Chat in the admin: every line said (search, filter by room), a "Delete" action that takes
lines off every screen, and mutes (adding one mutes the user, deleting it unmutes). Both go
through games.staff, which records them in the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from games import staff
from games.admin_actions import UserMarkAdmin
from games.models import ChatMessage, Mute


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ("at", "room", "name", "user", "text", "deleted_at")
    list_filter = (("match", admin.EmptyFieldListFilter), "deleted_at", "at")
    search_fields = ("text", "name", "user__username", "match__public_id")
    date_hierarchy = "at"
    actions = ["delete_lines", "mute_authors"]
    list_select_related = ("match", "user")

    @admin.display(description="room")
    def room(self, line: ChatMessage) -> str:
        return f"match {line.match.public_id}" if line.match_id else "lobby"

    @admin.action(description="Delete the selected messages (from every screen)")
    def delete_lines(self, request: HttpRequest, queryset: Any) -> None:
        done = 0
        for line in queryset.filter(deleted_at=None).select_related("match", "user"):
            said = staff.delete_chat(request.user, line)
            done += 1
            if said != "deleted":
                messages.warning(request, said)
        messages.info(request, f"{done} message(s) deleted")

    @admin.action(description="Mute the authors of the selected messages")
    def mute_authors(self, request: HttpRequest, queryset: Any) -> None:
        users = {line.user for line in queryset.select_related("user") if line.user}
        for user in users:
            messages.info(request, staff.mute(request.user, user, "from the chat log"))

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a line is hidden and recorded, never erased
        return actions

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Mute)
class MuteAdmin(UserMarkAdmin):
    """Muting refuses the user's chat lines; unmuting lets them chat again."""

    fields = ("user", "reason")
    list_display = ("user", "reason", "muted_by", "created_at")
    mark = staticmethod(staff.mute)
    lift = staticmethod(staff.unmute)
