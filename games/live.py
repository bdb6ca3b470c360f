"""What the engines report now, read for the admin's synchronous views: the engines' last
heartbeats and, per match, the summary of the engine that runs it (games/engine/heartbeat.py).
Redis may be away; the admin then says so instead of failing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync

from games.store import StoreUnavailable, get_store


@dataclass
class LiveView:
    """One read of every engine's heartbeat, shared by the rows of one admin page."""

    engines: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""  # why the store could not be read, for the page to say

    @property
    def live(self) -> list[dict[str, Any]]:
        return [e for e in self.engines if not e["silent"]]

    @property
    def silent(self) -> list[dict[str, Any]]:
        return [e for e in self.engines if e["silent"]]

    def match(self, match_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(engine, summary) of the live engine running this match, if one reports it."""
        for engine in self.live:
            for summary in engine.get("matches", []):
                if summary["match"] == match_id:
                    return engine, summary
        return None


def read_live() -> LiveView:
    import redis

    try:
        return LiveView(engines=async_to_sync(get_store().live_engines)())
    except (StoreUnavailable, redis.RedisError, OSError) as error:
        return LiveView(error=f"store unavailable: {type(error).__name__}: {error}")


def live_for(request: Any) -> LiveView:
    """The request's one read, so that a list of a hundred rows asks the store once."""
    view = getattr(request, "_gameserver_live", None)
    if view is None:
        view = request._gameserver_live = read_live()
    return view
