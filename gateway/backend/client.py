"""`BackendClient`: one typed method per Manage API resource, one error boundary, one log line.

Every call goes through `_send`, which forwards the caller's token as `X-Auth-Token` and the
request id as `X-Request-Id`, holds a slot of the process-wide semaphore (so httpcore or aiohttp
never queue thousands of requests) and of the caller's own bound, and turns every failure into a
`BackendError` (see `gateway.backend.errors`). Calls that fail or run slower than
`slow_call_seconds` are logged once, by path template; tokens are never logged.

Hot path: when the transport can `fetch` without httpx's request/response models (the buffered
aiohttp transport), `_send` uses that; otherwise it goes through the shared `httpx.AsyncClient`.
The figures behind this are in docs/gateway.md ("Transport").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote, urlencode

import httpx

from gateway import fastjson
from gateway.backend.errors import BackendError, Unauthenticated, Unavailable, error_for_status
from gateway.backend.models import (
    Json,
    NamespaceJson,
    Page,
    RepositoryJson,
    RepositoryQuery,
    TagJson,
    TagQuery,
)
from gateway.backend.transport import BufferedAiohttpTransport

logger = logging.getLogger("gateway.backend")

# (method, path template, status or 0 for no answer, elapsed seconds)
CallObserver = Callable[[str, str, int, float], None]


@dataclass(slots=True)
class Caller:
    """Who a GraphQL request calls the backend as; one per request, never shared."""

    token: str | None
    request_id: str
    slots: asyncio.Semaphore
    calls: int = 0
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"X-Request-Id": self.request_id, "Accept": "application/json"}
        if self.token:
            self.headers["X-Auth-Token"] = self.token


@dataclass(frozen=True, slots=True)
class Streamed:
    """A backend answer whose body is still on the wire: iterate `chunks` once."""

    status: int
    headers: Mapping[str, str]
    chunks: AsyncIterator[bytes]


def repo_segment(name: str) -> str:
    """A repository name in a URL path: `/` becomes `$` (contract 1.4), the rest is escaped."""
    return quote(name.replace("/", "$"), safe="$")


def segment(name: str) -> str:
    return quote(name, safe="")


def page_total(headers: Mapping[str, str], items: list[Json], offset: int) -> int:
    """Total match count from `Content-Range: offset-count/total`, else `total_range`."""
    content_range = headers.get("content-range") or headers.get("Content-Range")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    if items and isinstance(items[0].get("total_range"), int):
        return int(items[0]["total_range"])
    return offset + len(items)


class BackendClient:
    """Typed access to the Manage API over the shared `httpx.AsyncClient`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_connections: int,
        slow_call_seconds: float,
        observer: CallObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = http
        self._base = str(http.base_url).rstrip("/")
        self._pool = asyncio.Semaphore(max_connections)
        self._slow = slow_call_seconds
        self._observe = observer or (lambda method, route, status, elapsed: None)
        fast = isinstance(transport, BufferedAiohttpTransport)
        self._fetch = transport.fetch if fast else self._fetch_httpx  # type: ignore[union-attr]
        self._open_stream = (
            transport.stream if fast else self._stream_httpx  # type: ignore[union-attr]
        )

    # -- versions (section 7) ------------------------------------------------------------

    async def api_versions(self, request_id: str) -> Json:
        """`GET /`: needs no token; the readiness probe."""
        caller = Caller(None, request_id, asyncio.Semaphore(1))
        return cast(Json, await self._send(caller, "GET", "/", "/", auth=False))

    # -- organizations (section 2) -------------------------------------------------------

    async def list_namespaces(self, caller: Caller) -> list[NamespaceJson]:
        route = "/v2/manage/namespaces"
        data = await self._send(caller, "GET", route, route)
        return cast(list[NamespaceJson], data.get("namespaces") or [])

    async def get_namespace(self, caller: Caller, name: str) -> NamespaceJson:
        path = f"/v2/manage/namespaces/{segment(name)}"
        return cast(NamespaceJson, await self._send(caller, "GET", _NS, path))

    async def create_namespace(self, caller: Caller, name: str) -> None:
        route = "/v2/manage/namespaces"
        await self._send(caller, "POST", route, route, body={"namespace": name})

    async def delete_namespace(self, caller: Caller, name: str) -> None:
        path = f"/v2/manage/namespaces/{segment(name)}"
        await self._send(caller, "DELETE", _NS, path)

    # -- repositories (section 3) --------------------------------------------------------

    async def list_repositories(self, caller: Caller, query: RepositoryQuery) -> Page:
        params = _params(
            namespace=query.namespace, name=query.name and query.name.replace("/", "$"),
            category=query.category, is_public=_bool(query.is_public),
            order_column=query.order_column, order_type=query.order_type,
            offset=query.offset, limit=query.limit,
        )
        route = "/v2/manage/repos"
        return await self._page(caller, route, route, params, query.offset)

    async def get_repository(self, caller: Caller, namespace: str, name: str) -> RepositoryJson:
        path = _repo_path(namespace, name)
        return cast(RepositoryJson, await self._send(caller, "GET", _REPO, path))

    async def create_repository(self, caller: Caller, namespace: str, body: Json) -> None:
        path = f"/v2/manage/namespaces/{segment(namespace)}/repos"
        await self._send(caller, "POST", _NS + "/repos", path, body=body)

    async def update_repository(self, caller: Caller, namespace: str, name: str, body: Json
                                ) -> None:
        await self._send(caller, "PATCH", _REPO, _repo_path(namespace, name), body=body)

    async def delete_repository(self, caller: Caller, namespace: str, name: str) -> None:
        await self._send(caller, "DELETE", _REPO, _repo_path(namespace, name))

    # -- tags (section 4) ----------------------------------------------------------------

    async def list_tags(self, caller: Caller, query: TagQuery) -> Page:
        params = _params(
            tag=query.tag, order_column=query.order_column, order_type=query.order_type,
            offset=query.offset, limit=query.limit,
        )
        path = _repo_path(query.namespace, query.repository) + "/tags"
        return await self._page(caller, _REPO + "/tags", path, params, query.offset)

    async def get_tag(self, caller: Caller, namespace: str, repository: str, tag: str
                      ) -> TagJson:
        path = f"{_repo_path(namespace, repository)}/tags/{segment(tag)}"
        return cast(TagJson, await self._send(caller, "GET", _TAG, path))

    async def delete_tag(self, caller: Caller, namespace: str, repository: str, tag: str
                         ) -> None:
        path = f"{_repo_path(namespace, repository)}/tags/{segment(tag)}"
        await self._send(caller, "DELETE", _TAG, path)

    # -- for the per-domain call modules (gateway/backend/manage_extra.py) ------------------

    async def call(
        self, caller: Caller, method: str, route: str, path: str, *,
        body: Json | list[Any] | None = None, into: dict[str, str] | None = None,
    ) -> Any:
        """One Manage API call through the boundary; `route` is the path template (metrics)."""
        return await self._send(caller, method, route, path, body=body, into=into)

    async def call_page(self, caller: Caller, route: str, path: str, params: str, offset: int
                        ) -> Page:
        """A list call with `Content-Range` paging, as `list_repositories` makes it."""
        return await self._page(caller, route, path, params, offset)

    @asynccontextmanager
    async def stream(
        self, caller: Caller, method: str, route: str, path: str, headers: Mapping[str, str]
    ) -> AsyncIterator[Streamed]:
        """A call whose body is read chunk by chunk while the caller relays it (downloads).

        An error status is read whole (error bodies are small) and raised as `BackendError`.
        The process-wide slot is held for the whole transfer, since the connection is too.
        """
        if not caller.token:
            raise Unauthenticated("no token: send Authorization: Bearer <token> or X-Auth-Token")
        caller.calls += 1
        sent = {**caller.headers, **headers}
        async with self._pool, AsyncExitStack() as stack:
            start, status = time.perf_counter(), 0
            try:
                status, got, chunks = await stack.enter_async_context(
                    self._open_stream(method, self._base + path, sent)
                )
                if status >= 400:
                    raise error_for_status(status, b"".join([c async for c in chunks]))
            except httpx.HTTPError as exc:
                raise Unavailable(f"backend unreachable: {type(exc).__name__}") from exc
            finally:
                self._finish(caller, method, route, status, time.perf_counter() - start)
            yield Streamed(status, got, chunks)

    @asynccontextmanager
    async def _stream_httpx(
        self, method: str, url: str, headers: dict[str, str]
    ) -> AsyncIterator[tuple[int, Mapping[str, str], AsyncIterator[bytes]]]:
        request = self._http.build_request(method, url, headers=headers)
        response = await self._http.send(request, stream=True)
        try:
            yield response.status_code, response.headers, response.aiter_raw()
        finally:
            await response.aclose()

    # -- the boundary ----------------------------------------------------------------------

    async def _page(self, caller: Caller, route: str, path: str, params: str, offset: int
                    ) -> Page:
        headers: dict[str, str] = {}
        data = await self._send(caller, "GET", route, f"{path}?{params}", into=headers)
        if not isinstance(data, list):
            raise Unavailable(f"backend sent a non-list body for {route}")
        return Page(items=data, offset=offset, total=page_total(headers, data, offset))

    async def _send(
        self, caller: Caller, method: str, route: str, path: str, *,
        body: Json | list[Any] | None = None, auth: bool = True,
        into: dict[str, str] | None = None,
    ) -> Any:
        if auth and not caller.token:
            raise Unauthenticated("no token: send Authorization: Bearer <token> or X-Auth-Token")
        caller.calls += 1
        payload = fastjson.dumps(body) if body is not None else None
        async with caller.slots, self._pool:
            # Timed from here: waiting for a slot is the gateway's queue, not backend latency.
            start, status = time.perf_counter(), 0
            try:
                status, headers, content = await self._fetch(
                    method, self._base + path, caller.headers, payload
                )
            except httpx.HTTPError as exc:
                raise Unavailable(f"backend unreachable: {type(exc).__name__}") from exc
            finally:
                self._finish(caller, method, route, status, time.perf_counter() - start)
        return _decode(status, headers, content, into)

    def _finish(self, caller: Caller, method: str, route: str, status: int, elapsed: float
                ) -> None:
        self._observe(method, route, status, elapsed)
        if status == 0 or status >= 400 or elapsed >= self._slow:
            logger.warning(
                "backend call %s %s status=%d elapsed=%.3fs request_id=%s",
                method, route, status, elapsed, caller.request_id,
            )

    async def _fetch_httpx(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        request = self._http.build_request(
            method, url, headers=_with_type(headers, body), content=body
        )
        response = await self._http.send(request)
        return response.status_code, response.headers, response.content


_NS = "/v2/manage/namespaces/{namespace}"
_REPO = _NS + "/repos/{repository}"
_TAG = _REPO + "/tags/{tag}"


def _repo_path(namespace: str, name: str) -> str:
    return f"/v2/manage/namespaces/{segment(namespace)}/repos/{repo_segment(name)}"


def _with_type(headers: dict[str, str], body: bytes | None) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"} if body is not None else headers


def _bool(value: bool | None) -> str | None:
    return None if value is None else ("true" if value else "false")


def _params(**values: object) -> str:
    return urlencode({k: v for k, v in values.items() if v is not None})


def _decode(status: int, headers: Mapping[str, str], content: bytes,
            into: dict[str, str] | None) -> Any:
    if status >= 400:
        raise error_for_status(status, content)
    if into is not None:
        into["content-range"] = headers.get("content-range") or ""
    if not content.strip():
        return {}
    try:
        return fastjson.loads(content)
    except ValueError as exc:
        raise Unavailable(f"backend sent an unreadable body ({status})", status) from exc


__all__ = ["BackendClient", "BackendError", "Caller"]
