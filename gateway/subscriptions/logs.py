"""Live step logs: one long-polling follower per job, and the per-subscriber stream over it.

Exactly once, in order: every event carries the line's `offset` (its 0-based position in the
job's log), and a subscriber keeps `next`, the offset it will deliver next. It takes events from
three sources and never delivers an offset twice or skips one:

1. its own join read (`fromOffset`, with its own token): this is also the access check;
2. the follower's buffer of recent lines, copied at the moment it attaches, then its queue of
   live lines;
3. a gap filler: when an event arrives beyond `next` (the lines before the follower's buffer, or
   lines the buffer had already evicted), the missing range is read from the backend with the
   subscriber's own token.

Events older than `next` are skipped. The follower starts reading at the log's end as the first
subscriber saw it, so history is never read by the follower, only by the subscribers that ask
for it. A job already finished when joining is replayed from the backend and never followed.

The stream completes after the last line of a finished job; that line's event has
`final: true` and the job's final state. When the job ends without writing a line after the last
one delivered, a closing event with `content: null` at `offset = logNum` carries the final state.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import ClassVar

from gateway.backend.client import Caller
from gateway.backend.containerops import MAX_LOG_PAGE, ContainerOpsClient, LogPage
from gateway.subscriptions.feed import (
    DEFAULT_RETRY_SECONDS,
    Feed,
    FeedCounters,
    Subscriber,
    SubscriberTooSlow,
)


@dataclass(frozen=True, slots=True)
class JobKey:
    pipeline_id: str
    stage_index: int
    job_id: str  # a concrete id, never `latest`


@dataclass(frozen=True, slots=True)
class LogEvent:
    offset: int
    content: str | None  # None only for the closing event of a job that ended silently
    created_at: str | None
    state: str
    job_id: str
    final: bool
    # Renderings of this event derived once and shared by every subscriber it is published
    # to (the GraphQL object, execution results): a follower hands the same instance to all.
    shared: dict[object, object] = field(default_factory=dict, compare=False, repr=False)


def events_of(page: LogPage) -> list[LogEvent]:
    """The page's lines as events; the last line of a finished job is `final`."""
    job_id, state, last = str(page.job.get("id", "")), page.state, page.total - 1
    return [
        LogEvent(page.offset + i, line.get("content", ""), line.get("created_at"), state,
                 job_id, page.finished and page.offset + i == last)
        for i, line in enumerate(page.lines)
    ]


def closing_event(page: LogPage) -> LogEvent:
    return LogEvent(page.total, None, None, page.state, str(page.job.get("id", "")), True)


class LogFollower(Feed[LogEvent]):
    """Reads one job's new lines with the long-poll extension and publishes them."""

    kind: ClassVar[str] = "log"

    def __init__(
        self, key: JobKey, start: int, ops: ContainerOpsClient, wait: float, buffer_lines: int,
        on_empty: Callable[[Feed[LogEvent]], None], counters: FeedCounters,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        super().__init__(f"{key.pipeline_id}/{key.stage_index}/{key.job_id}", on_empty, counters,
                         retry_seconds)
        self.key = key
        self.end = start  # offset of the next line to read
        self.buffer: deque[LogEvent] = deque(maxlen=buffer_lines)
        self._ops = ops
        self._wait = wait
        self._last_final = False

    def recent_from(self, offset: int) -> list[LogEvent]:
        """Buffered events at `offset` and later (a copy: the buffer moves on)."""
        if not self.buffer or offset >= self.end:
            return []
        skip = max(0, offset - self.buffer[0].offset)
        return [self.buffer[i] for i in range(skip, len(self.buffer))]

    async def poll(self, caller: Caller) -> None:
        self._counters.polled(self.kind)
        k = self.key
        page = await self._ops.job_logs(caller, k.pipeline_id, k.stage_index, k.job_id,
                                        self.end, MAX_LOG_PAGE, wait=self._wait)
        events = events_of(page)
        for event in events:
            self.buffer.append(event)
            self.publish(event)
        self.end += len(events)
        if page.finished and self.end >= page.total:
            if not events:
                event = closing_event(page)
                self.buffer.append(event)
                self.publish(event)
            self.done = True


class LogStream:
    """One subscriber's delivery: join, attach, fill gaps, re-check access, complete."""

    def __init__(self, hub: LogHubLike, caller: Caller, pipeline_id: str, stage_index: int,
                 job_id: str, from_offset: int) -> None:
        self.hub = hub
        self.caller = caller
        self.pipeline_id, self.stage_index, self.job_id = pipeline_id, stage_index, job_id
        self.next = from_offset
        self.finished = False
        self._checked_at = time.monotonic()

    async def events(self) -> AsyncIterator[LogEvent]:
        page = await self._read(self.next)  # the access check with the subscriber's own token
        self.job_id = str(page.job.get("id", self.job_id))
        async for event in self._deliver_page(page):
            yield event
        if self.finished:
            return
        key = JobKey(self.pipeline_id, self.stage_index, self.job_id)
        subscriber: Subscriber[LogEvent] = Subscriber(self.caller, self.hub.queue_size)
        follower = self.hub.log_follower(key, page.total)
        backlog = follower.recent_from(self.next)
        follower.attach(subscriber)
        try:
            for event in backlog:
                async for out in self._deliver(event):
                    yield out
            async for event in self._live(subscriber):
                yield event
        finally:
            follower.detach(subscriber)

    async def _live(self, subscriber: Subscriber[LogEvent]) -> AsyncIterator[LogEvent]:
        while not self.finished:
            event = await self._next_queued(subscriber)
            if event is None:
                raise self._drop_reason(subscriber)
            async for out in self._deliver(event):
                yield out

    async def _next_queued(self, subscriber: Subscriber[LogEvent]) -> LogEvent | None:
        """The next queued event; re-checks access whenever `recheck_seconds` have passed."""
        while True:
            if subscriber.queue.empty() and subscriber.dropped is not None:
                return None
            left = self._checked_at + self.hub.recheck_seconds - time.monotonic()
            if left <= 0:
                await self._read(self.next, limit=1)  # raises when access is gone
                continue
            try:
                return await asyncio.wait_for(subscriber.queue.get(), left)
            except TimeoutError:
                continue

    def _drop_reason(self, subscriber: Subscriber[LogEvent]) -> BaseException:
        if subscriber.overflowed:
            return SubscriberTooSlow(
                f"subscriber too slow: more than {self.hub.queue_size} lines queued;"
                f" resubscribe with fromOffset {self.next}"
            )
        return subscriber.dropped or RuntimeError("dropped")

    async def _deliver(self, event: LogEvent) -> AsyncIterator[LogEvent]:
        if event.offset > self.next and not self.finished:
            # Lines before the follower's buffer (or evicted from it): read them ourselves.
            page = await self._read(self.next, limit=event.offset - self.next)
            async for out in self._deliver_page(page):
                yield out
        if self.finished or (event.offset < self.next and event.content is not None):
            return  # delivered already (join read, backlog or gap fill)
        self.next = event.offset + (event.content is not None)
        self.finished = event.final
        yield event

    async def _deliver_page(self, page: LogPage) -> AsyncIterator[LogEvent]:
        """Lines of a page read with the subscriber's token, then pages up to the log's end."""
        while True:
            for event in events_of(page):
                if event.offset >= self.next:
                    self.next = event.offset + 1
                    self.finished = event.final
                    yield event
            if self.finished:
                return
            if self.next >= page.total or not page.lines:
                if page.finished:
                    self.finished = True
                    yield closing_event(page)
                return
            page = await self._read(self.next)

    async def _read(self, offset: int, limit: int = MAX_LOG_PAGE) -> LogPage:
        page = await self.hub.ops.job_logs(self.caller, self.pipeline_id, self.stage_index,
                                           self.job_id, offset, max(1, limit))
        self._checked_at = time.monotonic()
        return page


class LogHubLike:
    """What a `LogStream` needs from the hub (see `gateway.subscriptions.hub`)."""

    ops: ContainerOpsClient
    queue_size: int
    recheck_seconds: float

    def log_follower(self, key: JobKey, start: int) -> LogFollower:
        raise NotImplementedError
