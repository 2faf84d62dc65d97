"""Who is calling the Manage API: an API token in `X-Auth-Token` or `Authorization: Bearer`."""

from __future__ import annotations

from starlette.requests import Request

from swrlocal import errors
from swrlocal.identity import Principal, principal_for_token


def request_token(request: Request) -> str | None:
    token = request.headers.get("x-auth-token", "").strip()
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def require_principal(request: Request) -> Principal:
    token = request_token(request)
    if token is None:
        raise errors.SWRError(401, errors.UNAUTHENTICATED, "no X-Auth-Token in the request")
    principal = principal_for_token(request.app.state.backend.db, token)
    if principal is None:
        raise errors.SWRError(401, errors.UNAUTHENTICATED, "the token is invalid or was revoked")
    return principal
