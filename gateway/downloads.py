"""`GET /download/packages/{namespace}/{package}/{version}/{path}`: package files, streamed.

The route relays the backend's download call (contract 10.2) chunk by chunk, so a download
costs a few chunks of memory whatever the file size; the GraphQL graph carries only the URL.
`Range`, `If-Range` and the validators go to the backend, and the status (200, 206, 304),
`Content-Range`, `Content-Length` and `ETag` come back unchanged.

Who calls: `Authorization: Bearer` / `X-Auth-Token`, as on `/graphql`, or, for links a
browser follows, a `token` query parameter minted by `PackageFile.downloadUrl`. That token is
the caller's backend token encrypted (Fernet: AES-CBC + HMAC) with the gateway's key, bound to
the one file and valid for `LINK_SECONDS`; it never shows the backend token. The key is
`SWR_DOWNLOAD_KEY` (share it between gateway replicas) or a random one per process, so links
die with the process.

Failures answer JSON `{"error": {"code", "message", "backendCode"?}}` with the HTTP status of
the backend's answer (401, 403, 404, 400, 416), or 502 when the backend is unreachable or
failed.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.backend import manage_extra as calls
from gateway.backend.client import BackendClient, Caller, Streamed
from gateway.backend.errors import BackendError, Unauthenticated
from gateway.observability import request_id_of

LINK_SECONDS = 300
PREFIX = "/download/packages"
FORWARDED = ("range", "if-range", "if-none-match", "if-modified-since")
RELAYED = ("content-length", "content-range", "content-type", "etag", "accept-ranges",
           "last-modified", "content-disposition", "content-encoding")
FileRef = tuple[str, str, str, str]  # namespace, package, version, path inside the version


class DownloadLinks:
    """Mints and opens the `token` of download links."""

    def __init__(self, key: str = "") -> None:
        self._fernet = Fernet(key.encode() if key else Fernet.generate_key())

    def sign(self, ref: FileRef, token: str, issued_at: int | None = None) -> str:
        """A token for `ref`; `issued_at` (Unix seconds, default now) is for tests of expiry."""
        payload = json.dumps({"f": list(ref), "t": token}).encode()
        when = int(time.time()) if issued_at is None else issued_at
        return self._fernet.encrypt_at_time(payload, when).decode()

    def open(self, signed: str, ref: FileRef) -> str | None:
        """The backend token of a link to `ref`, or None if forged, expired or for another file."""
        try:
            data = json.loads(self._fernet.decrypt(signed.encode(), ttl=LINK_SECONDS))
        except (InvalidToken, ValueError):
            return None
        return str(data["t"]) if data.get("f") == list(ref) else None


def _inside(folder: str, filename: str) -> str:
    return "/".join(part for part in (*folder.strip("/").split("/"), filename) if part)


def download_path(namespace: str, package: str, version: str, folder: str, filename: str
                  ) -> str:
    """The gateway path of a file; `package` uses the `$` rule, `folder` is `/a/b` or `/`."""
    return (f"{PREFIX}/{quote(namespace, safe='')}/{quote(package.replace('/', '$'), safe='$')}"
            f"/{quote(version, safe='')}/{quote(_inside(folder, filename), safe='/')}")


def download_url(links: DownloadLinks, token: str | None, namespace: str, package: str,
                 version: str, folder: str, filename: str) -> str:
    """The path, plus a signed `token` when the caller has one (links a browser can follow)."""
    path = download_path(namespace, package, version, folder, filename)
    if not token:
        return path
    ref = (namespace, package, version, _inside(folder, filename))
    return f"{path}?token={quote(links.sign(ref, token), safe='')}"


def error_response(exc: BackendError) -> JSONResponse:
    status = exc.status if 400 <= exc.status < 500 else 502
    body: dict[str, str] = {"code": exc.code, "message": exc.message}
    if exc.backend_code:
        body["backendCode"] = exc.backend_code
    return JSONResponse({"error": body}, status_code=status)


class _Relay(StreamingResponse):
    """Streams a backend body; the backend call ends when the client is done or gone."""

    def __init__(self, stack: AsyncExitStack, streamed: Streamed) -> None:
        headers = {k: v for k in RELAYED if (v := streamed.headers.get(k)) is not None}
        # The answer depends on the caller's rights: no shared cache may keep it.
        headers["cache-control"] = "private"
        super().__init__(streamed.chunks, status_code=streamed.status, headers=headers)
        self._stack = stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._stack.aclose()


def _caller_token(request: Request, ref: FileRef) -> str | None:
    from gateway.app import token_from  # here: gateway.app imports this module


    token = token_from(request.headers)
    signed = request.query_params.get("token")
    if token is None and signed:
        return request.app.state.download_links.open(signed, ref)
    return token


async def download_package_file(request: Request) -> Response:
    params = request.path_params
    package = params["package"].replace("$", "/")
    ref: FileRef = (params["namespace"], package, params["version"], params["path"])
    token = _caller_token(request, ref)
    if token is None:
        return error_response(Unauthenticated(
            "send Authorization: Bearer <token>, or use a fresh downloadUrl", 401))
    folder, _, filename = ref[3].rpartition("/")
    path = calls.file_path(ref[0], package, ref[2], "/" + folder, filename)
    forwarded = {k: v for k in FORWARDED if (v := request.headers.get(k)) is not None}
    client: BackendClient = request.app.state.backend
    caller = Caller(token, request_id_of(request.scope), asyncio.Semaphore(1))
    stack = AsyncExitStack()
    try:
        streamed = await stack.enter_async_context(
            client.stream(caller, request.method, calls.FILE_ROUTE, path, forwarded)
        )
    except BackendError as exc:
        await stack.aclose()
        return error_response(exc)
    return _Relay(stack, streamed)


routes = [
    Route(PREFIX + "/{namespace}/{package}/{version}/{path:path}", download_package_file,
          methods=["GET", "HEAD"]),
]
