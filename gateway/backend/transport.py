"""An httpx transport over one `aiohttp.ClientSession` that reads each body whole.

Why not `httpx_aiohttp.AiohttpTransport`: it hands httpx a streaming body that httpx drains
chunk by chunk, and it builds timeouts and proxy arguments per call. Manage API bodies are small
JSON documents, so this transport reads them in one `await response.read()`.

It also offers `fetch`, the same call without httpx's `Request`/`Response` models and URL
parsing, which `BackendClient` uses on its hot path: on loopback the httpx models cost about three
times the CPU of the aiohttp call itself (docs/gateway.md, "Transport"). `fetch` sends plain-http
calls over `gateway.backend.wire`'s keep-alive pool, cheaper again than aiohttp; TLS backends,
streamed downloads and the httpx interface stay on aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
import httpx
import yarl

from gateway.backend import wire

_HTTP_11 = {"http_version": b"HTTP/1.1"}
STREAM_CHUNK = 1024 * 1024  # what a streamed body is relayed in; memory per download is O(this)
_JSON_TYPE = {"Content-Type": "application/json"}


class BufferedAiohttpTransport(httpx.AsyncBaseTransport):
    """Send requests with aiohttp; the session is created lazily on the running loop."""

    def __init__(self, limits: httpx.Limits, timeout: httpx.Timeout) -> None:
        self._limits = limits
        self._read_timeout, self._connect_timeout = timeout.read, timeout.connect
        self._pools: dict[str, wire.Pool] = {}
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout.pool, sock_connect=timeout.connect,
            sock_read=timeout.read,
        )
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections or 0,
            keepalive_timeout=self._limits.keepalive_expiry or 5.0,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=False
        )
        return self._session

    async def fetch(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One call with an already percent-encoded URL; failures raise `httpx.TransportError`.

        Answer headers come with lower-case names."""
        split = wire.split_url(url) if method in wire.METHODS else None
        if split is None:
            return await self._fetch_aiohttp(method, url, headers, body)
        authority, target = split
        pool = self._pools.get(authority) or self._open_pool(authority)
        head = wire.request_head(method, target, authority, headers, body)
        return await pool.request(head, body, method)

    def _open_pool(self, authority: str) -> wire.Pool:
        limits = self._limits
        max_idle = limits.max_keepalive_connections or limits.max_connections or 100
        pool = wire.Pool(authority, self._read_timeout, self._connect_timeout, max_idle,
                         limits.keepalive_expiry or 5.0)
        self._pools[authority] = pool
        return pool

    async def _fetch_aiohttp(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        session = self._session or self._open()
        if body is not None:
            headers = {**headers, **_JSON_TYPE}
        try:
            async with session.request(
                method, yarl.URL(url, encoded=True), headers=headers, data=body,
                allow_redirects=False,
            ) as response:
                return response.status, response.headers, await response.read()
        except TimeoutError as exc:
            raise httpx.TimeoutException(str(exc) or "backend timed out") from exc
        except aiohttp.ClientError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc

    @asynccontextmanager
    async def stream(
        self, method: str, url: str, headers: Mapping[str, str]
    ) -> AsyncIterator[tuple[int, Mapping[str, str], AsyncIterator[bytes]]]:
        """A call whose body stays on the wire: (status, headers, chunks) until the block ends.

        Used by file downloads, which must not be read whole. Failures raise
        `httpx.TransportError`, as in `fetch`.
        """
        session = self._session or self._open()
        try:
            async with session.request(
                method, yarl.URL(url, encoded=True), headers=headers, allow_redirects=False,
            ) as response:
                yield response.status, response.headers, response.content.iter_chunked(
                    STREAM_CHUNK
                )
        except TimeoutError as exc:
            raise httpx.TimeoutException(str(exc) or "backend timed out") from exc
        except aiohttp.ClientError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, content = await self._fetch_aiohttp(
            request.method, str(request.url), dict(request.headers), request.content or None
        )
        return httpx.Response(
            status, headers=list(headers.items()), content=content, request=request,
            extensions=_HTTP_11,
        )

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
