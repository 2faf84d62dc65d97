"""Request ids, one log line per slow or failed request, and Prometheus metrics."""

from __future__ import annotations

import logging
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("swrlocal.access")
SLOW_REQUEST_SECONDS = 1.0
# nginx's status for a request whose client closed the connection first; metrics only, never sent.
CLIENT_CLOSED = 499


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "swrlocal_http_requests_total",
            "HTTP requests served, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "swrlocal_http_request_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def record(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count one request; the label children are looked up once per (method, route, status),
        since `labels()` costs more than the increment itself."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(elapsed)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")  # set by starlette's router on the matched route
    return getattr(route, "path", "unmatched")


class ObservabilityMiddleware:
    """Gives each request an id (kept from `X-Request-Id` if sent) and records its outcome."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away mid-request: no one to answer and no fault of the server,
            # so no traceback and no 500 (a half-sent upload chunk was already cut back).
            status = CLIENT_CLOSED
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.record(method, route, status, elapsed)
            if status == CLIENT_CLOSED:
                logger.info(
                    "request_id=%s %s %s -> client closed the connection after %.3fs",
                    request_id, method, scope["path"], elapsed,
                )
            elif status >= 500 or elapsed > SLOW_REQUEST_SECONDS:
                logger.warning(
                    "request_id=%s %s %s -> %d in %.3fs",
                    request_id, method, scope["path"], status, elapsed,
                )


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return metrics.render()
