"""Who is calling the Manage API.

Two ways in (contract 1.2): an API token in `X-Auth-Token` or `Authorization: Bearer`, or an
AK/SK signature (`Authorization: SDK-HMAC-SHA256 ...` with `X-Sdk-Date`), as the official SDKs
send it. A request that carries a signature is judged by the signature alone.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from swrlocal import errors, signing
from swrlocal.identity import Principal, find_access_key, principal_for_token
from swrlocal.state import Backend

logger = logging.getLogger("swrlocal.authn")


def request_token(request: Request) -> str | None:
    token = request.headers.get("x-auth-token", "").strip()
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def require_principal(request: Request) -> Principal:
    if signing.is_signed(request.headers.get("authorization", "")):
        return signed_principal(request)
    token = request_token(request)
    if token is None:
        raise errors.SWRError(401, errors.UNAUTHENTICATED, "no X-Auth-Token in the request")
    principal = principal_for_token(request.app.state.backend.db, token)
    if principal is None:
        raise errors.SWRError(401, errors.UNAUTHENTICATED, "the token is invalid or was revoked")
    return principal


def signed_request(request: Request) -> signing.SignedRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in request.scope.get("headers") or []:
        # The SDK signs header values as UTF-8 text; keep the first of repeated headers.
        name = raw_name.decode("latin-1").lower()
        headers.setdefault(name, raw_value.decode("utf-8", errors="replace"))
    return signing.SignedRequest(
        method=request.method,
        path=request.scope["path"],
        query_string=request.scope.get("query_string", b"").decode("utf-8", errors="replace"),
        headers=headers,
        body_sha256=request.scope.get(signing.BODY_HASH_SCOPE_KEY),
    )


def signed_principal(request: Request) -> Principal:
    backend: Backend = request.app.state.backend
    header = signing.parse_authorization(request.headers.get("authorization", ""))
    if header is None:
        raise _refused("the SDK-HMAC-SHA256 Authorization header is malformed")
    key = find_access_key(backend.db, header.access_key)
    if key is None:
        raise _refused("the access key is unknown or was revoked")
    try:
        secret = signing.SecretBox.for_data_dir(backend.settings.data_dir).decrypt(key.secret_enc)
        signing.verify(signed_request(request), header, secret, backend.clock.now())
    except signing.SigningError as exc:
        raise _refused(str(exc)) from None
    return key.principal


def _refused(reason: str) -> errors.SWRError:
    # Only the reason is logged: never the Authorization value or the secret.
    logger.info("signed request refused: %s", reason)
    return errors.SWRError(401, errors.UNAUTHENTICATED, f"signature refused: {reason}")
