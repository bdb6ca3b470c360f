"""Operators watch matches here; results and seats are read-only, written only by the engine.

A staff login gets a session of hours (DJANGO_STAFF_SESSION_SECONDS), not the guests' month:
a stolen or forgotten admin cookie is soon worthless.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.signals import user_logged_in
from django.db.models import Count, Q
from django.dispatch import receiver
from django.http import HttpRequest

from games.models import Match, Participant


@receiver(user_logged_in, dispatch_uid="games.staff_session_expiry")
def staff_session_expiry(sender: type, request: HttpRequest, user, **kwargs) -> None:
    if user.is_staff and request is not None:
        request.session.set_expiry(settings.STAFF_SESSION_SECONDS)


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    fields = ("seat", "display_name", "user", "bot", "score", "placement", "joined_at", "left_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "game",
        "status",
        "private",
        "players",
        "bots",
        "created_at",
        "duration",
    )
    list_filter = ("status", "game", "private", "created_at")
    search_fields = ("public_id", "join_code", "participants__display_name")
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
        "seed",
        "created_by",
        "created_at",
        "started_at",
        "ended_at",
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
