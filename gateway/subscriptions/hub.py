"""The subscription hub of one gateway process: log followers and status pollers by topic.

Created in the app lifespan (`app.state.subscriptions`). Topics are keyed by what they read,
never by who reads: subscribers of one job share one follower whatever their account, and each
of them has passed its own access check (see `gateway.subscriptions.feed`).

Metrics (in the app's registry):

| metric | labels |
|---|---|
| `gateway_subscription_feeds_started_total` | `kind` (`log`, `status`) |
| `gateway_subscription_feed_reads_total` | `kind`: backend reads made by feeds |
| `gateway_subscription_feeds` | gauge by `kind`: feeds running now |
| `gateway_subscription_subscribers` | gauge by `kind`: subscribers attached to a feed now |
| `gateway_subscription_drops_total` | `reason` (`slow`, `unauthenticated`, `forbidden`, ...) |
| `gateway_subscription_leases` | gauge by `kind`: job leases this replica holds (Redis mode) |

With a `LogRelay` (`SWR_REDIS_URL`), log topics are `RelayedLogFeed`s: replicas share one backend
reader per job through Redis (`gateway.subscriptions.relay`). Status pollers stay per replica.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.backend.containerops import ContainerOpsClient
from gateway.subscriptions.feed import DEFAULT_RETRY_SECONDS, Feed, FeedCounters
from gateway.subscriptions.logs import JobKey, LogFollower, LogHubLike
from gateway.subscriptions.status import Status, StatusHubLike, StatusPoller

if TYPE_CHECKING:
    from gateway.subscriptions.relay import LogRelay

DEFAULT_RECHECK_SECONDS = 30.0
DEFAULT_QUEUE_SIZE = 1000
DEFAULT_BUFFER_LINES = 5000
DEFAULT_LOG_WAIT_SECONDS = 20.0
DEFAULT_STATUS_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class HubOptions:
    recheck_seconds: float = DEFAULT_RECHECK_SECONDS
    queue_size: int = DEFAULT_QUEUE_SIZE
    buffer_lines: int = DEFAULT_BUFFER_LINES
    # Long-poll hold per follower read; kept below the backend read timeout (see `for_timeout`).
    log_wait_seconds: float = DEFAULT_LOG_WAIT_SECONDS
    status_interval: float = DEFAULT_STATUS_INTERVAL
    # How long a feed retries an unavailable backend before ending its subscriptions.
    retry_seconds: float = DEFAULT_RETRY_SECONDS

    def for_timeout(self, backend_timeout: float) -> HubOptions:
        """Hold long polls for at most half the read timeout, so a held call never times out."""
        return replace(self, log_wait_seconds=min(self.log_wait_seconds, backend_timeout / 2))


def connect_relay(redis_url: str, lease_seconds: float) -> LogRelay | None:
    """The Redis relay for `SWR_REDIS_URL`, or None (in-process followers) when unset."""
    if not redis_url:
        return None
    from gateway.subscriptions.relay import LogRelay, RelayOptions  # the optional extra

    return LogRelay.connect(redis_url, RelayOptions(lease_seconds=lease_seconds))


class PrometheusCounters(FeedCounters):
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.started_total = Counter("gateway_subscription_feeds_started",
                                     "Feeds started", ["kind"], registry=registry)
        self.reads = Counter("gateway_subscription_feed_reads",
                             "Backend reads made by feeds", ["kind"], registry=registry)
        self.running = Gauge("gateway_subscription_feeds", "Feeds running", ["kind"],
                             registry=registry)
        self.attached = Gauge("gateway_subscription_subscribers", "Subscribers attached",
                              ["kind"], registry=registry)
        self.drops = Counter("gateway_subscription_drops", "Subscribers dropped by a feed",
                             ["reason"], registry=registry)
        self.leases = Gauge("gateway_subscription_leases", "Job leases held (Redis mode)",
                            ["kind"], registry=registry)

    def started(self, kind: str) -> None:
        self.started_total.labels(kind).inc()
        self.running.labels(kind).inc()

    def stopped(self, kind: str) -> None:
        self.running.labels(kind).dec()

    def polled(self, kind: str) -> None:
        self.reads.labels(kind).inc()

    def joined(self, kind: str, delta: int) -> None:
        self.attached.labels(kind).inc(delta)

    def dropped(self, reason: str) -> None:
        self.drops.labels(reason).inc()

    def leading(self, kind: str, delta: int) -> None:
        self.leases.labels(kind).inc(delta)


class SubscriptionHub(LogHubLike, StatusHubLike):
    def __init__(self, ops: ContainerOpsClient, options: HubOptions,
                 registry: CollectorRegistry | None = None, relay: LogRelay | None = None
                 ) -> None:
        self.ops = ops
        self.relay = relay
        self.options = options
        self.queue_size = options.queue_size
        self.recheck_seconds = options.recheck_seconds
        self.counters = PrometheusCounters(registry)
        self.logs: dict[JobKey, LogFollower] = {}
        self.statuses: dict[str, StatusPoller] = {}

    def log_follower(self, key: JobKey, start: int) -> LogFollower:
        """The job's follower; a new one starts reading at `start` (the log's end as seen)."""
        follower = self.logs.get(key)
        if follower is None or follower.done:
            follower = self._new_follower(key, start)
            self.logs[key] = follower
        return follower

    def _new_follower(self, key: JobKey, start: int) -> LogFollower:
        o = self.options
        if self.relay is None:
            return LogFollower(key, start, self.ops, o.log_wait_seconds, o.buffer_lines,
                               self._forget, self.counters, o.retry_seconds)
        from gateway.subscriptions.relay import RelayedLogFeed  # redis is an optional extra

        return RelayedLogFeed(key, start, self.ops, o.log_wait_seconds, o.buffer_lines,
                              self._forget, self.counters, o.retry_seconds, self.relay)

    def status_poller(self, pipeline_id: str, first: Status) -> StatusPoller:
        poller = self.statuses.get(pipeline_id)
        if poller is None or poller.done:
            poller = StatusPoller(pipeline_id, first, self.ops, self.options.status_interval,
                                  self._forget, self.counters, self.options.retry_seconds)
            self.statuses[pipeline_id] = poller
        return poller

    def _forget(self, feed: Feed[Any]) -> None:
        if isinstance(feed, LogFollower) and self.logs.get(feed.key) is feed:
            del self.logs[feed.key]
            self.counters.stopped(feed.kind)
        elif isinstance(feed, StatusPoller) and self.statuses.get(feed.pipeline_id) is feed:
            del self.statuses[feed.pipeline_id]
            self.counters.stopped(feed.kind)

    async def close(self) -> None:
        """Stop every feed (app shutdown); their subscribers' connections are closing too."""
        for feed in [*self.logs.values(), *self.statuses.values()]:
            feed.close()
        if self.relay is not None:
            await self.relay.close()  # lets leaders release their leases first
