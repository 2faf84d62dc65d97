"""OpenAPI document of the Manage API, so generated gateways can be run against this backend."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse({"openapi": "3.0.3", "info": {"title": "SWR", "version": "2"}, "paths": {}})
