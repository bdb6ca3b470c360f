"""A match's frames, encoded once per distinct view: one view for everyone (most games), or,
for a game with hidden information, one per seat and one for spectators. Never per socket:
a two-seat game with hidden information encodes three views a frame, however many watch."""

from __future__ import annotations

from typing import Any

import msgspec

from games.bus import FrameEntry
from games.engine.spectators import SpectatorStream
from games.protocol import VIEW_ALL, VIEW_PLAYERS, VIEW_SEAT, encode, encode_msgpack, now_ms
from games.rules.base import Game, Result, has_seat_views


class Framing:
    def __init__(self, game: Game, match_id: str, spectators: SpectatorStream):
        self.game = game
        self.match_id = match_id
        self.spectators = spectators
        self.per_seat = has_seat_views(game)

    def frames(self, state: Any, *, tick: int, key: bool, token: int, seats: int,
               result: Result | None, extra: dict[str, Any]) -> list[FrameEntry]:  # fmt: skip
        """The frames of one step: the spectators' (if theirs differ) first, then the
        players'; the last carries `over` when the step ended the match (a hub closes the
        match's sockets once it has written that one)."""
        head = {"type": "frame", "tick": tick, "sent": now_ms(), "key": key, **extra}
        field = "state" if key else "delta"
        if self.per_seat:
            views = [(VIEW_SEAT + seat, self._seat_view(state, seat, key)) for seat in range(seats)]
        else:
            shared = self.game.keyframe(state) if key else self.game.delta(state)
            views = [(VIEW_PLAYERS if self.spectators.distinct else VIEW_ALL, shared)]
        players = [self._entry(view, {**head, field: body}, tick, key, token)
                   for view, body in views]  # fmt: skip
        if result is not None:
            final = {"type": "over", "result": result.to_json()}
            players[-1] = msgspec.structs.replace(players[-1], over=encode(final),
                                                  over_binary=encode_msgpack(final))  # fmt: skip
        if not self.spectators.distinct:
            return players
        return [*self.spectators.push(state, players[-1], extra), *players]

    def keyframe(self, state: Any, tick: int, seat: int | None,
                 extra: dict[str, Any]) -> tuple[int, str, bytes] | None:  # fmt: skip
        """The match as it is now, for one socket that (re)joins: a seat's own view, or the
        spectators' (None: the delayed spectator stream sends one within a second)."""
        if seat is None and self.spectators.distinct:
            return self.spectators.keyframe(state, tick, extra)
        view = self._seat_view(state, seat, True) if self.per_seat else self.game.keyframe(state)
        body = {"type": "frame", "tick": tick, "sent": now_ms(), "key": True, **extra,
                "state": view}  # fmt: skip
        return tick, encode(body), encode_msgpack(body)

    def _seat_view(self, state: Any, seat: int, key: bool) -> Any:
        return self.game.seat_keyframe(state, seat) if key else self.game.seat_delta(state, seat)

    def _entry(self, view: int, body: dict[str, Any], tick: int, key: bool,
               token: int) -> FrameEntry:  # fmt: skip
        return FrameEntry(match=self.match_id, token=token, tick=tick, key=key,
                          text=encode(body), binary=encode_msgpack(body), view=view)  # fmt: skip
