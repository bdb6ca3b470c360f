"""What both stores share: their error, what a lease renewal found, the fencing token, and how
an engine heartbeat reads (live, silent, forgotten)."""

from __future__ import annotations

import time
from typing import Any

CHECKPOINT_TTL_MS = 3600 * 1000


class StoreUnavailable(Exception):
    """Redis does not answer; the message says what to do."""


class LeaseRenewal:
    """What a renewal found: leases kept, gone (re-assert them), or taken by another engine."""

    def __init__(self, gone: set[str] | None = None, taken: set[str] | None = None):
        self.gone = gone or set()
        self.taken = taken or set()


def lease_token(lease: str) -> int:
    """The fencing token in a lease value ("<owner channel> <token>")."""
    return int(lease.rsplit(" ", 1)[1])


def clock_ms() -> int:
    return int(time.time() * 1000)


def engines_seen(
    infos: dict[str, dict[str, Any]], now: float, silent_after: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """Each engine's last heartbeat marked silent or not, and the names past their
    forget time (the stores drop those), so that both stores read heartbeats alike."""
    engines, forgotten = [], []
    for name, info in sorted(infos.items()):
        if info.get("forget_at", now) < now:
            forgotten.append(name)
        else:
            engines.append({**info, "silent": now - info["last_seen"] > silent_after})
    return engines, forgotten


def online_counts(fields: dict[str, str], now: float) -> tuple[list[int], list[str]]:
    """The counts of the processes still reporting ("count|until"), and those gone quiet."""
    counts, gone = [], []
    for name, value in fields.items():
        count, _, until = value.partition("|")
        try:
            if float(until) > now:
                counts.append(int(count))
                continue
        except ValueError:  # written by something else: not ours to count
            pass
        gone.append(name)
    return counts, gone
