"""Every Prometheus metric of a web or engine process, in one place (docs/DEPLOY.md lists
them). They live in prometheus_client's default registry, which `/metrics` serves.

The hot path stays cheap: the hub counts a fan-out once with the number of sockets written,
not once per socket, and tick histograms are observed once per tick slot.
"""

from __future__ import annotations

import weakref
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from games.engine.host import EngineHost

disable_created_metrics()  # a `_created` series beside every counter only doubles the scrape

# Sockets and HTTP (web processes)
CONNECTIONS_OPEN = Gauge("gameserver_connections_open", "Game sockets open in this process")
MESSAGES_RECEIVED = Counter(
    "gameserver_messages_received_total", "Messages received from game sockets"
)
MESSAGES_SENT = Counter(
    "gameserver_messages_sent_total",
    "Messages other than state frames sent to game sockets (welcome, pong, errors, lobby, over)",
)
FRAMES_SENT = Counter("gameserver_frames_sent_total", "State frames (deltas, keyframes) written")
FRAMES_HELD = Counter(
    "gameserver_frames_held_total", "State frames not written to a socket held back by flow control"
)
CLOSES = Counter("gameserver_closes_total", "Game sockets closed, by close code", ["code"])
INPUTS = Counter("gameserver_inputs_total", "Player inputs forwarded to engines")
HTTP_REQUESTS = Counter("gameserver_http_requests_total", "HTTP responses, by status", ["status"])

# Engines
TICK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
TICK_WORK = Histogram(
    "gameserver_tick_work_seconds",
    "Work of one tick slot (stepping its matches, encoding frames), by tick rate",
    ["rate"],
    buckets=TICK_BUCKETS,
)
TICK_WALL = Histogram(
    "gameserver_tick_wall_seconds",
    "One tick slot from its start until its frames were handed to the channel layer",
    ["rate"],
    buckets=TICK_BUCKETS,
)
TICK_OVERRUNS = Counter(
    "gameserver_tick_overruns_total", "Tick slots that took longer than one period", ["rate"]
)
TICKS_SKIPPED = Counter(
    "gameserver_ticks_skipped_total", "Tick slots skipped because the loop fell behind", ["rate"]
)
LEASE_TAKEOVERS = Counter(
    "gameserver_lease_takeovers_total", "Matches claimed after their owner's lease expired or "
    "was released",
)  # fmt: skip
LEASES_LOST = Counter(
    "gameserver_leases_lost_total", "Matches dropped because another engine holds their lease"
)
CHECKPOINT_WRITES = Counter("gameserver_checkpoint_writes_total", "Checkpoints saved")
CHECKPOINT_FAILURES = Counter(
    "gameserver_checkpoint_failures_total", "Checkpoints refused (lease lost) or not written"
)
RESULT_WRITE_RETRIES = Counter(
    "gameserver_result_write_retries_total", "Tries of a match result write after the first"
)

# Faults, in both kinds of process
REDIS_ERRORS = Counter("gameserver_redis_errors_total", "Failed calls to Redis")
DATABASE_ERRORS = Counter("gameserver_database_errors_total", "Failed calls to the database")

# A socket's own close code, or one of these for a client that closed it; anything else a
# client sends becomes "other", so a client cannot grow the label set.
CLIENT_CLOSE_CODES = frozenset({1000, 1001, 1005, 1006, 1011, 1012})


def close_code_label(code: int | None, *, by_client: bool) -> str:
    """The `code` label of a close: exact for ours, bounded for the client's."""
    code = 1005 if code is None else code
    if by_client and code not in CLIENT_CLOSE_CODES:
        return "other"
    return str(code)


def count_fault(error: BaseException) -> None:
    """Count a failure as a Redis or database error when it is one (or was caused by one)."""
    while error is not None:
        module = type(error).__module__
        if module.startswith("redis."):
            REDIS_ERRORS.inc()
            return
        if module.startswith(("django.db", "psycopg", "sqlite3")):
            DATABASE_ERRORS.inc()
            return
        error = error.__cause__


@dataclass(frozen=True)
class TickMetrics:
    """One tick rate's children of the tick metrics, looked up once per clock."""

    work: Any
    wall: Any
    overruns: Any
    skipped: Any


def tick_metrics(rate: int) -> TickMetrics:
    label = str(rate)
    return TickMetrics(
        TICK_WORK.labels(label),
        TICK_WALL.labels(label),
        TICK_OVERRUNS.labels(label),
        TICKS_SKIPPED.labels(label),
    )


PHASES = ("waiting", "starting", "playing", "over")
_hosts: weakref.WeakSet[EngineHost] = weakref.WeakSet()


class MatchesByPhase:
    """`gameserver_matches{phase}`, read from the engine hosts of this process when scraped:
    nothing is counted as matches come and go."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gameserver_matches", "Matches this process's engines hold, by phase", labels=["phase"]
        )
        # list() copies in one step: the loop may change runtimes while a thread scrapes.
        counts = Tally(r.phase for host in list(_hosts) for r in list(host.runtimes.values()))
        for phase in sorted(set(PHASES) | set(counts)):
            family.add_metric([phase], counts.get(phase, 0))
        yield family


def watch_engine(host: EngineHost) -> None:
    """Count this host's matches in `gameserver_matches` (forgotten with the host)."""
    _hosts.add(host)


REGISTRY.register(MatchesByPhase())
