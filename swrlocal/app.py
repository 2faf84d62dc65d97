"""The embedded backend as one Starlette application: Manage API, registry, pipelines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from swrlocal import errors
from swrlocal.clock import Clock
from swrlocal.containerops.routes import routes as containerops_routes
from swrlocal.containerops.runner import start_runner
from swrlocal.db import Database
from swrlocal.identity import bootstrap
from swrlocal.manage.routes import routes as manage_routes
from swrlocal.mirror.routes import routes as mirror_routes
from swrlocal.observability import Metrics, ObservabilityMiddleware, metrics_endpoint
from swrlocal.official.routes import routes as official_routes
from swrlocal.openapi import openapi_endpoint
from swrlocal.packages.routes import routes as packages_routes
from swrlocal.registry.routes import routes as registry_routes
from swrlocal.settings import BackendSettings
from swrlocal.signing import BodyHashMiddleware
from swrlocal.state import Backend
from swrlocal.testclock import routes as test_clock_routes

logger = logging.getLogger("swrlocal")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route offers for this path.

    Starlette's own `Allow` names only the first route that matched the path, and the Manage API
    has one route per method.
    """
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return sorted(methods)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return errors.error_response(404, errors.URL_NOT_FOUND, "no such URL", request)
    if exc.status_code == 405:
        response = errors.error_response(
            405, errors.INVALID_PARAMETERS, "method not allowed", request
        )
        response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response
    return errors.error_response(exc.status_code, errors.INVALID_PARAMETERS, exc.detail, request)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("state", {}).get("request_id", "-")
    logger.error("request_id=%s unhandled error", request_id, exc_info=exc)
    return errors.error_response(500, errors.INTERNAL, "internal error", request)


def create_app(settings: BackendSettings, clock: Clock | None = None) -> Starlette:
    clock = clock or Clock()
    db = Database.open(settings.data_dir)
    admin_token = bootstrap(
        db,
        settings.data_dir,
        clock,
        account=settings.default_account,
        user=settings.default_user,
        token=settings.admin_token,
    )
    backend = Backend(settings=settings, db=db, clock=clock, admin_token=admin_token)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runner = await start_runner(app)  # ContainerOps: recovers crashed jobs, runs pipelines
        try:
            yield
        finally:
            await runner.stop()
            db.close()

    app = Starlette(
        routes=[
            Route("/metrics", metrics_endpoint),
            Route("/openapi.json", openapi_endpoint),
            *test_clock_routes(settings),
            *manage_routes,
            *containerops_routes,
            *official_routes,
            *mirror_routes,
            *packages_routes,
            *registry_routes,
        ],
        middleware=[
            Middleware(ObservabilityMiddleware, metrics=metrics),
            Middleware(BodyHashMiddleware),  # signed Manage API requests (swrlocal.signing)
        ],
        exception_handlers={
            errors.SWRError: errors.swr_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.metrics = metrics
    return app
