"""Abuse limits for sockets: a message budget per connection, and caps per address on open
sockets and on spectators (sockets and streams)."""

from __future__ import annotations

import time
from collections import Counter, deque


class TokenBucket:
    """`burst` messages at once, `rate` a second sustained; a message over budget is refused."""

    def __init__(self, rate: float, burst: float):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class DropWindow:
    """Refused messages of the last `seconds`: a client that keeps flooding gets closed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.times: deque[float] = deque()

    def add(self) -> int:
        now = time.monotonic()
        self.times.append(now)
        while self.times[0] < now - self.seconds:
            self.times.popleft()
        return len(self.times)


class SocketsPerAddress:
    """Open connections per client address in this process (one instance per cap)."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    def acquire(self, address: str, limit: int) -> bool:
        if self.open[address] >= limit:
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


sockets_per_address = SocketsPerAddress()
spectators_per_address = SocketsPerAddress()  # spectators' sockets and SSE streams
