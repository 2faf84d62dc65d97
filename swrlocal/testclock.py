"""`/__test__/clock`: lets tests move the clock of a running backend instead of sleeping.

Served only when the backend starts with `SWR_TEST_CLOCK=1` (`BackendSettings.test_clock`);
otherwise the path does not exist. It must never be enabled in production: whoever holds the
admin token could then revive expired shares or make every signature look stale. Even when
enabled, only an administrator of the default account may use it.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from swrlocal import errors
from swrlocal.authn import require_principal
from swrlocal.clock import rfc3339
from swrlocal.settings import BackendSettings
from swrlocal.state import Backend

PATH = "/__test__/clock"
# Bounded so a typo cannot push `datetime` past year 9999.
MAX_ADVANCE_SECONDS = 100 * 365 * 24 * 3600
logger = logging.getLogger("swrlocal.testclock")


def routes(settings: BackendSettings) -> list[BaseRoute]:
    if not settings.test_clock:
        return []
    logger.warning("SWR_TEST_CLOCK=1: %s can move the clock; never use this in production", PATH)
    return [
        Route(PATH, show_clock, methods=["GET"]),
        Route(PATH, move_clock, methods=["POST"]),
    ]


def _require_operator(request: Request) -> Backend:
    backend: Backend = request.app.state.backend
    principal = require_principal(request)
    if not principal.is_admin or principal.domain_name != backend.settings.default_account:
        raise errors.forbidden("only the default account's administrator may move the clock")
    return backend


def _clock_json(backend: Backend) -> Response:
    return JSONResponse({
        "now": rfc3339(backend.clock.now()),
        "offset_seconds": backend.clock.offset.total_seconds(),
    })


async def show_clock(request: Request) -> Response:
    return _clock_json(_require_operator(request))


async def move_clock(request: Request) -> Response:
    """Body `{"advance_seconds": <number>}`; a negative number moves the clock back."""
    backend = _require_operator(request)
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise errors.bad_request("the body is not valid JSON", errors.INVALID_BODY) from None
    seconds = body.get("advance_seconds") if isinstance(body, dict) else None
    valid = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not valid or not math.isfinite(seconds) or abs(seconds) > MAX_ADVANCE_SECONDS:
        raise errors.bad_request("advance_seconds must be a number of seconds", errors.INVALID_BODY)

    backend.clock.advance(timedelta(seconds=seconds))
    return _clock_json(backend)
