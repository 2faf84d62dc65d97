"""SWR error responses.

The body is the contract's combined shape (section 1.7, shape B): `error_code` and `error_msg` at
the top, which the official SDK reads, plus the legacy `errors` array for older readers.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# Codes used across the Manage API (contract 1.7); the wording of messages is ours.
INVALID_PARAMETERS = "SVCSTG.SWR.4001025"
INVALID_BODY = "SVCSTG.SWR.4000014"
INVALID_PAGE_SIZE = "SVCSTG.SWR.4000056"
INVALID_FILTER = "SVCSTG.SWR.4001035"
MISSING_PARAMETER = "SVCSTG.SWR.4001014"
INVALID_NAMESPACE_NAME = "SVCSTG.SWR.4001028"
INVALID_REPOSITORY_NAME = "SVCSTG.SWR.4001029"
INVALID_IS_PUBLIC = "SVCSTG.SWR.4001009"
INVALID_PERMISSION = "SVCSTG.SWR.4001066"
DESCRIPTION_TOO_LONG = "SVCSTG.SWR.4131012"
UNAUTHENTICATED = "SVCSTG.SWR.4010000"
FORBIDDEN = "SVCSTG.SWR.4030170"
NAMESPACE_NOT_FOUND = "SVCSTG.SWR.4040058"
REPOSITORY_NOT_FOUND = "SVCSTG.SWR.4040010"
TAG_NOT_FOUND = "SVCSTG.SWR.4040048"
URL_NOT_FOUND = "SVCSTG.SWR.4040083"
NAMESPACE_NOT_EMPTY = "SVCSTG.SWR.4060074"
NAMESPACE_EXISTS = "SVCSTG.SWR.4090060"
REPOSITORY_EXISTS = "SVCSTG.SWR.4090006"
PERMISSION_EXISTS = "SVCSTG.SWR.4090089"
INTERNAL = "SVCSTG.SWR.5000001"


class SWRError(Exception):
    """A failure the API reports to its caller with an HTTP status and an SWR error code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str, code: str = INVALID_PARAMETERS) -> SWRError:
    return SWRError(400, code, message)


def not_found(message: str, code: str = URL_NOT_FOUND) -> SWRError:
    return SWRError(404, code, message)


def forbidden(message: str = "insufficient permissions") -> SWRError:
    return SWRError(403, FORBIDDEN, message)


def conflict(message: str, code: str) -> SWRError:
    return SWRError(409, code, message)


def error_body(code: str, message: str) -> dict[str, object]:
    return {
        "error_code": code,
        "error_msg": message,
        "details": [{"error_code": code, "error_msg": message}],
        "errors": [{"errorCode": code, "errorMessage": message, "detail": ""}],
    }


def error_response(
    status: int, code: str, message: str, request: Request | None = None
) -> Response:
    # The observability middleware adds X-Request-Id to every response, errors included.
    return JSONResponse(error_body(code, message), status_code=status)


async def swr_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SWRError)
    response = error_response(exc.status, exc.code, exc.message, request)
    response.headers.update(exc.headers)
    return response
