"""The gateway as one Starlette app: `/graphql`, `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types import ExecutionResult

from gateway import fastjson
from gateway.backend.client import BackendClient, Caller
from gateway.backend.containerops import ContainerOpsClient
from gateway.backend.errors import BackendError
from gateway.backend.http import DEFAULT_TRANSPORT, make_transport, open_http_client
from gateway.context import Context
from gateway.downloads import DownloadLinks
from gateway.downloads import routes as download_routes
from gateway.limits import BodyLimitMiddleware
from gateway.loaders import Loaders
from gateway.observability import Metrics, RequestIdMiddleware, request_id_of
from gateway.schema import schema
from gateway.schema.errors import classify
from gateway.settings import Settings
from gateway.subscriptions import HubOptions, SubscriptionHub, connect_relay

logger = logging.getLogger("gateway")
_TOKEN_PARAMS = ("authToken", "Authorization", "X-Auth-Token", "token")


def token_from(headers: Mapping[str, Any]) -> str | None:
    """`Authorization: Bearer <token>` or `X-Auth-Token: <token>` (any key case)."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items() if v}
    auth = lowered.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    return lowered.get("x-auth-token") or None


class TextFrames(ASGIWebSocketAdapter):
    """Websocket messages as text frames: strawberry sends `encode_json`'s bytes as binary
    frames, which browsers (GraphiQL) receive as Blobs; both protocols speak JSON text."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(fastjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GatewayGraphQL(GraphQL[Context, None]):
    """Builds a fresh `Context` (caller, loaders) for every request or websocket connection."""

    websocket_adapter_class = TextFrames  # type: ignore[assignment]

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        super().__init__(schema, graphql_ide="graphiql" if settings.graphiql else None)
        self.settings = settings
        self.metrics = metrics

    def new_context(self, scope_owner: Request | WebSocket, token: str | None) -> Context:
        client: BackendClient = scope_owner.app.state.backend
        slots = asyncio.Semaphore(self.settings.max_concurrent_fetches)
        caller = Caller(token, request_id_of(scope_owner.scope), slots)
        loaders = Loaders(client, caller, dedupe=self.settings.dataloaders)
        return Context(client=client, caller=caller, loaders=loaders)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        kind = "websocket" if isinstance(request, WebSocket) else "http"
        self.metrics.requests.labels(kind).inc()
        context = self.new_context(request, token_from(request.headers))
        context.request, context.response = request, response
        request.state.gateway_context = context
        return context

    async def on_ws_connect(self, context: Context) -> None:
        """A token in the `connection_init` payload wins over the upgrade request's headers."""
        params = context.connection_params or {}
        token = token_from({k: params.get(k) for k in _TOKEN_PARAMS if params.get(k)})
        if token or params.get("authToken"):
            fresh = self.new_context(context.request, token or str(params["authToken"]))
            context.caller, context.loaders = fresh.caller, fresh.loaders

    def encode_json(self, data: object) -> bytes:
        return fastjson.dumps(data)  # the 100 KB answers of nested reads (gateway/fastjson.py)

    async def process_result(self, request: Request | WebSocket, result: ExecutionResult
                             ) -> GraphQLHTTPResponse:
        context: Context | None = getattr(request.state, "gateway_context", None)
        if context is not None:
            self.metrics.calls_per_operation.observe(context.caller.calls)
            if isinstance(request, Request):
                # The loaders' futures form reference cycles with the loaders; emptied here,
                # the request's backend data is freed at once instead of waiting for a full
                # collection (cli.tune_gc makes those rare), which let the heap grow by
                # hundreds of MB under load.
                context.loaders.forget()
        if result.errors:
            # Syntax errors (also "more than N tokens") bypass ErrorCodes' operation hook
            # (strawberry returns them before the hook resumes); give them their code here.
            result.errors = [e if (e.extensions or {}).get("code") else classify(e)
                             for e in result.errors]
        for error in result.errors or ():
            self.metrics.errors.labels((error.extensions or {}).get("code", "UNKNOWN")).inc()
        return await super().process_result(request, result)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    client: BackendClient = request.app.state.backend
    timeout: float = request.app.state.ready_timeout  # short: not the backend call timeout
    try:
        await asyncio.wait_for(client.api_versions(request_id_of(request.scope)), timeout)
    except TimeoutError:
        reason = f"backend did not answer within {timeout:g}s"
        return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)
    except BackendError as exc:
        return JSONResponse({"status": "unavailable", "reason": exc.message}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def open_hub(client: BackendClient, settings: Settings, metrics: Metrics) -> SubscriptionHub:
    """The process's shared log followers and status pollers (docs/subscriptions.md)."""
    options = HubOptions(recheck_seconds=settings.subscription_recheck_seconds,
                         queue_size=settings.subscription_queue_size,
                         retry_seconds=settings.subscription_retry_seconds)
    relay = connect_relay(settings.redis_url, settings.subscription_lease_seconds)
    return SubscriptionHub(ContainerOpsClient(client), options.for_timeout(
        settings.backend_timeout), metrics.registry, relay)


def create_app(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """The gateway app; `transport` replaces the HTTP transport to the backend (tests)."""
    metrics = Metrics()
    graphql = GatewayGraphQL(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        chosen = transport or make_transport(settings, DEFAULT_TRANSPORT)
        async with open_http_client(settings, chosen) as http:
            app.state.backend = BackendClient(
                http, max_connections=settings.max_connections,
                slow_call_seconds=settings.slow_call_seconds,
                observer=metrics.observe_call, transport=chosen,
            )
            app.state.subscriptions = open_hub(app.state.backend, settings, metrics)
            yield
            await app.state.subscriptions.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *download_routes,
        ],
        middleware=[Middleware(RequestIdMiddleware),
                    Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)],
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.ready_timeout = settings.ready_timeout
    app.state.query_limits = settings.query_limits  # read by gateway.limits.DocumentLimits
    app.state.download_links = DownloadLinks(settings.download_key)
    return app
