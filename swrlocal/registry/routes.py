"""The OCI distribution / Docker Registry V2 endpoint at `/v2/` and the token endpoint.

Registry names contain slashes, so one catch-all route dispatches on the path's suffix
(`/blobs/uploads/...`, `/blobs/<digest>`, `/manifests/<reference>`, `/tags/list`). The Manage
API's `/v2/manage/...` routes are mounted first and keep precedence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from swrlocal.identity import active_token_id
from swrlocal.registry import auth, blob_routes, errors, manifest_routes, meta
from swrlocal.registry.context import Context, registry_state
from swrlocal.registry.names import parse_name, require_name
from swrlocal.state import Backend

logger = logging.getLogger("swrlocal.registry")

Handler = Callable[..., Awaitable[Response]]
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
MAX_PAGE = 1000
# The action each method needs on the repository.
ACTIONS = {"GET": "pull", "HEAD": "pull", "POST": "push", "PUT": "push", "PATCH": "push",
           "DELETE": "delete"}
# What a challenge asks for: pull and push together, so that a client taking its first token
# from a pull challenge (oras-py does) can push with it too; the token endpoint grants only
# what the caller may do.
CHALLENGE_ACTIONS = {"pull": "pull,push", "push": "pull,push", "delete": "delete"}


async def tags_list(ctx: Context) -> Response:
    repository = ctx.repository()
    limit, last = _page(ctx.request)
    names = meta.tag_names(ctx.db, repository["id"], last, limit + 1)
    headers = _next_link(ctx.url("tags/list"), names, limit)
    return JSONResponse({"name": ctx.name.full, "tags": names[:limit]}, headers=headers)


PATTERNS: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(r"^(?P<name>.+)/blobs/uploads/?$"), {"POST": blob_routes.start_upload}),
    (
        re.compile(r"^(?P<name>.+)/blobs/uploads/(?P<upload_id>[^/]+)$"),
        {
            "GET": blob_routes.upload_status,
            "PATCH": blob_routes.patch_upload,
            "PUT": blob_routes.finish_upload,
            "DELETE": blob_routes.cancel_upload,
        },
    ),
    (
        re.compile(r"^(?P<name>.+)/blobs/(?P<digest>[^/]+)$"),
        {"GET": blob_routes.get_blob, "HEAD": blob_routes.get_blob,
         "DELETE": blob_routes.delete_blob},
    ),
    (
        re.compile(r"^(?P<name>.+)/manifests/(?P<reference>[^/]+)$"),
        {
            "GET": manifest_routes.get_manifest,
            "HEAD": manifest_routes.get_manifest,
            "PUT": manifest_routes.put_manifest,
            "DELETE": manifest_routes.delete_manifest,
        },
    ),
    (re.compile(r"^(?P<name>.+)/tags/list$"), {"GET": tags_list}),
]


def _page(request: Request) -> tuple[int, str]:
    """`n` (at most MAX_PAGE, also when absent) and `last` of a paged list."""
    raw = request.query_params.get("n")
    limit = MAX_PAGE
    if raw is not None and raw != "":
        if not raw.isdigit():
            raise errors.OCIError(
                400, errors.PAGINATION_NUMBER_INVALID, "invalid number of results requested",
                {"n": raw},
            )
        limit = min(int(raw), MAX_PAGE)
    return limit, request.query_params.get("last", "")


def _next_link(path: str, items: list[str], limit: int) -> dict[str, str]:
    if len(items) <= limit or limit == 0:
        return {}
    last = quote(items[limit - 1], safe="")
    return {"Link": f'<{path}?n={limit}&last={last}>; rel="next"'}


def _with_version(response: Response) -> Response:
    response.headers[errors.API_VERSION_HEADER] = errors.API_VERSION
    return response


async def _ping(request: Request, backend: Backend) -> Response:
    auth.authenticate(backend, registry_state(request).signing_key, request, None)
    return JSONResponse({})


async def _catalog(request: Request, backend: Backend) -> Response:
    scope = "registry:catalog:*"
    caller = auth.authenticate(backend, registry_state(request).signing_key, request, scope)
    if not caller.token_allows("registry", "catalog", "*"):
        raise auth.insufficient_scope(backend, scope)
    limit, last = _page(request)
    visible = []
    for row in meta.all_repositories(backend.db):
        if row["full_name"] <= last:
            continue
        name = parse_name(row["full_name"])
        if name and auth.repository_level(backend, caller.principal, name) >= auth.access.READ:
            visible.append(row["full_name"])
            if len(visible) > limit:
                break
    headers = _next_link("/v2/_catalog", visible, limit)
    return JSONResponse({"repositories": visible[:limit]}, headers=headers)


def _match(path: str) -> tuple[dict[str, Handler], dict[str, Any]] | None:
    for pattern, handlers in PATTERNS:
        match = pattern.match(path)
        if match:
            return handlers, match.groupdict()
    return None


async def _dispatch(request: Request, backend: Backend, path: str) -> Response:
    if path == "":
        return await _ping(request, backend)
    if path == "_catalog":
        return await _catalog(request, backend)
    found = _match(path)
    if found is None:
        # Not a registry URL; answer like any unknown URL of the backend.
        raise HTTPException(404)
    handlers, params = found
    handler = handlers.get(request.method)
    if handler is None:
        raise errors.OCIError(405, errors.UNSUPPORTED, "the operation is unsupported")

    raw_name = params.pop("name")
    action = ACTIONS[request.method]
    scope = f"repository:{raw_name}:{CHALLENGE_ACTIONS[action]}"
    state = registry_state(request)
    caller = auth.authenticate(backend, state.signing_key, request, scope)
    name = require_name(raw_name)
    if not auth.may(backend, caller, name, action):
        # The challenge lets token clients fetch a token with the missing scope and retry.
        raise auth.insufficient_scope(backend, f"repository:{raw_name}:{action}")
    ctx = Context(request, backend, state, caller, name)
    return await handler(ctx, **params)


async def registry_endpoint(request: Request) -> Response:
    backend: Backend = request.app.state.backend
    try:
        response = await _dispatch(request, backend, request.path_params["path"])
    except errors.OCIError as exc:
        response = exc.response()
    except (HTTPException, ClientDisconnect):
        raise  # answered by the app's handlers; a client gone is logged by observability
    except Exception:
        request_id = request.scope.get("state", {}).get("request_id", "-")
        logger.exception("request_id=%s registry request failed", request_id)
        response = errors.OCIError(500, errors.UNKNOWN, "internal error").response()
    return _with_version(response)


async def token_endpoint(request: Request) -> Response:
    """Docker token endpoint: Basic credentials are any user name and an API token."""
    backend: Backend = request.app.state.backend
    key = registry_state(request).signing_key
    service = request.query_params.get("service")
    if service and service != auth.SERVICE:
        raise errors.OCIError(400, errors.UNSUPPORTED, f"unknown service {service!r}")
    password = auth.basic_password(request)
    principal = auth.principal_for_token(backend.db, password) if password else None
    token_id = active_token_id(backend.db, password) if password else None
    if principal is None or token_id is None:
        message = "invalid credentials" if password else "authentication required"
        raise errors.OCIError(
            401, errors.UNAUTHORIZED, message,
            headers={"WWW-Authenticate": f'Basic realm="{auth.SERVICE}"'},
        )
    scopes = auth.parse_scopes(request.query_params.getlist("scope"))
    return JSONResponse(auth.issue_token(backend, key, principal, token_id, scopes))


async def token_route(request: Request) -> Response:
    try:
        return await token_endpoint(request)
    except errors.OCIError as exc:
        return exc.response()


def is_registry_path(path: str) -> bool:
    """Whether `path` (after `/v2/`) is a URL of the distribution API."""
    return path in ("", "_catalog") or _match(path) is not None


class RegistryRoute(Route):
    """The `/v2/{path:path}` catch-all, claiming only the registry's own URL shapes.

    Claiming every `/v2/...` path would hide the router's partial matches: a `PUT` on a Manage
    API path would reach the registry and get a 404 instead of the router's 405 with `Allow`.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE and not is_registry_path(child_scope["path_params"]["path"]):
            return Match.NONE, {}
        return match, child_scope


routes: list[BaseRoute] = [
    Route("/auth/token", token_route, methods=["GET"]),
    RegistryRoute("/v2/{path:path}", registry_endpoint, methods=ALL_METHODS),
]
