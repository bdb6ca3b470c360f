"""The staff's controls in the admin: end a running match, kick a player, send a notice (a
form page each, linked from the match page), ban and unban users, and the audit trail. Every
action goes through games.staff, which records it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from games import staff
from games.models import Ban, Match, Participant, StaffAction

REASON = forms.CharField(
    required=False, max_length=200, help_text="Optional; players see it in the result."
)


class EndForm(forms.Form):
    reason = REASON

    def __init__(self, *args: Any, match: Match, **kwargs: Any):
        super().__init__(*args, **kwargs)


class NoticeForm(forms.Form):
    text = forms.CharField(max_length=200, help_text="Shown to the match's players at once.")

    def __init__(self, *args: Any, match: Match, **kwargs: Any):
        super().__init__(*args, **kwargs)


class KickForm(forms.Form):
    participant = forms.ModelChoiceField(queryset=Participant.objects.none(), label="Player")
    how = forms.ChoiceField(
        choices=[
            ("bot", "Give the seat to a bot (the match goes on as it was)"),
            ("remove", "Remove the player (the game's rules for leaving apply)"),
        ],
        widget=forms.RadioSelect,
        initial="bot",
    )
    reason = forms.CharField(required=False, max_length=200, help_text="For the audit trail.")

    def __init__(self, *args: Any, match: Match, **kwargs: Any):
        super().__init__(*args, **kwargs)
        people = match.participants.filter(bot=False, kicked_at=None, user__isnull=False)
        choice = self.fields["participant"]
        choice.queryset = people
        choice.label_from_instance = lambda p: f"seat {p.seat}: {p.display_name}"


def _end(user: Any, match: Match, data: dict[str, Any]) -> str:
    return staff.end_match(user, match, data["reason"])


def _notice(user: Any, match: Match, data: dict[str, Any]) -> str:
    return staff.send_notice(user, match, data["text"])


def _kick(user: Any, match: Match, data: dict[str, Any]) -> str:
    return staff.kick(user, data["participant"], data["how"] == "remove", data["reason"])


# name -> (title, form, what it does)
ACTIONS: dict[str, tuple[str, type[forms.Form], Callable[..., str]]] = {
    "end": ("End this match now", EndForm, _end),
    "kick": ("Kick a player", KickForm, _kick),
    "notice": ("Send a notice to the players", NoticeForm, _notice),
}


class MatchActions:
    """Mixed into the match admin: a form page per action, at <id>/end/, /kick/, /notice/."""

    def get_urls(self) -> list:
        mine = [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(self._action_view(name)),
                name=f"games_match_{name}",
            )
            for name in ACTIONS
        ]
        return mine + super().get_urls()

    @admin.display(description="staff actions")
    def staff_actions(self, match: Match) -> str:
        if match.status != Match.Status.RUNNING:
            return "none: the match is not running"
        links = [(reverse(f"admin:games_match_{name}", args=[match.pk]), title)
                 for name, (title, _, _) in ACTIONS.items()]  # fmt: skip
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def _action_view(self, name: str) -> Callable[..., HttpResponse]:
        title, form_class, run = ACTIONS[name]

        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            match = self.get_object(request, object_id)
            if match is None:
                raise Http404("no such match")
            if not request.user.has_perm("games.change_match"):
                raise PermissionDenied
            form = form_class(request.POST or None, match=match)
            if request.method == "POST" and form.is_valid():
                try:
                    said = run(request.user, match, form.cleaned_data)
                except staff.StaffError as error:
                    messages.error(request, f"Not done: {error}")
                else:
                    messages.success(request, f"Done: {said}")
                    return redirect("admin:games_match_change", match.pk)
            context = {
                **self.admin_site.each_context(request),
                "title": f"{title}: {match}",
                "form": form,
                "original": match,
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/games/match/staff_action.html", context)

        return view


class BanForm(forms.ModelForm):
    class Meta:
        model = Ban
        fields = ("user", "reason")

    def clean_user(self) -> Any:
        user = self.cleaned_data["user"]
        if user.is_staff or user.is_superuser:
            raise forms.ValidationError("staff accounts are not banned: remove their staff status")
        return user


class UserMarkAdmin(admin.ModelAdmin):
    """A ban or a mute: adding one is the staff action (`mark`), deleting one lifts it
    (`lift`); both go through games.staff and are recorded, and a mark is never edited."""

    mark: Callable[..., str]
    lift: Callable[..., str]
    search_fields = ("user__username",)
    raw_id_fields = ("user",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        messages.info(request, type(self).mark(request.user, obj.user, obj.reason))
        obj.pk = self.model.objects.get(user=obj.user).pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        type(self).lift(request.user, obj.user)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for marked in queryset.select_related("user"):
            type(self).lift(request.user, marked.user)


@admin.register(Ban)
class BanAdmin(UserMarkAdmin):
    """Banning closes the user's sockets; unbanning lets them play again."""

    form = BanForm
    list_display = ("user", "reason", "banned_by", "created_at")
    mark = staticmethod(staff.ban)
    lift = staticmethod(staff.unban)


@admin.register(StaffAction)
class StaffActionAdmin(admin.ModelAdmin):
    """The audit trail: read-only for everyone."""

    list_display = ("at", "staff_name", "kind", "match_link", "target", "detail", "reason")
    list_filter = ("kind", "at")
    search_fields = ("staff_name", "target__username", "match__public_id", "reason")
    date_hierarchy = "at"

    @admin.display(description="match")
    def match_link(self, action: StaffAction) -> str:
        if action.match_id is None:
            return "–"
        url = reverse("admin:games_match_change", args=[action.match_id])
        return format_html('<a href="{}">{}</a>', url, action.match.public_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
