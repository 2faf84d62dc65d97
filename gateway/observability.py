"""Request ids and Prometheus metrics of the gateway.

Metrics live in a registry per app (tests build many apps in one process):

| metric | labels |
|---|---|
| `gateway_graphql_requests_total` | `kind` (`http`, `websocket`) |
| `gateway_graphql_errors_total` | `code` (the `extensions.code`) |
| `gateway_backend_calls_total` | `method`, `route` (path template), `status` (0: no answer) |
| `gateway_backend_call_seconds` | histogram by `method`, `route` |
| `gateway_backend_calls_per_operation` | histogram, backend calls of one GraphQL operation |
"""

from __future__ import annotations

import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_CALL_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("gateway_graphql_requests", "GraphQL requests", ["kind"],
                                registry=r)
        self.errors = Counter("gateway_graphql_errors", "GraphQL errors by code", ["code"],
                              registry=r)
        self.backend_calls = Counter("gateway_backend_calls", "Backend calls",
                                     ["method", "route", "status"], registry=r)
        self.backend_seconds = Histogram("gateway_backend_call_seconds", "Backend call time",
                                         ["method", "route"], registry=r)
        self.calls_per_operation = Histogram(
            "gateway_backend_calls_per_operation", "Backend calls per GraphQL operation",
            buckets=_CALL_BUCKETS, registry=r,
        )

    def observe_call(self, method: str, route: str, status: int, elapsed: float) -> None:
        self.backend_calls.labels(method, route, str(status)).inc()
        self.backend_seconds.labels(method, route).observe(elapsed)


def request_id_of(scope: Scope) -> str:
    state = scope.get("state") or {}
    return str(state.get("request_id", "-"))


class RequestIdMiddleware:
    """Take `X-Request-Id` from the caller (or make one), keep it in scope state, echo it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        request_id = _incoming_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            # Only short printable ids travel on: they end up in logs and backend headers.
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return None
