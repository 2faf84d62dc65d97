"""Manage API of the accelerator (contract 10.1): the per-account addresses and the count of
pulls through it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from swrlocal import errors
from swrlocal.manage.lookup import start
from swrlocal.mirror import prefixes

# `source` values of the overview call; Windows images have no upstream here.
OVERVIEW_SOURCES = {"DockerHub": "dockerhub", "Windows": None}


async def show_accelerators(request: Request) -> Response:
    call = start(request)
    domain_id = request.path_params["domain_id"]
    if domain_id != call.principal.domain_id:
        # An account sees only its own addresses; another account's id is not even confirmed.
        raise errors.forbidden("the accelerator addresses of another account are not yours")
    settings = call.backend.settings
    body = {
        f"{source}_accelerator": prefixes.accelerator_address(
            settings, prefixes.prefix_for(call.backend, domain_id, source)
        )
        for source in ("dockerhub", "gcr")
    }
    return JSONResponse(body)


async def mirror_overview(request: Request) -> Response:
    call = start(request)
    raw = request.query_params.get("source", "DockerHub")
    if raw not in OVERVIEW_SOURCES:
        raise errors.bad_request(f"source must be DockerHub or Windows, got {raw!r}")
    source = OVERVIEW_SOURCES[raw]
    pulls = 0
    if source is not None:
        pulls = int(call.db.scalar(
            "SELECT COALESCE(SUM(pulls), 0) FROM mirror_prefixes"
            " WHERE domain_id = ? AND source = ?",
            (call.principal.domain_id, source),
        ))
    return JSONResponse({"download_times": pulls})


routes: list[BaseRoute] = [
    Route("/v2/manage/domain/{domain_id}/accelerators", show_accelerators, methods=["GET"]),
    Route("/v2/manage/mirror/images/overview", mirror_overview, methods=["GET"]),
]
