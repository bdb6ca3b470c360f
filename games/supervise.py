"""Loops that run forever and survive what they talk to (Redis, the database, a peer).

A supervised loop calls one pass of its work again and again. When a pass raises, the loop
logs the cause once (in one line for an outage of Redis, the database or the network; with
the traceback for anything else, a bug), then at most one line every LOG_EVERY seconds
while the fault lasts, backs off (0.1 s doubling to a cap, with jitter) and tries again; the
first pass that works after a fault says how long it lasted. No loop ends by itself: only
cancelling its task (shutdown) ends it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from games import metrics

log = logging.getLogger("games.supervise")

LOG_EVERY = 30.0  # seconds between lines about one loop's ongoing fault
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 5.0


class FaultLog:
    """Logs a recurring failure without flooding: the first, then a count every LOG_EVERY s."""

    def __init__(self, what: str, logger: logging.Logger = log):
        self.what = what
        self.logger = logger
        self.failures = 0
        self.since = 0.0
        self.logged_at = 0.0
        self.unlogged = 0

    def failed(self, error: BaseException) -> None:
        now = time.monotonic()
        self.failures += 1
        metrics.count_fault(error)
        if self.failures == 1:
            self.since = self.logged_at = now
            trace = None if is_outage(error) else error  # a bug: show where
            self.logger.error("%s failed: %s", self.what, _cause(error), exc_info=trace)
        elif now - self.logged_at >= LOG_EVERY:
            self.logger.warning(
                "%s still failing: %d more failures in %.0f s, last: %s",
                self.what, self.unlogged + 1, now - self.logged_at, _cause(error),
            )  # fmt: skip
            self.logged_at, self.unlogged = now, 0
            return
        else:
            self.unlogged += 1

    def succeeded(self) -> None:
        if self.failures:
            self.logger.warning(
                "%s recovered after %d failures in %.1f s",
                self.what, self.failures, time.monotonic() - self.since,
            )  # fmt: skip
            self.failures = self.unlogged = 0

    @property
    def failing(self) -> bool:
        return self.failures > 0


def is_outage(error: BaseException) -> bool:
    """Redis, the database or the network away: expected now and then, so one line says it
    all; anything else is a bug and gets its traceback."""
    if isinstance(error, OSError | TimeoutError | asyncio.TimeoutError):
        return True
    return type(error).__module__.startswith(("redis.", "django.db", "psycopg", "sqlite3"))


def _cause(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Backoff:
    """0.1 s doubling to `cap`, each wait jittered by ±30 % so processes do not retry in step."""

    def __init__(self, cap: float = MAX_BACKOFF):
        self.cap = cap
        self.next = FIRST_BACKOFF

    def reset(self) -> None:
        self.next = FIRST_BACKOFF

    async def wait(self) -> None:
        await asyncio.sleep(self.next * random.uniform(0.7, 1.3))
        self.next = min(self.next * 2, self.cap)


async def _until_it_works(
    call: Callable[[], Awaitable[object]], faults: FaultLog, backoff: Backoff
) -> object:
    while True:
        try:
            value = await call()
        except Exception as error:  # CancelledError is not an Exception: it ends the loop
            faults.failed(error)
            await backoff.wait()
            continue
        if faults.failing:
            faults.succeeded()
            backoff.reset()
        return value


async def run_forever(
    what: str,
    one_pass: Callable[[], Awaitable[object]],
    *,
    max_backoff: float = MAX_BACKOFF,
    logger: logging.Logger = log,
) -> None:
    """Call `one_pass` until cancelled."""
    faults, backoff = FaultLog(what, logger), Backoff(max_backoff)
    while True:
        await _until_it_works(one_pass, faults, backoff)


def supervise(
    what: str,
    one_pass: Callable[[], Awaitable[object]],
    *,
    max_backoff: float = MAX_BACKOFF,
    logger: logging.Logger = log,
) -> asyncio.Task:
    """Start a supervised loop as a task named `what`."""
    return asyncio.create_task(
        run_forever(what, one_pass, max_backoff=max_backoff, logger=logger), name=what
    )


async def retry_forever(
    what: str,
    call: Callable[[], Awaitable[object]],
    *,
    max_backoff: float = MAX_BACKOFF,
    logger: logging.Logger = log,
) -> object:
    """Await `call()` until it works, however long its dependency is away; its value."""
    return await _until_it_works(call, FaultLog(what, logger), Backoff(max_backoff))


class ThrottleRepeats(logging.Filter):
    """A log filter for libraries that log every retry (channels-redis logs a traceback a
    second while Redis is down): one record per message template per LOG_EVERY seconds, the
    next one saying how many were held back."""

    def __init__(self, loggers: tuple[str, ...] = ("channels_redis", "asyncio")):
        super().__init__()
        self.loggers = loggers
        self.seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.loggers) or record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last, held = self.seen.get(key, (0.0, 0))
        if now - last < LOG_EVERY:
            self.seen[key] = (last, held + 1)
            return False
        self.seen[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last {now - last:.0f} s)"
        error = record.exc_info[1] if record.exc_info else None
        if last or (error is not None and is_outage(error)):
            if error is not None:  # the cause in one line instead of a traceback
                record.msg = f"{record.msg}: {_cause(error)}"
            record.exc_info = None
            record.exc_text = None
        return True
