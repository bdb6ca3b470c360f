"""Staff actions on a live match (end it, remove a player, show a notice), applied by the
engine that owns the match, between two ticks, and answered to the staff's web process
(games/staff.py sends them, whatever process the match runs in)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from games import bus, protocol
from games.engine.runtime import PLAYING, WAITING, MatchRuntime

if TYPE_CHECKING:
    from games.engine.host import EngineHost

log = logging.getLogger(__name__)

ENDED_BY_STAFF = "ended by staff"
KICKED = "staff removed you from this match"
REASON_LIMIT = 200  # characters of the staff's reason kept in a result


def staff_reason(text: str) -> str:
    """The result's reason: says staff ended it, with the staff's words if any."""
    text = " ".join(text.split())[:REASON_LIMIT]
    return f"{ENDED_BY_STAFF}: {text}" if text else ENDED_BY_STAFF


class Control:
    def __init__(self, host: EngineHost):
        self.host = host

    async def engine_control(self, message: bus.EngineControl) -> None:
        runtime = self.host.runtimes.get(message.match)
        if runtime is None or message.match not in self.host.leases:
            answer = bus.ControlAnswer(
                ok=False, message="this engine no longer runs that match: try again"
            )
        else:
            answer = await self._apply(runtime, message)
        log.info(
            "engine %s: staff %s on %s: %s",
            self.host.name,
            message.action,
            message.match,
            answer.message,
        )
        await self.host.layer.send(message.reply, bus.pack(answer))

    async def _apply(self, runtime: MatchRuntime, message: bus.EngineControl) -> bus.ControlAnswer:
        if message.action == "notice":
            return await self._notice(runtime, message.text)
        if runtime.phase != PLAYING:
            why = {WAITING: "has not started yet"}.get(runtime.phase, f"is {runtime.phase}")
            return bus.ControlAnswer(ok=False, message=f"the match {why}")
        if message.action == "end":
            runtime.stop(staff_reason(message.text))
            when = "now" if runtime.event_driven else "at its next tick"
            return bus.ControlAnswer(ok=True, message=f"the match ends {when}")
        return await self._kick(runtime, message.seat, message.remove)

    async def _notice(self, runtime: MatchRuntime, text: str) -> bus.ControlAnswer:
        notice = {"type": "notice", "text": text}
        sent = bus.HubNotice(
            match=runtime.match_id,
            text=protocol.encode(notice),
            binary=protocol.encode_msgpack(notice),
        )
        await self.host.send_all([(hub, sent) for hub in runtime.watchers])
        return bus.ControlAnswer(
            ok=True, message=f"sent to {len(runtime.connections)} connected player(s)"
        )

    async def _kick(self, runtime: MatchRuntime, seat: int, remove: bool) -> bus.ControlAnswer:
        if not 0 <= seat < len(runtime.roster) or runtime.roster[seat].bot:
            return bus.ControlAnswer(ok=False, message=f"seat {seat} holds no person")
        if seat in runtime.left:
            return bus.ControlAnswer(ok=False, message=f"seat {seat} was already given up")
        connection = runtime.remove(seat, to_bot=not remove)
        if connection is not None:
            await self.host.seating.kick(
                runtime.match_id, connection, protocol.CLOSE_FORBIDDEN, "kicked", KICKED
            )
        then = "the rules' leave ran" if remove else "a bot plays the seat"
        return bus.ControlAnswer(ok=True, message=f"seat {seat} removed; {then}")
