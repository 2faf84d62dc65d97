"""Sharing repositories with other accounts: contract sections 5 (access domains) and 6.

A share gives another account read access (pull, list tags) to one repository until its
deadline; `access.repository_level` honours it and `access.share_is_valid` decides expiry.
Creating, changing and deleting shares needs manage (7) on the organization; listing them needs
a permission on the organization itself, so an account a repository is shared with never learns
who else it is shared with.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from swrlocal import access, errors
from swrlocal.clock import parse_rfc3339, rfc3339
from swrlocal.db import Row
from swrlocal.manage import names
from swrlocal.manage.listing import Criteria, read_bool, read_criteria, read_order, read_page
from swrlocal.manage.lookup import (
    NAMESPACE_LEVEL_SQL,
    Call,
    RepositoryRef,
    find_repository,
    json_object,
    start,
)
from swrlocal.manage.repositories import checked_description, list_item

SHARES = "/v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains"
SHARE = SHARES + "/{access_domain}"
PERMITS = ("read",)
FOREVER = "forever"
# No code is documented for these two cases (contract 9); a share is a permission granted to
# another account, so the permission codes are the closest.
SHARE_EXISTS = errors.PERMISSION_EXISTS
SHARE_NOT_FOUND = errors.URL_NOT_FOUND
LIST_KEYS = ("center", "namespace", "name", "domain_name", "status", "limit", "offset",
             "order_column", "order_type")
CENTERS = ("self", "thirdparty")
ORDER_COLUMNS = {
    "updated_at": "r.updated",
    "updated_time": "r.updated",
    "name": "r.name",
    "tag_count": "tag_count",
    "namespace": "n.name",
    "domain_name": "d.name",
}
DEFAULT_ORDER = ("r.updated", "DESC")


# ---------------------------------------------------------------------------- body fields


def _required_string(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        raise errors.bad_request(f"{key} is required", errors.MISSING_PARAMETER)
    if not isinstance(value, str):
        raise errors.bad_request(f"{key} must be a string", errors.INVALID_BODY)
    return value


def _permit(body: dict[str, Any]) -> str:
    permit = _required_string(body, "permit")
    if permit not in PERMITS:
        raise errors.bad_request(f"permit must be read, got {permit!r}", errors.INVALID_PERMISSION)
    return permit


def _deadline(call: Call, body: dict[str, Any]) -> str:
    """`forever`, or an RFC 3339 time normalized to UTC; a share born expired is refused."""
    raw = _required_string(body, "deadline")
    if raw == FOREVER:
        return FOREVER
    try:
        deadline = rfc3339(parse_rfc3339(raw))
    except ValueError:
        raise errors.bad_request(
            f"deadline must be an RFC 3339 time or forever, got {raw!r}"
        ) from None
    if not access.share_is_valid(deadline, call.backend.clock.now()):
        raise errors.bad_request(f"deadline {raw!r} is already past")
    return deadline


def _target_account(call: Call, ref: RepositoryRef, name: str) -> str:
    row = call.db.one("SELECT id FROM domains WHERE name = ?", (name,))
    if row is None:
        raise errors.bad_request(f"account {name!r} does not exist")
    if row["id"] == ref.namespace["domain_id"]:
        raise errors.bad_request("a repository cannot be shared with its own account")
    return name


# ---------------------------------------------------------------------------- shares


def share_json(ref: RepositoryRef, share: Row, call: Call) -> dict[str, Any]:
    return {
        "namespace": ref.namespace["name"],
        "repository": ref.repository["name"],
        "access_domain": share["access_domain"],
        "permit": share["permit"],
        "deadline": share["deadline"],
        "description": share["description"],
        "creator_id": share["creator_id"],
        "creator_name": share["creator_name"],
        "created": share["created"],
        "updated": share["updated"],
        "status": access.share_is_valid(share["deadline"], call.backend.clock.now()),
    }


def _find(call: Call, request: Request, min_level: int) -> RepositoryRef:
    """The repository; share records belong to its organization's members only."""
    params = request.path_params
    ref = find_repository(call, params["namespace"], params["repository"], min_level)
    if access.namespace_level(call.db, call.principal, ref.namespace) < access.READ:
        raise errors.forbidden("only members of the organization can see its shares")
    return ref


def _find_share(call: Call, ref: RepositoryRef, domain: str) -> Row | None:
    return call.db.one(
        "SELECT * FROM shares WHERE repository_id = ? AND access_domain = ?",
        (ref.repository["id"], domain),
    )


async def create_share(request: Request) -> Response:
    call = start(request)
    body = await json_object(request)
    with call.db.transaction() as conn:
        ref = _find(call, request, access.MANAGE)
        domain = _target_account(call, ref, _required_string(body, "access_domain"))
        permit, deadline = _permit(body), _deadline(call, body)
        values = (permit, deadline, checked_description(body.get("description", "")))
        if _find_share(call, ref, domain) is not None:
            raise errors.conflict(f"the repository is already shared with {domain!r}",
                                  SHARE_EXISTS)
        now = call.now()
        conn.execute(
            "INSERT INTO shares (repository_id, access_domain, permit, deadline, description,"
            " creator_id, creator_name, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ref.repository["id"], domain, *values, call.principal.user_id,
             call.principal.user_name, now, now),
        )
    return Response(status_code=201)


async def update_share(request: Request) -> Response:
    call = start(request)
    body = await json_object(request)
    domain = request.path_params["access_domain"]
    with call.db.transaction() as conn:
        ref = _find(call, request, access.MANAGE)
        permit, deadline = _permit(body), _deadline(call, body)
        values = (permit, deadline, checked_description(body.get("description", "")))
        if _find_share(call, ref, domain) is None:
            raise errors.not_found(f"the repository is not shared with {domain!r}",
                                   SHARE_NOT_FOUND)
        conn.execute(
            "UPDATE shares SET permit = ?, deadline = ?, description = ?, updated = ?"
            " WHERE repository_id = ? AND access_domain = ?",
            (*values, call.now(), ref.repository["id"], domain),
        )
    return Response(status_code=201)


async def delete_share(request: Request) -> Response:
    call = start(request)
    domain = request.path_params["access_domain"]
    with call.db.transaction() as conn:
        ref = _find(call, request, access.MANAGE)
        cursor = conn.execute(
            "DELETE FROM shares WHERE repository_id = ? AND access_domain = ?",
            (ref.repository["id"], domain),
        )
        if cursor.rowcount == 0:
            raise errors.not_found(f"the repository is not shared with {domain!r}",
                                   SHARE_NOT_FOUND)
    return Response(status_code=204)


async def show_share(request: Request) -> Response:
    call = start(request)
    ref = _find(call, request, access.READ)
    share = _find_share(call, ref, request.path_params["access_domain"])
    if share is None:
        return JSONResponse({"exist": False})
    return JSONResponse({"exist": True, **share_json(ref, share, call)})


async def list_shares(request: Request) -> Response:
    call = start(request)
    ref = _find(call, request, access.READ)
    rows = call.db.all(
        "SELECT * FROM shares WHERE repository_id = ? ORDER BY access_domain LIMIT 100",
        (ref.repository["id"],),
    )
    return JSONResponse([share_json(ref, row, call) for row in rows])


# ---------------------------------------------------------------------------- section 6


def _center(request: Request, criteria: Criteria) -> str:
    # `center` may sit inside `filter` or beside it (contract 6).
    center = criteria.get("center") or request.query_params.get("center")
    if not center:
        raise errors.bad_request("center is required (self or thirdparty)",
                                 errors.MISSING_PARAMETER)
    if center not in CENTERS:
        raise errors.bad_request(f"center must be self or thirdparty, got {center!r}")
    return center


def _filters(criteria: Criteria, params: dict[str, Any]) -> list[str]:
    where = []
    if (namespace := criteria.get("namespace")) is not None:
        where.append("n.name = :namespace")
        params["namespace"] = names.check_namespace(namespace)
    if (raw_name := criteria.get("name")) is not None:
        where.append("instr(r.name, :name) > 0")
        params["name"] = names.decode_repository(raw_name)
    if (domain_name := criteria.get("domain_name")) is not None:
        where.append("d.name = :domain_name")
        params["domain_name"] = domain_name
    return where


def _center_condition(center: str, status: bool | None) -> tuple[str, str]:
    """The FROM addition and WHERE condition selecting one center's repositories.

    Received shares are listed while valid unless `status` asks otherwise (contract 8); for
    `self`, `status` selects repositories with at least one valid (or expired) share.
    """
    valid = "swr_share_valid(s.deadline, :now)"
    if center == "thirdparty":
        condition = f"s.access_domain = :caller_domain_name AND {valid} = :status"
        return " JOIN shares s ON s.repository_id = r.id", condition
    inner = "" if status is None else f" AND {valid} = :status"
    condition = (
        f"n.domain_id = :caller_domain AND {NAMESPACE_LEVEL_SQL} >= 1"
        f" AND EXISTS (SELECT 1 FROM shares s WHERE s.repository_id = r.id{inner})"
    )
    return "", condition


async def list_shared_repositories(request: Request) -> Response:
    call = start(request)
    criteria = read_criteria(request, LIST_KEYS)
    center = _center(request, criteria)
    raw_status = criteria.get("status")
    status = None if raw_status is None else read_bool(raw_status, "status")
    if center == "thirdparty" and status is None:
        status = True
    params: dict[str, Any] = {
        **call.caller_params(), "caller_domain_name": call.principal.domain_name,
        "now": call.now(), "status": int(bool(status)),
    }
    join, condition = _center_condition(center, status)
    where = " AND ".join(["r.kind = 'image'", condition, *_filters(criteria, params)])
    column, direction = read_order(criteria, ORDER_COLUMNS) or DEFAULT_ORDER
    page = read_page(criteria, all_by_default=True)
    limit_sql, limit_params = page.sql()

    access.register_sql_functions(call.db)
    rows = call.db.all(
        "SELECT r.id, r.name, r.category, r.description, r.is_public, r.num_download,"
        " r.created, r.updated, n.name AS namespace, d.name AS domain_name,"
        + (" swr_share_valid(s.deadline, :now) AS share_valid," if join else " 0 AS share_valid,")
        + " COUNT(t.id) AS tag_count, COALESCE(SUM(m.image_size), 0) AS size,"
        " group_concat(t.name, ',') AS tag_names, COUNT(*) OVER () AS total"
        " FROM repositories r JOIN namespaces n ON n.id = r.namespace_id"
        f" JOIN domains d ON d.id = n.domain_id{join}"
        " LEFT JOIN tags t ON t.repository_id = r.id"
        " LEFT JOIN manifests m ON m.repository_id = t.repository_id"
        " AND m.digest = t.manifest_digest"
        f" WHERE {where} GROUP BY r.id"
        f" ORDER BY {column} {direction}, r.id {direction}{limit_sql}",
        {**params, **limit_params},
    )
    total = rows[0]["total"] if rows else _count(call, join, where, params)
    body = [_shared_item(row, call, total) for row in rows]
    return JSONResponse(body, headers=page.headers(len(body), total))


def _shared_item(row: Row, call: Call, total: int) -> dict[str, Any]:
    item = list_item(row, call.backend.settings, total)
    item["status"] = bool(row["share_valid"])
    if row["share_valid"] == 0 and item["domain_name"] != call.principal.domain_name:
        # An expired share grants nothing, not even the names of the tags.
        item.update(tags=[], num_images=0, size=0)
    return item


def _count(call: Call, join: str, where: str, params: dict[str, Any]) -> int:
    return int(call.db.scalar(
        "SELECT COUNT(*) FROM repositories r JOIN namespaces n ON n.id = r.namespace_id"
        f" JOIN domains d ON d.id = n.domain_id{join} WHERE {where}",
        params,
    ))


routes: list[BaseRoute] = [
    Route(SHARES, list_shares, methods=["GET"]),
    Route(SHARES, create_share, methods=["POST"]),
    Route(SHARE, show_share, methods=["GET"]),
    Route(SHARE, update_share, methods=["PATCH"]),
    Route(SHARE, delete_share, methods=["DELETE"]),
    Route("/v2/manage/shared-repositories", list_shared_repositories, methods=["GET"]),
]
