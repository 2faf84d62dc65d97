"""Finding the organization or repository a request names, with the caller's permission on it.

Whatever the caller may not read is answered exactly as if it did not exist (404), so the API
never tells an outsider which names are taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from swrlocal import access, errors
from swrlocal.authn import require_principal
from swrlocal.clock import rfc3339
from swrlocal.db import Database, Row
from swrlocal.identity import Principal
from swrlocal.manage import names
from swrlocal.state import Backend

# The caller's level on organization `n`, as `access.namespace_level` computes it, for queries
# that list many organizations at once.
NAMESPACE_LEVEL_SQL = (
    "(CASE WHEN n.domain_id = :caller_domain AND :caller_admin THEN 7"
    " ELSE COALESCE((SELECT a.auth FROM namespace_access a"
    " WHERE a.namespace_id = n.id AND a.user_id = :caller_user), 0) END)"
)


@dataclass(frozen=True)
class Call:
    backend: Backend
    principal: Principal

    @property
    def db(self) -> Database:
        return self.backend.db

    def now(self) -> str:
        return rfc3339(self.backend.clock.now())

    def caller_params(self) -> dict[str, Any]:
        return {
            "caller_domain": self.principal.domain_id,
            "caller_admin": int(self.principal.is_admin),
            "caller_user": self.principal.user_id,
        }


@dataclass(frozen=True)
class RepositoryRef:
    namespace: Row
    repository: Row
    level: int


def start(request: Request) -> Call:
    """Authenticate the caller; every Manage API handler except `GET /` begins here."""
    backend: Backend = request.app.state.backend
    return Call(backend, require_principal(request))


def namespace_not_found(name: str) -> errors.SWRError:
    return errors.not_found(f"organization {name!r} not found", errors.NAMESPACE_NOT_FOUND)


def find_namespace(call: Call, name: str, min_level: int) -> tuple[Row, int]:
    names.check_namespace(name)
    row = call.db.one("SELECT * FROM namespaces WHERE name = ?", (name,))
    level = access.NONE if row is None else access.namespace_level(call.db, call.principal, row)
    if row is None or level < access.READ:
        raise namespace_not_found(name)
    if level < min_level:
        raise errors.forbidden(f"no permission for this operation on organization {name!r}")
    return row, level


def find_repository(call: Call, namespace: str, raw_name: str, min_level: int) -> RepositoryRef:
    """The image repository `raw_name` (URL form, `$` for `/`) of `namespace`."""
    names.check_namespace(namespace)
    name = names.check_repository(names.decode_repository(raw_name))
    ns = call.db.one("SELECT * FROM namespaces WHERE name = ?", (namespace,))
    if ns is None:
        raise namespace_not_found(namespace)
    repo = call.db.one(
        "SELECT * FROM repositories WHERE namespace_id = ? AND name = ? AND kind = 'image'",
        (ns["id"], name),
    )
    now = call.backend.clock.now()
    level = access.NONE
    if repo is not None:
        level = access.repository_level(call.db, call.principal, ns, repo, now)
    if level < access.READ:
        # Without a right on the organization, a missing repository looks like a missing
        # organization, so probing names tells nothing.
        if access.namespace_level(call.db, call.principal, ns) < access.READ:
            raise namespace_not_found(namespace)
        raise errors.not_found(f"repository {name!r} not found", errors.REPOSITORY_NOT_FOUND)
    if level < min_level:
        raise errors.forbidden(f"no permission for this operation on repository {name!r}")
    return RepositoryRef(ns, repo, level)  # type: ignore[arg-type]


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; anything else is a 400."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_request("the body is not valid JSON", errors.INVALID_BODY) from None
    if not isinstance(body, dict):
        raise errors.bad_request("the body must be a JSON object", errors.INVALID_BODY)
    return body
