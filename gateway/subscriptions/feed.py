"""One backend reader shared by every subscriber of a topic, and the subscribers' side of it.

A `Feed` runs one task that reads the backend on behalf of all its subscribers and pushes what it
reads into each subscriber's bounded queue. It reads with the token of one of its subscribers
(the longest attached): every subscriber was checked with its own token when it joined and is
re-checked periodically, so what the feed reads may be shown to all of them. Failures of the
feed's reads are handled by kind:

| backend answer | what happens |
|---|---|
| 401 / 403 for the reading token | that subscriber is dropped with the error; the next one reads |
| 404 | the topic is gone (pipeline or job deleted): every subscriber gets `NOT_FOUND` |
| unavailable, 5xx, timeout | retried with a growing pause (at most `MAX_BACKOFF` seconds); |
| | after `retry_seconds` without a success every subscriber gets `BACKEND_UNAVAILABLE` |

A subscriber whose queue is full when the feed publishes is detached at once, so one slow client
never holds the feed or the others back; it receives what was queued and then the
`SUBSCRIBER_TOO_SLOW` error naming the offset to resubscribe from.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar, Generic, TypeVar

from gateway.backend.client import Caller
from gateway.backend.errors import (
    BackendError,
    Forbidden,
    NotFound,
    Unauthenticated,
    Unavailable,
)

logger = logging.getLogger("gateway.subscriptions")
E = TypeVar("E")
MAX_BACKOFF = 5.0
DEFAULT_RETRY_SECONDS = 30.0
_ids = itertools.count(1)


class SubscriberTooSlow(BackendError):
    """The subscriber's queue overflowed; it must resubscribe from the offset it reached."""

    code: ClassVar[str] = "SUBSCRIBER_TOO_SLOW"


class Subscriber(Generic[E]):
    """One GraphQL subscription attached to a feed: its caller and its bounded queue."""

    def __init__(self, caller: Caller, queue_size: int) -> None:
        self.caller = caller
        self.queue: asyncio.Queue[E | None] = asyncio.Queue(queue_size)
        # Why the feed detached this subscriber; raised once the queue is drained.
        self.dropped: BaseException | None = None
        self.overflowed = False

    def offer(self, event: E) -> bool:
        """Queue an event without waiting; False (and detached) when the queue is full."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True

    def drop(self, error: BaseException) -> None:
        self.dropped = error
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)  # wake a waiting reader; a full queue wakes it anyway


class Retry:
    """Pauses between failed reads, and the point where failing has lasted long enough.

    Why bounded: a backend that stays down would otherwise keep every subscription open and
    silent forever; the client is better told (`BACKEND_UNAVAILABLE`) and left to resubscribe.
    """

    def __init__(self, give_up_after: float) -> None:
        self.give_up_after = give_up_after
        self.failures = 0
        self._since: float | None = None

    def succeeded(self) -> None:
        self.failures, self._since = 0, None

    def failed(self) -> float | None:
        """The pause before the next attempt, or None when the retry period is over."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        self.failures += 1
        left = self._since + self.give_up_after - now
        if left <= 0:
            return None
        return min(MAX_BACKOFF, 0.1 * 2**self.failures, left)


class Feed(Generic[E]):
    """A topic with one reader task; subclasses implement `poll`, which publishes."""

    kind: ClassVar[str] = "feed"

    def __init__(self, name: str, on_empty: Callable[[Feed[E]], None],
                 counters: FeedCounters, retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        self.name = name
        self.retry_seconds = retry_seconds
        self.subscribers: dict[Subscriber[E], None] = {}  # insertion order: the readers' queue
        self.done = False
        self._on_empty = on_empty
        self._counters = counters
        self._task: asyncio.Task[None] | None = None
        self._reader_id = f"{self.kind}-{next(_ids)}"

    # -- membership ------------------------------------------------------------------------

    def attach(self, subscriber: Subscriber[E]) -> None:
        self.subscribers[subscriber] = None
        self._counters.joined(self.kind, 1)
        if self._task is None and not self.done:
            self._counters.started(self.kind)
            self._task = asyncio.create_task(self._run(), name=f"feed {self.name}")

    def detach(self, subscriber: Subscriber[E]) -> None:
        self._counters.joined(self.kind, -1)
        self.subscribers.pop(subscriber, None)
        if not self.subscribers:
            self.close()

    def close(self) -> None:
        """Stop reading (the last subscriber left, or the topic ended) and leave the hub."""
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._task = None
        self.done = True
        self._on_empty(self)

    # -- publishing ------------------------------------------------------------------------

    def publish(self, event: E) -> None:
        for subscriber in list(self.subscribers):
            if not subscriber.offer(event):
                self._counters.dropped("slow")
                self.subscribers.pop(subscriber, None)
                subscriber.drop(SubscriberTooSlow("subscriber too slow"))

    def _drop(self, subscriber: Subscriber[E], error: BackendError) -> None:
        self._counters.dropped(error.code.lower())
        self.subscribers.pop(subscriber, None)
        subscriber.drop(error)

    # -- the reader ------------------------------------------------------------------------

    async def poll(self, caller: Caller) -> None:
        """Read once (as `caller`) and publish; set `done` at the topic's end."""
        raise NotImplementedError

    async def _run(self) -> None:
        retry = Retry(self.retry_seconds)
        while self.subscribers and not self.done:
            ended = await self.guarded(self.poll, retry)
            if ended is not None:
                self.drop_all(ended)
        self.close()

    async def guarded(self, read: Callable[[Caller], Awaitable[None]], retry: Retry
                      ) -> BackendError | None:
        """One `read` as the longest-attached subscriber, its failure handled by kind.

        Returns the error that ends the topic for every subscriber (404, or failures for longer
        than the retry period); the caller decides how far to spread it.
        """
        holder = next(iter(self.subscribers))
        caller = Caller(holder.caller.token, self._reader_id, asyncio.Semaphore(1))
        try:
            await read(caller)
            retry.succeeded()
        except NotFound as exc:
            return exc
        except (Unauthenticated, Forbidden) as exc:
            self._drop(holder, exc)
        except BackendError as exc:
            pause = retry.failed()
            if pause is None:
                return Unavailable(f"backend unavailable for {retry.give_up_after:g}s:"
                                   f" {exc.message}")
            logger.warning("feed %s: backend failed (%s); retrying in %.1fs",
                           self.name, exc.message, pause)
            await asyncio.sleep(pause)
        return None

    def drop_all(self, error: BackendError) -> None:
        for subscriber in list(self.subscribers):
            self._drop(subscriber, error)


class FeedCounters:
    """The metric hooks a feed reports to (a no-op by default; the hub wires Prometheus)."""

    def started(self, kind: str) -> None:
        pass

    def polled(self, kind: str) -> None:
        pass

    def dropped(self, reason: str) -> None:
        pass

    def joined(self, kind: str, delta: int) -> None:
        pass

    def leading(self, kind: str, delta: int) -> None:
        pass
