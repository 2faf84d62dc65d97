"""GraphQL subscriptions: shared backend readers (feeds) fanned out to many subscribers.

See docs/subscriptions.md for the design and the measured figures.
"""

from __future__ import annotations

from gateway.subscriptions.feed import SubscriberTooSlow
from gateway.subscriptions.hub import HubOptions, SubscriptionHub, connect_relay
from gateway.subscriptions.logs import JobKey, LogEvent, LogStream
from gateway.subscriptions.status import StatusEvent, status_events

__all__ = [
    "HubOptions", "JobKey", "LogEvent", "LogStream", "StatusEvent", "SubscriberTooSlow",
    "SubscriptionHub", "connect_relay", "status_events",
]
