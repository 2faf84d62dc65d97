"""Who may do what on the registry: the Docker token flow and its per-request check.

`GET /auth/token` takes `Authorization: Basic <any user name>:<API token>` and answers a JWT
(HS256, signed with `<data dir>/registry-signing-key`) whose `access` claim lists, per requested
scope, the requested actions that `swrlocal.access` allows now. Every registry request then
checks the JWT's signature, expiry and scope, looks its user up again (a removed user stops at
once) and asks `swrlocal.access` again, so a withdrawn permission also stops at once. An API
token sent directly as Basic credentials is accepted too, with no scope limit but the access
check.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from starlette.requests import Request

from swrlocal import access
from swrlocal.clock import rfc3339
from swrlocal.identity import Principal, principal_for_token, principal_for_token_id
from swrlocal.registry import errors
from swrlocal.registry.names import RepoName, parse_name
from swrlocal.state import Backend

SERVICE = "swr-local"
ISSUER = "swr-local"
SIGNING_KEY_FILE = "registry-signing-key"
CATALOG_SCOPE = ("registry", "catalog")
# The lowest permission level each repository action needs (contract: 1 read, 3 edit).
ACTION_LEVELS = {"pull": access.READ, "push": access.EDIT, "delete": access.EDIT, "*": access.EDIT}


@dataclass(frozen=True)
class Caller:
    principal: Principal
    # (type, name) -> actions the bearer token grants; None for an API token sent as Basic.
    grants: dict[tuple[str, str], frozenset[str]] | None

    def token_allows(self, kind: str, name: str, action: str) -> bool:
        if self.grants is None:
            return True
        granted = self.grants.get((kind, name), frozenset())
        return action in granted or "*" in granted


def load_signing_key(data_dir: Path) -> bytes:
    """The HS256 key, generated on first use into a 0600 file and reused after restarts."""
    path = data_dir / SIGNING_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key.encode()


def challenge(backend: Backend, scope: str | None = None, error: str | None = None) -> str:
    realm = f"{backend.settings.base_url}/auth/token"
    value = f'Bearer realm="{realm}",service="{SERVICE}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return value


def unauthorized(backend: Backend, scope: str | None, message: str) -> errors.OCIError:
    error = "invalid_token" if message != "authentication required" else None
    return errors.OCIError(
        401, errors.UNAUTHORIZED, message,
        headers={"WWW-Authenticate": challenge(backend, scope, error)},
    )


def insufficient_scope(backend: Backend, scope: str) -> errors.OCIError:
    """403 DENIED with a challenge naming the missing scope, so token clients can retry."""
    headers = {"WWW-Authenticate": challenge(backend, scope, "insufficient_scope")}
    return errors.denied(headers)


def basic_password(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    # The user name is ignored: the API token alone identifies the user.
    return decoded.partition(":")[2] or None


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def repository_level(backend: Backend, principal: Principal, name: RepoName) -> int:
    """The caller's level on a repository; on a missing one, its level on the organization."""
    db = backend.db
    namespace = db.one("SELECT * FROM namespaces WHERE name = ?", (name.namespace,))
    if namespace is None:
        return access.NONE
    repository = db.one(
        "SELECT * FROM repositories WHERE namespace_id = ? AND name = ?",
        (namespace["id"], name.repository),
    )
    if repository is None:
        return access.namespace_level(db, principal, namespace)
    return access.repository_level(db, principal, namespace, repository, backend.clock.now())


def allowed_actions(backend: Backend, principal: Principal, kind: str, name: str) -> set[str]:
    if (kind, name) == CATALOG_SCOPE:
        return {"*"}
    parsed = parse_name(name) if kind == "repository" else None
    if parsed is None:
        return set()
    level = repository_level(backend, principal, parsed)
    return {action for action, needed in ACTION_LEVELS.items() if level >= needed}


def _decode(backend: Backend, key: bytes, token: str) -> dict[str, Any] | None:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=["HS256"], audience=SERVICE, issuer=ISSUER,
            # Expiry is compared with the backend's clock below, which tests can move.
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "require": ["exp", "sub", "tid", "access"]},
        )
    except jwt.PyJWTError:
        return None
    if backend.clock.now().timestamp() >= float(claims["exp"]):
        return None
    return claims


def authenticate(backend: Backend, key: bytes, request: Request, scope: str | None) -> Caller:
    """The caller of a registry request, or a 401 with the token challenge."""
    token = bearer_token(request)
    if token is not None:
        claims = _decode(backend, key, token)
        # The API token the bearer token was issued for must still be in force: revoking it
        # ends registry access at once, not when the bearer token expires.
        principal = principal_for_token_id(backend.db, int(claims["tid"])) if claims else None
        if claims is None or principal is None or principal.user_id != claims["sub"]:
            raise unauthorized(backend, scope, "invalid or expired token")
        grants: dict[tuple[str, str], frozenset[str]] = {}
        for entry in claims["access"]:
            grants[(str(entry["type"]), str(entry["name"]))] = frozenset(entry["actions"])
        return Caller(principal, grants)

    password = basic_password(request)
    if password is None:
        raise unauthorized(backend, scope, "authentication required")
    principal = principal_for_token(backend.db, password)
    if principal is None:
        raise unauthorized(backend, scope, "invalid credentials")
    return Caller(principal, None)


def may(backend: Backend, caller: Caller, name: RepoName, action: str) -> bool:
    if not caller.token_allows("repository", name.full, action):
        return False
    return action in allowed_actions(backend, caller.principal, "repository", name.full)


def parse_scopes(values: list[str]) -> list[tuple[str, str, list[str]]]:
    """`type:name:action,action` scopes; several may share one parameter, space separated."""
    scopes = []
    for value in values:
        for item in value.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                scopes.append((kind, name, [a for a in actions.split(",") if a]))
    return scopes


def issue_token(
    backend: Backend,
    key: bytes,
    principal: Principal,
    token_id: int,
    scopes: list[tuple[str, str, list[str]]],
) -> dict[str, Any]:
    now: datetime = backend.clock.now()
    ttl = backend.settings.registry_token_ttl
    granted: list[dict[str, Any]] = []
    for kind, name, requested in scopes:
        allowed = allowed_actions(backend, principal, kind, name)
        actions = [a for a in requested if a in allowed]
        if actions:
            granted.append({"type": kind, "name": name, "actions": actions})
    claims = {
        "iss": ISSUER,
        "aud": SERVICE,
        "sub": principal.user_id,
        "tid": token_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "jti": secrets.token_hex(8),
        "access": granted,
    }
    token = jwt.encode(claims, key, algorithm="HS256")
    return {"token": token, "access_token": token, "expires_in": ttl, "issued_at": rfc3339(now)}
