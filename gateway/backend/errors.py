"""Backend failures, translated at one boundary (`BackendClient`) into this tree:

    BackendError                  any failed backend call; `.status`, `.backend_code`, `.message`
    ├── BadInput                  400, 406, 413 (invalid name, filter, page, non-empty delete)
    ├── Unauthenticated           401, or no token to forward
    ├── Forbidden                 403
    ├── NotFound                  404
    ├── Conflict                  409
    └── Unavailable               connection refused, timeout, 5xx, or an unreadable body

`backend_code` keeps the backend's `error_code` (`SVCSTG.SWR.4040058`, ...) when the body has one;
bodies of all three contract shapes (1.7: legacy array, combined object, API gateway) are read.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar


class BackendError(Exception):
    """A backend call that did not succeed; `code` is the GraphQL `extensions.code`."""

    code: ClassVar[str] = "BACKEND_UNAVAILABLE"

    def __init__(self, message: str, status: int = 0, backend_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.backend_code = backend_code


class BadInput(BackendError):
    code = "BAD_USER_INPUT"


class Unauthenticated(BackendError):
    code = "UNAUTHENTICATED"


class Forbidden(BackendError):
    code = "FORBIDDEN"


class NotFound(BackendError):
    code = "NOT_FOUND"


class Conflict(BackendError):
    code = "CONFLICT"


class Unavailable(BackendError):
    code = "BACKEND_UNAVAILABLE"


_BY_STATUS: dict[int, type[BackendError]] = {
    400: BadInput, 406: BadInput, 413: BadInput, 422: BadInput,
    401: Unauthenticated, 403: Forbidden, 404: NotFound, 409: Conflict,
}


def parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """Return `(error_code, message)` from a body of shape A, B or C, or `(None, None)`."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None, None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # shape A: legacy array of {errorCode, errorMessage}
    if not isinstance(data, dict):
        return None, None
    code = data.get("error_code") or data.get("errorCode") or data.get("code")
    message = (
        data.get("error_msg") or data.get("errorMessage") or data.get("errorMsg")
        or data.get("message")
    )
    return (str(code) if code else None), (str(message) if message else None)


def error_for_status(status: int, body: bytes) -> BackendError:
    backend_code, message = parse_error_body(body)
    kind = _BY_STATUS.get(status, Unavailable if status >= 500 else BadInput)
    return kind(message or f"backend answered {status}", status, backend_code)
