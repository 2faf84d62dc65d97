"""Log fan-out across gateway replicas through Redis (`SWR_REDIS_URL`).

Per job, in every replica that has subscribers of it, a `RelayedLogFeed` runs two tasks:

- the **reader** (`poll`): `XREAD BLOCK` on the job's stream, publishing each entry to the
  replica's subscribers exactly like the in-process follower does;
- the **elector** (`_elect`): tries to take the job's lease (`SET key owner NX PX`); the replica
  that holds it runs the only backend long poll for the job and `XADD`s each line to the stream,
  renewing the lease every third of its life and releasing it when it stops. When the holder
  dies the lease expires and another replica's elector takes over from the last offset in the
  stream.

Stream entry ids are derived from the log offset (line at offset `o`: `{o+1}-1`), so Redis itself
refuses a second copy of a line (an `XADD` with an id not above the top fails): two replicas
that both believe they lead (a lease lost during a pause) cannot duplicate or reorder lines.
The lease saves backend reads; correctness does not depend on it.

A leader that must end the topic for everyone (404, or the backend unavailable for longer than
the retry period) appends a marker (`{e+1}-0`, just below the line at offset `e`) carrying the
error code and Redis's clock; readers end their subscribers with it, and ignore markers written
before they started (a later subscriber of the same job, after the backend came back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from gateway.backend.client import Caller
from gateway.backend.containerops import MAX_LOG_PAGE, ContainerOpsClient
from gateway.backend.errors import BackendError, NotFound, Unavailable
from gateway.subscriptions.feed import Feed, FeedCounters, Retry, Subscriber
from gateway.subscriptions.logs import JobKey, LogEvent, LogFollower, closing_event, events_of

logger = logging.getLogger("gateway.subscriptions")
KEY_PREFIX = "swr-gateway:log"

# Take the lease, or extend it when this owner holds it already (renewal uses the same script).
_CLAIM = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class RelayOptions:
    lease_seconds: float = 10.0
    block_seconds: float = 5.0  # XREAD BLOCK hold; a reader costs one Redis call per hold
    maxlen: int = 5000  # approximate bound of a stream (MAXLEN ~)
    live_ttl_seconds: float = 86400.0  # refreshed on each write: no stream outlives its job long
    finished_ttl_seconds: float = 600.0  # kept after the last line for late readers


@dataclass(frozen=True, slots=True)
class Gone:
    """A marker: the leader ended the topic for every subscriber."""

    code: str
    message: str
    at_ms: int

    def error(self) -> BackendError:
        kind = NotFound if self.code == NotFound.code else Unavailable
        return kind(self.message)


def line_id(offset: int) -> str:
    return f"{offset + 1}-1"


def _next_offset(entry_id: str) -> int:
    """The offset a leader continues from, given the stream's top entry id."""
    ms, seq = entry_id.split("-")
    return int(ms) - 1 + int(seq)  # a line at o -> o+1; a marker at e -> e


def encode(event: LogEvent) -> dict[str, str]:
    line = {"o": event.offset, "c": event.content, "t": event.created_at, "s": event.state,
            "f": event.final}
    return {"line": json.dumps(line, separators=(",", ":"))}


def decode(fields: dict[str, str], job_id: str) -> LogEvent | Gone:
    if "gone" in fields:
        return Gone(fields["gone"], fields.get("message", ""), int(fields.get("at", "0")))
    line: dict[str, Any] = json.loads(fields["line"])
    return LogEvent(int(line["o"]), line["c"], line["t"], str(line["s"]), job_id,
                    bool(line["f"]))


class LogRelay:
    """The Redis side shared by a replica's relayed feeds: leases and streams by job."""

    def __init__(self, redis: Redis, options: RelayOptions) -> None:
        self.redis = redis
        self.options = options
        self.replica = uuid.uuid4().hex[:12]
        self.electors: set[asyncio.Task[None]] = set()  # awaited at shutdown (lease release)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)

    @classmethod
    def connect(cls, url: str, options: RelayOptions) -> LogRelay:
        return cls(Redis.from_url(url, decode_responses=True), options)

    @staticmethod
    def key(job: JobKey, part: str) -> str:
        return f"{KEY_PREFIX}:{job.pipeline_id}:{job.stage_index}:{job.job_id}:{part}"

    async def claim(self, job: JobKey, owner: str) -> bool:
        ms = int(self.options.lease_seconds * 1000)
        return bool(await self._claim(keys=[self.key(job, "lease")], args=[owner, ms]))

    async def release(self, job: JobKey, owner: str) -> None:
        await self._release(keys=[self.key(job, "lease")], args=[owner])

    async def now_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def next_offset(self, job: JobKey) -> int | None:
        """Where a new leader continues: after the stream's last line, None for no stream."""
        top = await self.redis.xrevrange(self.key(job, "stream"), count=1)
        return _next_offset(top[0][0]) if top else None

    async def read(self, job: JobKey, after: str) -> list[tuple[str, dict[str, str]]]:
        block = int(self.options.block_seconds * 1000)
        answer = await self.redis.xread({self.key(job, "stream"): after}, count=MAX_LOG_PAGE,
                                        block=block)
        return list(answer[0][1]) if answer else []

    async def publish(self, job: JobKey, events: list[LogEvent], finished: bool) -> int:
        """Append lines; returns how many Redis refused as already there (another leader's)."""
        stream = self.key(job, "stream")
        pipe = self.redis.pipeline(transaction=False)
        for event in events:
            pipe.xadd(stream, encode(event), id=line_id(event.offset),
                      maxlen=self.options.maxlen, approximate=True)
        ttl = self.options.finished_ttl_seconds if finished else self.options.live_ttl_seconds
        pipe.expire(stream, int(ttl))
        results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, RedisError) and not isinstance(result, ResponseError):
                raise result
        return sum(isinstance(r, ResponseError) for r in results)

    async def mark_gone(self, job: JobKey, at_offset: int, error: BackendError) -> None:
        fields = {"gone": error.code, "message": error.message, "at": str(await self.now_ms())}
        stream = self.key(job, "stream")
        with contextlib.suppress(ResponseError):  # a line at that offset got there first
            await self.redis.xadd(stream, fields, id=f"{at_offset + 1}-0")
        await self.redis.expire(stream, int(self.options.finished_ttl_seconds))

    async def close(self) -> None:
        pending = [task for task in self.electors if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=5)
        await self.redis.aclose()


class RelayedLogFeed(LogFollower):
    """A job's log in one replica, read from the Redis stream; leads when it holds the lease."""

    def __init__(
        self, key: JobKey, start: int, ops: ContainerOpsClient, wait: float, buffer_lines: int,
        on_empty: Callable[[Feed[LogEvent]], None], counters: FeedCounters,
        retry_seconds: float, relay: LogRelay,
    ) -> None:
        super().__init__(key, start, ops, wait, buffer_lines, on_empty, counters, retry_seconds)
        self._relay = relay
        self._owner = f"{relay.replica}:{self._reader_id}"
        self._after = f"{start}-1"  # stream id the reader continues after: line start-1's id
        self._started_ms: int | None = None
        self._elector: asyncio.Task[None] | None = None
        self._lead_at = start  # the leader's next backend offset
        self._led_out = False  # the leader published the job's last line

    # -- membership: the elector lives as long as the reader --------------------------------

    def attach(self, subscriber: Subscriber[LogEvent]) -> None:
        super().attach(subscriber)
        if self._elector is None and not self.done:
            self._elector = asyncio.create_task(self._elect(), name=f"elector {self.name}")
            self._relay.electors.add(self._elector)
            self._elector.add_done_callback(self._relay.electors.discard)

    def close(self) -> None:
        if self._elector is not None and self._elector is not asyncio.current_task():
            self._elector.cancel()
        super().close()

    # -- the reader ------------------------------------------------------------------------

    async def poll(self, caller: Caller) -> None:
        try:
            if self._started_ms is None:
                self._started_ms = await self._relay.now_ms()
            entries = await self._relay.read(self.key, self._after)
        except RedisError as exc:
            raise Unavailable(f"redis: {exc}") from exc
        for entry_id, fields in entries:
            self._after = entry_id
            item = decode(fields, self.key.job_id)
            if isinstance(item, Gone):
                if item.at_ms >= self._started_ms:
                    self.drop_all(item.error())
                    self.done = True
                    return
            elif item.offset >= self.end or item.content is None:
                self._take(item)

    def _take(self, event: LogEvent) -> None:
        self.buffer.append(event)
        self.publish(event)
        self.end = max(self.end, event.offset + (event.content is not None))
        self.done = self.done or event.final

    # -- the elector and the leader --------------------------------------------------------

    async def _elect(self) -> None:
        """While this replica has subscribers: lead whenever the lease is free."""
        pause = self._relay.options.lease_seconds / 3
        while self.subscribers and not self.done and not self._led_out:
            try:
                if await self._relay.claim(self.key, self._owner):
                    await self._lead_while_holding()
                    continue
            except RedisError as exc:
                logger.warning("feed %s: redis failed in election (%s)", self.name, exc)
            except Exception:
                # An unexpected failure must not leave the job without a leader for good.
                logger.exception("feed %s: leader failed", self.name)
            await asyncio.sleep(pause)

    async def _lead_while_holding(self) -> None:
        self._counters.leading(self.kind, 1)
        renewal = asyncio.create_task(self._renew())
        try:
            top = await self._relay.next_offset(self.key)
            self._lead_at = self.end if top is None else top
            retry = Retry(self.retry_seconds)
            while self.subscribers and not self.done and not self._led_out:
                if renewal.done():
                    return  # lease lost: another replica leads now
                ended = await self.guarded(self._follow, retry)
                if ended is not None:
                    await self._end_for_everyone(ended)
        finally:
            renewal.cancel()
            self._counters.leading(self.kind, -1)
            # Shielded: a cancelled leader (its last subscriber left, shutdown) still lets the
            # next replica take over at once instead of after the lease expires.
            with contextlib.suppress(RedisError):
                await asyncio.shield(self._relay.release(self.key, self._owner))

    async def _renew(self) -> None:
        """Returns when the lease is lost (someone else holds it, or Redis failed)."""
        with contextlib.suppress(RedisError):
            while True:
                await asyncio.sleep(self._relay.options.lease_seconds / 3)
                if not await self._relay.claim(self.key, self._owner):
                    return

    async def _follow(self, caller: Caller) -> None:
        self._counters.polled(self.kind)
        k = self.key
        page = await self._ops.job_logs(caller, k.pipeline_id, k.stage_index, k.job_id,
                                        self._lead_at, MAX_LOG_PAGE, wait=self._wait)
        events = events_of(page)
        finished = page.finished and self._lead_at + len(events) >= page.total
        if finished and not events:
            events = [closing_event(page)]
        if events:
            try:
                await self._relay.publish(k, events, finished)
            except RedisError as exc:
                raise Unavailable(f"redis: {exc}") from exc
        self._lead_at += len(page.lines)
        self._led_out = finished

    async def _end_for_everyone(self, error: BackendError) -> None:
        """Every replica's subscribers get the error (through the marker), ours at once."""
        with contextlib.suppress(RedisError):
            await self._relay.mark_gone(self.key, self._lead_at, error)
        self.drop_all(error)
        self.done = True
