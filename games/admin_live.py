"""What the match admin shows from the engines' heartbeats (games/live.py): the Engines page,
each live match's owner engine, tick, phase and seats, the filter by engine, and finished
matches' standings as a table."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from games.live import LiveView, live_for
from games.models import Match


def ago(unix_time: float | None) -> str:
    return "never" if unix_time is None else f"{max(0.0, time.time() - unix_time):.1f} s ago"


def engine_label(engine: dict[str, Any]) -> str:
    return f"{engine['name']} ({engine['host']}:{engine['pid']})"


def seats_text(summary: dict[str, Any]) -> str:
    """Seat by seat, "0 alice connected, 1 Bit bot"."""
    return ", ".join(f"{s['seat']} {s['name'] or '-'} {s['state']}" for s in summary["seats"])


class EngineFilter(admin.SimpleListFilter):
    """Matches that a live engine reports running, by engine."""

    title = "engine"
    parameter_name = "engine"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(e["channel"], engine_label(e)) for e in live_for(request).live]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if not self.value():
            return queryset
        engine = next((e for e in live_for(request).live if e["channel"] == self.value()), None)
        ids = [m["match"] for m in engine["matches"]] if engine else []
        return queryset.filter(public_id__in=ids)


class PlayerFilter(admin.SimpleListFilter):
    """Matches a person played, among the most recent players (search finds any user)."""

    title = "player"
    parameter_name = "player"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from games.models import Participant

        names = (
            Participant.objects.filter(bot=False, user__isnull=False)
            .order_by("-joined_at")
            .values_list("user__username", flat=True)
        )
        recent = list(dict.fromkeys(names[:200]))[:20]
        return [(name, name) for name in recent]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if not self.value():
            return queryset
        return queryset.filter(participants__user__username=self.value()).distinct()


class LiveMatchAdmin:
    """Mixed into the match admin, before admin.ModelAdmin."""

    def get_urls(self) -> list:
        engines = path(
            "engines/", self.admin_site.admin_view(self.engines_view), name="games_engines"
        )
        return [engines, *super().get_urls()]

    def engines_view(self, request: HttpRequest) -> HttpResponse:
        live: LiveView = live_for(request)
        rows = [engine_row(e) for e in live.engines]
        context = {
            **self.admin_site.each_context(request),
            "title": "Engines",
            "error": live.error,
            "live": [r for r in rows if not r["silent"]],
            "silent": [r for r in rows if r["silent"]],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/games/engines.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra = {"store_error": live_for(request).error, **(extra_context or {})}
        return super().changelist_view(request, extra)

    # The rows' display methods get only the match: each carries its page's one read.
    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        for match in changelist.result_list:
            match.live_view = live_for(request)
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        match = super().get_object(request, object_id, from_field)
        if match is not None:
            match.live_view = live_for(request)
        return match

    def _live(self, match: Match) -> tuple[dict, dict] | None:
        view = getattr(match, "live_view", None)
        if view is None or match.status not in (Match.Status.WAITING, Match.Status.RUNNING):
            return None
        return view.match(match.public_id)

    @admin.display(description="engine")
    def engine(self, match: Match) -> str:
        found = self._live(match)
        return engine_label(found[0]) if found else "-"

    @admin.display(description="live")
    def live(self, match: Match) -> str:
        found = self._live(match)
        if not found:
            return "-"
        _, summary = found
        return f"{summary['phase']}, tick {summary['tick']}: {seats_text(summary)}"

    @admin.display(description="live now (from the engine's heartbeat)")
    def live_now(self, match: Match) -> str:
        if match.status not in (Match.Status.WAITING, Match.Status.RUNNING):
            return "-"
        found = self._live(match)
        if not found:
            view = getattr(match, "live_view", None)
            return (view.error if view else "") or "no live engine reports this match (yet)"
        engine, summary = found
        seats = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((s["seat"], s["name"] or "-", s["state"]) for s in summary["seats"]),
        )  # fmt: skip
        return format_html(
            '<p class="live-owner">owner engine <strong>{}</strong> · phase {} · tick {} · '
            "last checkpoint {} · heartbeat {}</p>"
            '<table class="live-seats"><thead><tr><th>seat</th><th>player</th><th>now</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            engine_label(engine), summary["phase"], summary["tick"],
            ago(summary.get("checkpointed_at")), ago(engine["last_seen"]), seats,
        )  # fmt: skip

    @admin.display(description="standings")
    def standings(self, match: Match) -> str:
        standings = (match.result or {}).get("standings") or []
        if not standings:
            return "-"
        people = {p.seat: p for p in match.participants.all()}
        rows = []
        for s in sorted(standings, key=lambda s: (s["placement"], s["seat"])):
            who = people.get(s["seat"])
            name = who.display_name if who else f"seat {s['seat']}"
            kind = "bot" if who is not None and who.bot else "person"
            rows.append((s["placement"], name, s["score"], kind))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="standings"><thead><tr><th>place</th><th>player</th><th>score</th>'
            "<th>bot or person</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )


def engine_row(engine: dict[str, Any]) -> dict[str, Any]:
    """An engine's heartbeat as the Engines page shows it."""
    ticks = [
        {"rate": rate, **stats}
        for rate, stats in sorted(engine.get("ticks", {}).items(), key=lambda kv: int(kv[0]))
    ]
    return {
        **engine,
        "label": engine_label(engine),
        "phases": ", ".join(f"{n} {phase}" for phase, n in sorted(engine["phases"].items()))
        or "none",
        "n_matches": len(engine.get("matches", [])),
        "tick_rows": ticks,
        "seen": ago(engine["last_seen"]),
        "up": ago(engine["started_at"]).replace(" ago", ""),
    }
