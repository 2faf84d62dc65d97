"""Organizations (namespaces): contract section 2."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from swrlocal import access, errors
from swrlocal.db import Row
from swrlocal.fastjson import FastJSONResponse
from swrlocal.manage import names
from swrlocal.manage.listing import read_criteria
from swrlocal.manage.lookup import NAMESPACE_LEVEL_SQL, Call, find_namespace, json_object, start

LIST_KEYS = ("namespace", "mode")
MODES = ("visible",)


def namespace_json(row: Row, level: int) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "creator_name": row["creator_name"],
            "auth": level}


async def create_namespace(request: Request) -> Response:
    call = start(request)
    body = await json_object(request)
    name = body.get("namespace")
    if name is None:
        raise errors.bad_request("namespace is required", errors.MISSING_PARAMETER)
    if not isinstance(name, str) or not names.is_namespace(name):
        raise errors.bad_request(f"invalid organization name {name!r}",
                                 errors.INVALID_NAMESPACE_NAME)

    now = call.now()
    with call.db.transaction() as conn:
        if conn.execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone():
            raise errors.conflict(f"organization {name!r} already exists",
                                  errors.NAMESPACE_EXISTS)
        cursor = conn.execute(
            "INSERT INTO namespaces (name, domain_id, creator_id, creator_name, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, call.principal.domain_id, call.principal.user_id,
             call.principal.user_name, now),
        )
        conn.execute(
            "INSERT INTO namespace_access (namespace_id, user_id, auth, created, updated)"
            " VALUES (?, ?, ?, ?, ?)",
            (cursor.lastrowid, call.principal.user_id, access.MANAGE, now, now),
        )
    return Response(status_code=201)


def _shared_namespace_ids(call: Call) -> set[int]:
    """Organizations holding a repository shared with the caller's account (share still valid)."""
    rows = call.db.all(
        "SELECT r.namespace_id, s.deadline FROM shares s"
        " JOIN repositories r ON r.id = s.repository_id WHERE s.access_domain = ?",
        (call.principal.domain_name,),
    )
    now = call.backend.clock.now()
    return {row["namespace_id"] for row in rows if access.share_is_valid(row["deadline"], now)}


async def list_namespaces(request: Request) -> Response:
    call = start(request)
    criteria = read_criteria(request, LIST_KEYS)
    mode = criteria.get("mode")
    if mode is not None and mode not in MODES:
        raise errors.bad_request(f"mode must be visible, got {mode!r}", errors.INVALID_FILTER)

    where, params = [], call.caller_params()
    if (name := criteria.get("namespace")) is not None:
        where.append("n.name = :name")
        params["name"] = names.check_namespace(name)
    visible = f"{NAMESPACE_LEVEL_SQL} >= 1"
    if mode == "visible":
        shared = sorted(_shared_namespace_ids(call))
        visible = f"({visible} OR n.id IN ({','.join(str(i) for i in shared) or 'NULL'}))"
    where.append(visible)
    rows = call.db.all(
        f"SELECT n.id, n.name, n.creator_name, {NAMESPACE_LEVEL_SQL} AS auth"
        f" FROM namespaces n WHERE {' AND '.join(where)} ORDER BY n.name",
        params,
    )
    return FastJSONResponse({"namespaces": [namespace_json(row, row["auth"]) for row in rows]})


async def show_namespace(request: Request) -> Response:
    call = start(request)
    row, level = find_namespace(call, request.path_params["namespace"], access.READ)
    return JSONResponse(namespace_json(row, level))


async def delete_namespace(request: Request) -> Response:
    call = start(request)
    with call.db.transaction() as conn:
        row, _level = find_namespace(call, request.path_params["namespace"], access.MANAGE)
        held = conn.execute(
            "SELECT COUNT(*) FROM repositories WHERE namespace_id = ?", (row["id"],)
        ).fetchone()[0]
        if held:
            raise errors.SWRError(
                406, errors.NAMESPACE_NOT_EMPTY,
                f"organization {row['name']!r} still holds {held} repositories",
            )
        conn.execute("DELETE FROM namespaces WHERE id = ?", (row["id"],))
    return Response(status_code=204)
