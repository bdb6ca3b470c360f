"""What a match's spectators are sent, when it is not the players' frames: the game's own
spectator view, and or the frames a delay later (a game where watching live would help a
player cheat). Built once per tick for all spectators, never per spectator."""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
from django.conf import settings

from games.bus import FrameEntry
from games.protocol import VIEW_SPECTATORS, encode, encode_msgpack, now_ms
from games.rules.base import EVENTS, Game, kind


def spectator_delay(game: Game) -> float:
    """Seconds spectators are behind the players: the setting for the game, else its own.
    An event-driven game's frames are its steps, not time: its spectators are never delayed."""
    if kind(game) == EVENTS:
        return 0.0
    delays = settings.GAMESERVER["SPECTATOR_DELAYS"]
    return float(delays.get(game.name, getattr(game, "spectator_delay", 0.0)))


class SpectatorStream:
    def __init__(self, game: Game, tick_rate: int, delay: float):
        self.game = game
        self.delay = delay
        self.has_view = callable(getattr(game, "spectator_keyframe", None))
        self.delay_ticks = round(delay * tick_rate)
        # False: spectators get the players' frames themselves (no work, no extra bytes).
        self.distinct = self.has_view or self.delay_ticks > 0
        self.buffer: deque[FrameEntry] = deque()

    def push(self, state: Any, frame: FrameEntry, extra: dict[str, Any]) -> list[FrameEntry]:
        """The spectators' frames due this tick. At the end the rest of the buffer goes at
        once: the match is decided, and nobody waits the delay for the last moves."""
        entry = self._entry(state, frame, extra)
        self.buffer.append(entry)
        if frame.over is not None:
            due = list(self.buffer)
            self.buffer.clear()
            return due
        due = []
        while len(self.buffer) > self.delay_ticks:
            due.append(self.buffer.popleft())
        return due

    def keyframe(self, state: Any, tick: int,
                 extra: dict[str, Any]) -> tuple[int, str, bytes] | None:  # fmt: skip
        """A keyframe for a spectator who just joined; None with a delay (the delayed stream
        sends its next keyframe within a second)."""
        if state is None or self.delay_ticks:
            return None
        body = {"type": "frame", "tick": tick, "sent": now_ms(), "key": True, **extra,
                "state": self._view(state, key=True)}  # fmt: skip
        return tick, encode(body), encode_msgpack(body)

    def _entry(self, state: Any, frame: FrameEntry, extra: dict[str, Any]) -> FrameEntry:
        if not self.has_view:
            return msgspec.structs.replace(frame, view=VIEW_SPECTATORS, over=None,
                                           over_binary=None)  # fmt: skip
        body: dict[str, Any] = {"type": "frame", "tick": frame.tick, "sent": now_ms(),
                                "key": frame.key, **extra}  # fmt: skip
        body["state" if frame.key else "delta"] = self._view(state, key=frame.key)
        return FrameEntry(match=frame.match, token=frame.token, tick=frame.tick, key=frame.key,
                          text=encode(body), binary=encode_msgpack(body),
                          view=VIEW_SPECTATORS)  # fmt: skip

    def _view(self, state: Any, *, key: bool) -> Any:
        if not self.has_view:
            return self.game.keyframe(state)
        return self.game.spectator_keyframe(state) if key else self.game.spectator_delta(state)
