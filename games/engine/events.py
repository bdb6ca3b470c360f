"""The engine's scheduling of event-driven matches (a turn-based game): no tick loop. A step's
frames go out right after the step that made them (a move, a presence change, a staff action),
and one alarm per match rings at its next deadline or bot move. An idle match costs nothing and
sends nothing; every step is checkpointed (a move is precious, and steps are few)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING

from games import bus
from games.engine.runtime import OVER, PLAYING, MatchRuntime

if TYPE_CHECKING:
    from games.engine.host import EngineHost

MIN_ALARM = 0.01  # seconds: a game whose deadline does not move on cannot spin the engine


class Events:
    def __init__(self, host: EngineHost):
        self.host = host
        self.dirty: dict[str, MatchRuntime] = {}
        self.wanted = asyncio.Event()

    def add(self, runtime: MatchRuntime) -> None:
        """A match that runs on events from now on (it started, or was taken over)."""
        runtime.on_step = self.stepped
        if runtime.keyframe_due:
            runtime.keyframe_now()  # a takeover: its sockets get the match as it is at once
        self.stepped(runtime)

    def remove(self, runtime: MatchRuntime) -> None:
        runtime.on_step = None
        if runtime.alarm is not None:
            runtime.alarm.cancel()
            runtime.alarm = None

    def running(self) -> int:
        runtimes = self.host.runtimes.values()
        return sum(r.event_driven and r.on_step is not None for r in runtimes)

    def stepped(self, runtime: MatchRuntime) -> None:
        self.dirty[runtime.match_id] = runtime
        self.wanted.set()

    async def flush_pass(self) -> None:
        """Send every changed match's frames, one message per hub, in the order of the steps;
        then checkpoint them and set their alarms. One pass at a time, so frames never
        overtake each other."""
        await self.wanted.wait()
        self.wanted.clear()
        dirty, self.dirty = self.dirty, {}
        host = self.host
        batches: dict[str, list[bus.FrameEntry]] = defaultdict(list)
        saving = []
        for runtime in dirty.values():
            frames, runtime.outbox = runtime.outbox, []
            if host.runtimes.get(runtime.match_id) is not runtime:
                continue  # let go meanwhile
            runtime.add_to(batches, frames)
            if runtime.phase == OVER:
                runtime.final = [f for f in frames if f.tick == frames[-1].tick] if frames else []
                self.remove(runtime)
                host.spawn(host.finish(runtime), "finishing a match")
            else:
                saving.append(runtime)
                self.schedule(runtime)
        if batches:
            await host.send_all([(hub, bus.HubFrames(frames=f)) for hub, f in batches.items()])
        if saving:
            host.spawn(host.ticking.save(saving), "checkpointing event-driven matches")

    def schedule(self, runtime: MatchRuntime) -> None:
        """(Re)set the match's alarm to its next deadline or bot move."""
        if runtime.alarm is not None:
            runtime.alarm.cancel()
            runtime.alarm = None
        delay = runtime.next_wake() if runtime.phase == PLAYING else None
        if delay is not None:
            loop = asyncio.get_running_loop()
            runtime.alarm = loop.call_later(max(delay, MIN_ALARM), self._ring, runtime)

    def _ring(self, runtime: MatchRuntime) -> None:
        runtime.alarm = None
        if self.host.runtimes.get(runtime.match_id) is not runtime or runtime.on_step is None:
            return
        runtime.wake()  # its steps are flushed, and the alarm set again, by flush_pass
        if runtime.match_id not in self.dirty:
            self.schedule(runtime)  # nothing happened (a bot with no move): look again
