"""The keep-alive client of the hot path (gateway/backend/wire.py) against a scripted server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from gateway.backend.transport import BufferedAiohttpTransport

Reply = Callable[[bytes], bytes | None]  # request head (+ body) -> raw answer, None: hang up


class Server:
    """Answers each request with `reply(request)`; counts connections and requests."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                answer = self.reply(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[[Reply], Awaitable[tuple[Server, str]]]


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> tuple[Server, str]:
        state = Server(reply)
        server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return state, f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()


def transport(timeout: float = 5.0) -> BufferedAiohttpTransport:
    return BufferedAiohttpTransport(httpx.Limits(max_connections=10), httpx.Timeout(timeout))


async def test_reuses_one_connection_and_sends_headers(serve: Serve) -> None:
    state, base = await serve(lambda request: ok(b"[1]", b"Content-Range: 0-1/7\r\n"))
    t = transport()
    for _ in range(3):
        status, headers, body = await t.fetch(
            "GET", base + "/v2/x?a=1", {"X-Auth-Token": "tok"}, None
        )
        assert (status, headers["content-range"], body) == (200, "0-1/7", b"[1]")
    assert state.connections == 1
    assert state.requests[0].startswith(b"GET /v2/x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-Auth-Token: tok\r\n" in state.requests[0]
    await t.aclose()


async def test_posts_a_json_body(serve: Serve) -> None:
    state, base = await serve(lambda request: ok(b"{}"))
    t = transport()
    status, _, _ = await t.fetch("POST", base + "/v2/y", {}, b'{"a":1}')
    assert status == 200
    assert b"Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}" in (
        state.requests[0]
    )
    await t.aclose()


async def test_chunked_answer_and_connection_close(serve: Serve) -> None:
    chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    state, base = await serve(lambda request: chunked + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    t = transport()
    assert (await t.fetch("GET", base + "/", {}, None))[::2] == (404, b"abcde")
    assert (await t.fetch("GET", base + "/", {}, None))[0] == 404
    assert state.connections == 2  # the first connection was not reused after `close`
    await t.aclose()


async def test_get_retried_when_the_idle_connection_was_closed(serve: Serve) -> None:
    state, base = await serve(lambda request: ok(b"x"))
    t = transport()
    await t.fetch("GET", base + "/", {}, None)
    calls = 0

    def hang_up_once(request: bytes) -> bytes | None:
        nonlocal calls
        calls += 1
        return None if calls == 1 else ok(b"y")

    state.reply = hang_up_once  # the reused connection is closed, a new one answers
    assert (await t.fetch("GET", base + "/", {}, None))[2] == b"y"
    assert state.connections == 2
    await t.aclose()


async def test_timeout_and_refused_connection(serve: Serve) -> None:
    state, base = await serve(lambda request: b"")  # never answers
    t = transport(timeout=0.2)
    with pytest.raises(httpx.ReadTimeout):
        await t.fetch("GET", base + "/", {}, None)
    with pytest.raises(httpx.ConnectError):
        await t.fetch("GET", "http://127.0.0.1:1/", {}, None)
    await t.aclose()


async def test_line_breaks_in_header_values_are_refused(serve: Serve) -> None:
    state, base = await serve(lambda request: ok(b"x"))
    t = transport()
    with pytest.raises(httpx.LocalProtocolError):
        await t.fetch("GET", base + "/", {"X-Auth-Token": "a\r\nX-Admin: 1"}, None)
    assert state.requests == []
    await t.aclose()
