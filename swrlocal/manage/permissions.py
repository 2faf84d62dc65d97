"""Organization permissions: `/v2/manage/namespaces/{namespace}/access` (SDK `*NamespaceAuth`).

Bodies follow the official SDK: POST and PATCH take a JSON array of `UserAuth`
`{"user_id", "user_name", "auth"}`, DELETE takes a JSON array of user ids, and GET answers
`{"id", "name", "creator_name", "self_auth": UserAuth, "others_auths": [UserAuth]}`.
Only users of the organization's own account can be granted a permission; other accounts get
access to single repositories through shares. Every request is checked whole before anything
is written, so a rejected request changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from swrlocal import access, errors
from swrlocal.db import Row
from swrlocal.manage.lookup import Call, find_namespace, start

PATH = "/v2/manage/namespaces/{namespace}/access"
LEVELS = (access.READ, access.EDIT, access.MANAGE)
MAX_ENTRIES = 100
# No code is documented for changing a permission nobody holds (contract 9).
PERMISSION_NOT_FOUND = errors.URL_NOT_FOUND


@dataclass(frozen=True)
class Grant:
    user_id: str
    user_name: str
    auth: int


def user_auth(user_id: str, user_name: str, auth: int) -> dict[str, Any]:
    return {"user_id": user_id, "user_name": user_name, "auth": auth}


async def _json_array(request: Request) -> list[Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_request("the body is not valid JSON", errors.INVALID_BODY) from None
    if not isinstance(body, list) or not body:
        raise errors.bad_request("the body must be a non-empty JSON array", errors.INVALID_BODY)
    if len(body) > MAX_ENTRIES:
        raise errors.bad_request(f"at most {MAX_ENTRIES} entries per call", errors.INVALID_BODY)
    return body


def _auth_value(entry: dict[str, Any]) -> int:
    if "auth" not in entry:
        raise errors.bad_request("auth is required", errors.MISSING_PARAMETER)
    value = entry["auth"]
    if isinstance(value, bool) or not isinstance(value, int) or value not in LEVELS:
        raise errors.bad_request(
            f"auth must be 7 (manage), 3 (edit) or 1 (read), got {value!r}",
            errors.INVALID_PERMISSION,
        )
    return value


def _account_user(call: Call, namespace: Row, entry: dict[str, Any]) -> Row:
    """The user an entry names, by `user_id` or else `user_name`, in the organization's account."""
    user_id, user_name = entry.get("user_id"), entry.get("user_name")
    if user_id is None and user_name is None:
        raise errors.bad_request("user_id is required", errors.MISSING_PARAMETER)
    for key, value in (("user_id", user_id), ("user_name", user_name)):
        if value is not None and not isinstance(value, str):
            raise errors.bad_request(f"{key} must be a string", errors.INVALID_BODY)
    column, value = ("id", user_id) if user_id is not None else ("name", user_name)
    row = call.db.one(
        f"SELECT id, name FROM users WHERE domain_id = ? AND {column} = ?",
        (namespace["domain_id"], value),
    )
    if row is None:
        raise errors.bad_request(f"no user {value!r} in the organization's account")
    if user_name is not None and row["name"] != user_name:
        raise errors.bad_request(f"user_id {user_id!r} does not belong to user {user_name!r}")
    return row


def _grants(call: Call, namespace: Row, body: list[Any]) -> list[Grant]:
    grants: list[Grant] = []
    for entry in body:
        if not isinstance(entry, dict):
            raise errors.bad_request("each entry must be a UserAuth object", errors.INVALID_BODY)
        auth = _auth_value(entry)
        user = _account_user(call, namespace, entry)
        grants.append(Grant(user["id"], user["name"], auth))
    if len({grant.user_id for grant in grants}) != len(grants):
        raise errors.bad_request("a user appears twice in the body")
    return grants


def _held(call: Call, namespace: Row, user_ids: list[str]) -> set[str]:
    marks = ",".join("?" for _ in user_ids)
    rows = call.db.all(
        f"SELECT user_id FROM namespace_access WHERE namespace_id = ? AND user_id IN ({marks})",
        (namespace["id"], *user_ids),
    )
    return {row["user_id"] for row in rows}


async def show_permissions(request: Request) -> Response:
    call = start(request)
    namespace, level = find_namespace(call, request.path_params["namespace"], access.READ)
    rows = call.db.all(
        "SELECT a.user_id, u.name, a.auth FROM namespace_access a"
        " JOIN users u ON u.id = a.user_id"
        " WHERE a.namespace_id = ? AND a.user_id != ? ORDER BY u.name",
        (namespace["id"], call.principal.user_id),
    )
    me = call.principal
    return JSONResponse({
        "id": namespace["id"],
        "name": namespace["name"],
        "creator_name": namespace["creator_name"],
        "self_auth": user_auth(me.user_id, me.user_name, level),
        "others_auths": [user_auth(row["user_id"], row["name"], row["auth"]) for row in rows],
    })


async def create_permissions(request: Request) -> Response:
    call = start(request)
    body = await _json_array(request)
    with call.db.transaction() as conn:
        namespace, _level = find_namespace(call, request.path_params["namespace"], access.MANAGE)
        grants = _grants(call, namespace, body)
        if held := _held(call, namespace, [grant.user_id for grant in grants]):
            names = sorted(grant.user_name for grant in grants if grant.user_id in held)
            raise errors.conflict(
                f"permission already exists for {', '.join(names)}", errors.PERMISSION_EXISTS
            )
        now = call.now()
        conn.executemany(
            "INSERT INTO namespace_access (namespace_id, user_id, auth, created, updated)"
            " VALUES (?, ?, ?, ?, ?)",
            [(namespace["id"], grant.user_id, grant.auth, now, now) for grant in grants],
        )
    return Response(status_code=201)


async def update_permissions(request: Request) -> Response:
    call = start(request)
    body = await _json_array(request)
    with call.db.transaction() as conn:
        namespace, _level = find_namespace(call, request.path_params["namespace"], access.MANAGE)
        grants = _grants(call, namespace, body)
        _require_held(call, namespace, [grant.user_id for grant in grants])
        conn.executemany(
            "UPDATE namespace_access SET auth = ?, updated = ?"
            " WHERE namespace_id = ? AND user_id = ?",
            [(grant.auth, call.now(), namespace["id"], grant.user_id) for grant in grants],
        )
    return Response(status_code=201)


async def delete_permissions(request: Request) -> Response:
    call = start(request)
    body = await _json_array(request)
    if not all(isinstance(user_id, str) for user_id in body):
        raise errors.bad_request("the body must be an array of user ids", errors.INVALID_BODY)
    user_ids = list(dict.fromkeys(body))
    with call.db.transaction() as conn:
        namespace, _level = find_namespace(call, request.path_params["namespace"], access.MANAGE)
        _require_held(call, namespace, user_ids)
        conn.executemany(
            "DELETE FROM namespace_access WHERE namespace_id = ? AND user_id = ?",
            [(namespace["id"], user_id) for user_id in user_ids],
        )
    return Response(status_code=204)


def _require_held(call: Call, namespace: Row, user_ids: list[str]) -> None:
    missing = sorted(set(user_ids) - _held(call, namespace, user_ids))
    if missing:
        raise errors.not_found(
            f"no permission on this organization for user {', '.join(missing)}",
            PERMISSION_NOT_FOUND,
        )


routes: list[BaseRoute] = [
    Route(PATH, show_permissions, methods=["GET"]),
    Route(PATH, create_permissions, methods=["POST"]),
    Route(PATH, update_permissions, methods=["PATCH"]),
    Route(PATH, delete_permissions, methods=["DELETE"]),
]
