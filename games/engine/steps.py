"""The steps of an event-driven match (a turn-based game), as a part of MatchRuntime: every
call into the rules that changes the state is one step with its own frames, and the engine
host rings `wake` at `next_wake` (a deadline, a bot's move) instead of ticking the match."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from games.engine.phases import PLAYING
from games.rules.base import IllegalMove

if TYPE_CHECKING:
    from games.engine.runtime import MatchRuntime

log = logging.getLogger(__name__)

EARLY = 0.002  # seconds an alarm may ring before its deadline (clocks' rounding)


class EventSteps:
    def now(self: MatchRuntime) -> float:
        """Match time: seconds since an event-driven match started."""
        return time.time() - self.origin

    def keyframe_now(self: MatchRuntime) -> None:
        """An event-driven match sends a keyframe now (it was taken over, or a hub lost
        frames) instead of at its next step, which may be a long turn away."""
        self.keyframe_due = True
        self._stepped()

    def _stepped(self: MatchRuntime) -> None:
        """The state of an event-driven match changed: its frames go out now."""
        if not self.event_driven or self.phase != PLAYING:
            return
        self.seq += 1
        self.bot_due = None  # a bot that is (still) to move thinks from here
        self.outbox.extend(self._frames(self.game.is_over(self.state)))
        if self.on_step is not None:
            self.on_step(self)

    def _deadline(self: MatchRuntime) -> float | None:
        """The game's next deadline; none while a seat to move is away within the grace
        where the game's clock waits for it (its return, or its leave, is the next step)."""
        deadline = self.game.deadline(self.state)
        if (
            deadline is not None
            and self.game.clock_waits_for_grace
            and any(seat in self.absent for seat in self.game.to_move(self.state))
        ):
            return None
        return deadline

    def next_wake(self: MatchRuntime) -> float | None:
        """Seconds until the match next needs the engine: a deadline or a bot's move."""
        if not self.event_driven or self.phase != PLAYING:
            return None
        now = self.now()
        due = [] if (deadline := self._deadline()) is None else [deadline]
        if self._bot_seats():
            if self.bot_due is None:
                self.bot_due = now + self.bot_think
            due.append(self.bot_due)
        return max(0.0, min(due) - now) if due else None

    def wake(self: MatchRuntime) -> None:
        """The alarm rang: bots to move move, and a deadline that has come expires."""
        now = self.now()
        if self.phase == PLAYING and self.bot_due is not None and now >= self.bot_due - EARLY:
            for seat in self._bot_seats():
                move = self.game.bot_input(self.state, seat)
                if move is None or self.phase != PLAYING:
                    continue
                try:
                    self.game.move(self.state, seat, move, now)
                except IllegalMove as refusal:
                    log.warning("match %s: the bot of seat %s made an illegal move: %s",
                                self.match_id, seat, refusal)  # fmt: skip
                    continue
                self._stepped()
            self.bot_due = None  # none moved (no move to make): ask again a think later
        deadline = self._deadline() if self.phase == PLAYING else None
        if deadline is not None and now >= deadline - EARLY:
            self.game.expire(self.state, max(now, deadline))
            self._stepped()

    def _extra(self: MatchRuntime) -> dict[str, Any]:
        """What an event-driven match's frames carry besides the view: the match time, so a
        client counts a deadline down without trusting its own clock."""
        return {"now": round(self.now(), 3)} if self.event_driven else {}
