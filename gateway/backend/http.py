"""The one shared `httpx.AsyncClient` of the gateway, opened and closed in the app lifespan.

The transport is chosen by measurement (docs/gateway.md, "Transport"): httpx's own httpcore
transport costs about ten times more CPU per call than an aiohttp session, and a GraphQL query
here fans out to hundreds of backend calls, so the HTTP layer decides the throughput.
"""

from __future__ import annotations

from typing import Literal

import httpx

from gateway.backend.transport import BufferedAiohttpTransport
from gateway.settings import Settings

TransportName = Literal["buffered-aiohttp", "httpx-aiohttp", "httpx-default"]
DEFAULT_TRANSPORT: TransportName = "buffered-aiohttp"
DEFAULT_KEEPALIVE_SECONDS = 30.0


def client_limits(settings: Settings) -> httpx.Limits:
    return httpx.Limits(
        max_connections=settings.max_connections,
        max_keepalive_connections=settings.max_connections,
        keepalive_expiry=DEFAULT_KEEPALIVE_SECONDS,
    )


def client_timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.backend_timeout)


def make_transport(settings: Settings, name: TransportName) -> httpx.AsyncBaseTransport:
    limits, timeout = client_limits(settings), client_timeout(settings)
    if name == "buffered-aiohttp":
        return BufferedAiohttpTransport(limits, timeout)
    if name == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


def open_http_client(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    transport_name: TransportName = DEFAULT_TRANSPORT,
) -> httpx.AsyncClient:
    """Create the shared client; `transport` lets tests substitute their own."""
    return httpx.AsyncClient(
        base_url=settings.backend_url,
        transport=transport or make_transport(settings, transport_name),
        timeout=client_timeout(settings),
        limits=client_limits(settings),
        follow_redirects=False,
        trust_env=False,
    )
