"""Operators watch matches here; results and seats are read-only, written only by the engine.
What runs now comes from the engines' heartbeats (games/admin_live.py); what staff do to a
running match, to users and the audit trail of it are in games/admin_actions.py. A match that
is not over cannot be deleted: its row is under a running engine.

A staff login gets a session of hours (DJANGO_STAFF_SESSION_SECONDS), not the guests' month:
a stolen or forgotten admin cookie is soon worthless.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.auth.signals import user_logged_in
from django.db.models import Count, Q
from django.dispatch import receiver
from django.http import HttpRequest

from games import admin_chat  # noqa: F401  (registers the chat and mute admins)
from games.admin_actions import MatchActions  # also registers the ban and audit admins
from games.admin_live import EngineFilter, LiveMatchAdmin, PlayerFilter
from games.models import Match, Participant

OVER = (Match.Status.FINISHED, Match.Status.ABANDONED)


@receiver(user_logged_in, dispatch_uid="games.staff_session_expiry")
def staff_session_expiry(sender: type, request: HttpRequest, user, **kwargs) -> None:
    if user.is_staff and request is not None:
        request.session.set_expiry(settings.STAFF_SESSION_SECONDS)


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    fields = ("seat", "display_name", "user", "bot", "score", "placement", "joined_at", "left_at",
              "kicked_at")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Match)
class MatchAdmin(LiveMatchAdmin, MatchActions, admin.ModelAdmin):
    list_display = (
        "public_id",
        "game",
        "status",
        "private",
        "players",
        "bots",
        "created_at",
        "duration",
        "engine",
        "live",
    )
    list_filter = ("status", EngineFilter, PlayerFilter, "game", "private", "created_at")
    search_fields = (
        "public_id",
        "join_code",
        "participants__display_name",
        "participants__user__username",
    )
    date_hierarchy = "created_at"
    inlines = [ParticipantInline]
    readonly_fields = (
        "public_id",
        "game",
        "status",
        "private",
        "join_code",
        "seats",
        "tick_rate",
        "options",
        "bot_fill",
        "seed",
        "created_by",
        "created_from",
        "created_at",
        "started_at",
        "ended_at",
        "live_now",
        "staff_actions",
        "standings",
        "result",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_players=Count("participants", filter=Q(participants__bot=False), distinct=True),
                n_bots=Count("participants", filter=Q(participants__bot=True), distinct=True),
            )
        )

    def has_add_permission(self, request) -> bool:
        return False  # matches are made by players through the API

    def has_delete_permission(self, request, obj: Match | None = None) -> bool:
        if obj is not None and obj.status not in OVER:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request) -> dict:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions[name] = (MatchAdmin.delete_over, name, description)
        return actions

    def delete_over(self, request, queryset):
        """The bulk delete, for matches that are over only; the others are left and named."""
        kept = list(queryset.exclude(status__in=OVER).values_list("public_id", flat=True))
        if kept:
            self.message_user(
                request,
                f"Not deleted, not over yet: {', '.join(kept)}. End them first.",
                messages.WARNING,
            )
        over = queryset.filter(status__in=OVER)
        if not over.exists():
            return None
        return delete_selected(self, request, over)

    @admin.display(ordering="n_players")
    def players(self, match: Match) -> int:
        return match.n_players

    @admin.display(ordering="n_bots")
    def bots(self, match: Match) -> int:
        return match.n_bots

    @admin.display(description="duration")
    def duration(self, match: Match) -> str:
        if not match.started_at:
            return "-"
        if not match.ended_at:
            return "running"
        seconds = int((match.ended_at - match.started_at).total_seconds())
        return f"{seconds // 60}:{seconds % 60:02d}"


admin.site.index_template = "admin/gameserver_index.html"  # the Engines link on the index
