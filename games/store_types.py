"""What both stores share: their error, what a lease renewal found, the fencing token."""

from __future__ import annotations

import time

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
