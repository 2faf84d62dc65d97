"""Pipeline status changes: one poller per pipeline, shared by its subscribers.

The Manage API has no long poll for a pipeline's status, so the poller reads
`GET /v3/manage/pipelines/{id}` every `interval` seconds (one request per pipeline per interval,
whatever the number of subscribers) and publishes the `status` object when it differs from the
last one. Each subscriber starts with the status its own join read returned, skips events equal
to the last it delivered, and re-reads the status with its own token every `recheck_seconds`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from gateway.backend.client import Caller
from gateway.backend.containerops import ContainerOpsClient
from gateway.subscriptions.feed import (
    DEFAULT_RETRY_SECONDS,
    Feed,
    FeedCounters,
    Subscriber,
    SubscriberTooSlow,
)

Status = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StatusEvent:
    pipeline_id: str
    status: Status


class StatusPoller(Feed[StatusEvent]):
    kind: ClassVar[str] = "status"

    def __init__(self, pipeline_id: str, first: Status, ops: ContainerOpsClient,
                 interval: float, on_empty: Callable[[Feed[StatusEvent]], None],
                 counters: FeedCounters, retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        super().__init__(pipeline_id, on_empty, counters, retry_seconds)
        self.pipeline_id = pipeline_id
        self.last = first
        self._ops = ops
        self._interval = interval

    async def poll(self, caller: Caller) -> None:
        await asyncio.sleep(self._interval)
        self._counters.polled(self.kind)
        status = (await self._ops.get_pipeline(caller, self.pipeline_id)).get("status") or {}
        if status != self.last:
            self.last = status
            self.publish(StatusEvent(self.pipeline_id, status))


class StatusHubLike:
    ops: ContainerOpsClient
    queue_size: int
    recheck_seconds: float

    def status_poller(self, pipeline_id: str, first: Status) -> StatusPoller:
        raise NotImplementedError


async def status_events(hub: StatusHubLike, caller: Caller, pipeline_id: str
                        ) -> AsyncIterator[StatusEvent]:
    """The pipeline's status now, then each change, until the client leaves or loses access."""
    shown = await _read(hub, caller, pipeline_id)
    yield StatusEvent(pipeline_id, shown)
    subscriber: Subscriber[StatusEvent] = Subscriber(caller, hub.queue_size)
    poller = hub.status_poller(pipeline_id, shown)
    poller.attach(subscriber)
    checked = time.monotonic()
    try:
        while True:
            if subscriber.queue.empty() and subscriber.dropped is not None:
                raise _reason(subscriber, hub.queue_size)
            left = checked + hub.recheck_seconds - time.monotonic()
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), max(left, 0))
            except TimeoutError:
                # the periodic access check, which doubles as a read of the current status
                event, checked = StatusEvent(pipeline_id, await _read(hub, caller, pipeline_id)
                                             ), time.monotonic()
            if event is not None and event.status != shown:
                shown = event.status
                yield event
    finally:
        poller.detach(subscriber)


async def _read(hub: StatusHubLike, caller: Caller, pipeline_id: str) -> Status:
    return (await hub.ops.get_pipeline(caller, pipeline_id)).get("status") or {}


def _reason(subscriber: Subscriber[StatusEvent], size: int) -> BaseException:
    if subscriber.overflowed:
        return SubscriberTooSlow(f"subscriber too slow: more than {size} changes queued")
    return subscriber.dropped or RuntimeError("dropped")
