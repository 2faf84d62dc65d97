"""A small HTTP/1.1 keep-alive client for the Manage API calls of the gateway's hot path.

A nested GraphQL read fans out to hundreds of small GETs. Through aiohttp each costs about
100 µs of the gateway's CPU (request and response objects, timers, tracing hooks, stream
readers); py-spy put aiohttp plus its event-loop work at ~40% of the gateway's CPU. This client
writes the request in one buffer on a pooled connection and parses the answer with httptools
(the parser uvicorn uses), resolving one future per call. It only does plain `http://`,
methods whose answers have bodies, and whole bodies; `BufferedAiohttpTransport` sends anything
else through aiohttp. Concurrency is bounded by the caller (`BackendClient`'s semaphore), so the
pool only keeps idle connections, never queues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httptools
import httpx

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_RETRYABLE = frozenset({"GET"})  # safe to resend when a reused connection was already closed
Answer = tuple[int, Mapping[str, str], bytes]


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Answer] | None = None
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.got_bytes = False
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"bad answer from the backend: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        self._fail(httpx.ReadError("the backend closed the connection"))

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        answer = (self.parser.get_status_code(), self.headers, b"".join(self.body))
        if not self.parser.should_keep_alive():
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    # -- the client side
    def send(self, data: bytes) -> asyncio.Future[Answer]:
        self.headers, self.body, self.got_bytes = {}, [], False
        self.waiter = self.pool.loop.create_future()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Idle keep-alive connections to one `host:port`, most recently used first."""

    def __init__(self, authority: str, timeout: float | None, connect_timeout: float | None,
                 max_idle: int, keepalive: float) -> None:
        host, _, port = authority.rpartition(":")
        if not host or not port.isdigit():  # no port given (or an IPv6 literal without one)
            host, port = authority, "80"
        self.host, self.port = host.strip("[]"), int(port)
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.max_idle, self.keepalive = max_idle, keepalive
        self.idle: list[_Connection] = []
        self.loop = asyncio.get_running_loop()

    def forget(self, conn: _Connection) -> None:
        if conn in self.idle:
            self.idle.remove(conn)

    async def request(self, head: bytes, body: bytes | None, method: str) -> Answer:
        data = head + body if body else head
        while self.idle:
            conn = self.idle.pop()
            if conn.closed:
                continue
            if self.loop.time() - conn.idle_since > self.keepalive:
                conn.close()  # older than the pool's expiry: the server may be closing it
                continue
            try:
                return await self._exchange(conn, data)
            except httpx.ReadError:
                if conn.got_bytes or method not in _RETRYABLE:
                    raise
                # The server closed this idle connection as we reused it: try another one.
        return await self._exchange(await self._connect(), data)

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, protocol = await self.loop.create_connection(
                    lambda: _Connection(self), self.host, self.port
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("backend connect timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return protocol

    async def _exchange(self, conn: _Connection, data: bytes) -> Answer:
        waiter = conn.send(data)
        timer = None
        if self.timeout is not None:
            timer = self.loop.call_later(self.timeout, _expire, conn, waiter)
        try:
            answer = await waiter
        except BaseException:
            conn.close()  # a cancelled or failed exchange leaves the connection unusable
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if not conn.closed and len(self.idle) < self.max_idle:
            conn.idle_since = self.loop.time()
            self.idle.append(conn)
        elif not conn.closed:
            conn.close()
        return answer

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


def _expire(conn: _Connection, waiter: asyncio.Future[Answer]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("backend timed out"))
    conn.close()


def split_url(url: str) -> tuple[str, str] | None:
    """(`host:port`, request target) of a plain-http URL; None for anything else."""
    if not url.startswith("http://"):
        return None
    slash = url.find("/", 7)
    if slash < 0:
        return url[7:], "/"
    return url[7:slash], url[slash:]


def request_head(method: str, target: str, authority: str, headers: Mapping[str, str],
                 body: bytes | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {authority}\r\n"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value:  # a client's token must not add headers of its own
            raise httpx.LocalProtocolError(f"line break in the {name} header")
        lines.append(f"{name}: {value}\r\n")
    if body is not None:
        lines.append(f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape")
