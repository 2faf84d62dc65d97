"""Image repositories: contract section 3.

Only repositories of kind `image` belong to this API; software packages share the table but are
served elsewhere. Sizes and tag counts are aggregated from the registry's `tags` and `manifests`
in the same query that lists the repositories, so a list costs one SQL statement.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from swrlocal import access, errors
from swrlocal.db import Row
from swrlocal.fastjson import FastJSONResponse
from swrlocal.manage import names
from swrlocal.manage.listing import Criteria, read_bool, read_criteria, read_order, read_page
from swrlocal.manage.lookup import (
    NAMESPACE_LEVEL_SQL,
    Call,
    RepositoryRef,
    find_namespace,
    find_repository,
    json_object,
    start,
)
from swrlocal.settings import BackendSettings

# The contract leaves the limit open (413 SVCSTG.SWR.4131012 exists); ours, documented.
MAX_DESCRIPTION = 10_000
UPDATABLE = ("is_public", "category", "description")
LIST_KEYS = ("namespace", "name", "category", "is_public", "limit", "offset",
             "order_column", "order_type")
ORDER_COLUMNS = {
    "updated_time": "r.updated",
    "updated_at": "r.updated",
    "name": "r.name",
    "tag_count": "tag_count",
    "namespace": "n.name",
    "is_public": "r.is_public",
}
DEFAULT_ORDER = ("r.updated", "DESC")
_NAMESPACE_PART = re.compile(r"[a-z0-9._-]{1,64}")
_REPOSITORY_PART = re.compile(r"[a-z0-9._/-]{1,128}")


def pull_path(host: str, namespace: str, repository: str) -> str:
    return f"{host}/{namespace}/{repository}"


# ---------------------------------------------------------------------------- body fields


def _is_public(body: dict[str, Any]) -> bool:
    value = body["is_public"]
    if not isinstance(value, bool):
        raise errors.bad_request("is_public must be true or false", errors.INVALID_IS_PUBLIC)
    return value


def checked_description(value: object) -> str:
    """A repository's or a share's description, as the caller sent it."""
    if not isinstance(value, str):
        raise errors.bad_request("description must be a string", errors.INVALID_BODY)
    if len(value) > MAX_DESCRIPTION:
        raise errors.SWRError(
            413, errors.DESCRIPTION_TOO_LONG,
            f"description is longer than {MAX_DESCRIPTION} characters",
        )
    return value


def _attributes(body: dict[str, Any]) -> dict[str, Any]:
    """The updatable attributes present in `body`, validated and in column form."""
    values: dict[str, Any] = {}
    if "is_public" in body:
        values["is_public"] = int(_is_public(body))
    if "category" in body:
        values["category"] = names.check_category(body["category"], errors.INVALID_BODY)
    if "description" in body:
        values["description"] = checked_description(body["description"])
    return values


def _new_repository_name(body: dict[str, Any]) -> str:
    value = body.get("repository")
    if value is None:
        raise errors.bad_request("repository is required", errors.MISSING_PARAMETER)
    if not isinstance(value, str):
        raise errors.bad_request("repository must be a string", errors.INVALID_REPOSITORY_NAME)
    # `$` is the URL spelling of `/`; tolerated in the body too (contract 1.4).
    return names.check_repository(value.replace("$", "/"))


# ---------------------------------------------------------------------------- writes


async def create_repository(request: Request) -> Response:
    call = start(request)
    body = await json_object(request)
    name = _new_repository_name(body)
    if "is_public" not in body:
        raise errors.bad_request("is_public is required", errors.MISSING_PARAMETER)
    values = {"category": names.DEFAULT_CATEGORY, "description": "", **_attributes(body)}

    now = call.now()
    with call.db.transaction() as conn:
        ns, _level = find_namespace(call, request.path_params["namespace"], access.EDIT)
        taken = conn.execute(
            "SELECT 1 FROM repositories WHERE namespace_id = ? AND name = ?", (ns["id"], name)
        ).fetchone()
        if taken:
            raise errors.conflict(f"repository {name!r} already exists", errors.REPOSITORY_EXISTS)
        conn.execute(
            "INSERT INTO repositories (namespace_id, name, kind, category, description,"
            " is_public, creator_id, creator_name, created, updated)"
            " VALUES (?, ?, 'image', ?, ?, ?, ?, ?, ?, ?)",
            (ns["id"], name, values["category"], values["description"], values["is_public"],
             call.principal.user_id, call.principal.user_name, now, now),
        )
    return Response(status_code=200)


async def update_repository(request: Request) -> Response:
    call = start(request)
    body = await json_object(request)
    unknown = sorted(set(body) - set(UPDATABLE))
    if unknown:
        raise errors.bad_request(
            f"only is_public, category and description can change, not {', '.join(unknown)}",
            errors.INVALID_BODY,
        )
    values = _attributes(body)
    if not values:
        raise errors.bad_request(
            "give at least one of is_public, category, description", errors.MISSING_PARAMETER
        )

    with call.db.transaction() as conn:
        ref = _find(call, request, access.EDIT)
        assignments = ", ".join(f"{column} = :{column}" for column in values)
        conn.execute(
            f"UPDATE repositories SET {assignments}, updated = :updated WHERE id = :id",
            {**values, "updated": call.now(), "id": ref.repository["id"]},
        )
    return Response(status_code=201)


async def delete_repository(request: Request) -> Response:
    call = start(request)
    with call.db.transaction() as conn:
        ref = _find(call, request, access.EDIT)
        # Tags, manifests, uploads and shares go with it (ON DELETE CASCADE).
        conn.execute("DELETE FROM repositories WHERE id = ?", (ref.repository["id"],))
    return Response(status_code=204)


def _find(call: Call, request: Request, min_level: int) -> RepositoryRef:
    return find_repository(
        call, request.path_params["namespace"], request.path_params["repository"], min_level
    )


# ---------------------------------------------------------------------------- reads


async def show_repository(request: Request) -> Response:
    call = start(request)
    ref = _find(call, request, access.READ)
    repo, ns = ref.repository, ref.namespace
    stats = call.db.one(
        "SELECT COUNT(*) AS num_images, COALESCE(SUM(m.image_size), 0) AS size FROM tags t"
        " JOIN manifests m ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest"
        " WHERE t.repository_id = ?",
        (repo["id"],),
    )
    assert stats is not None
    settings = call.backend.settings
    return JSONResponse({
        "id": repo["id"],
        "ns_id": ns["id"],
        "name": repo["name"],
        "category": repo["category"],
        "description": repo["description"],
        "creator_id": repo["creator_id"],
        "creator_name": repo["creator_name"],
        "size": stats["size"],
        "is_public": bool(repo["is_public"]),
        "num_images": stats["num_images"],
        "num_download": repo["num_download"],
        "url": "",
        "path": pull_path(settings.registry_host, ns["name"], repo["name"]),
        "internal_path": pull_path(settings.internal_registry_host, ns["name"], repo["name"]),
        "created": repo["created"],
        "updated": repo["updated"],
        "domain_id": ns["domain_id"],
        "priority": repo["priority"],
    })


def _list_filters(criteria: Criteria, params: dict[str, Any]) -> list[str]:
    """SQL conditions for the caller's criteria; values go into `params`."""
    where = []
    if (namespace := criteria.get("namespace")) is not None:
        if criteria.from_filter:  # fuzzy in the filter form only (contract 3.5)
            if not _NAMESPACE_PART.fullmatch(namespace):
                raise errors.bad_request(f"invalid organization name {namespace!r}",
                                         errors.INVALID_NAMESPACE_NAME)
            where.append("instr(n.name, :namespace) > 0")
        else:
            names.check_namespace(namespace)
            where.append("n.name = :namespace")
        params["namespace"] = namespace
    if (raw_name := criteria.get("name")) is not None:
        name = names.decode_repository(raw_name)
        if not _REPOSITORY_PART.fullmatch(name):
            raise errors.bad_request(f"invalid repository name {name!r}",
                                     errors.INVALID_REPOSITORY_NAME)
        where.append("instr(r.name, :name) > 0")
        params["name"] = name
    if (category := criteria.get("category")) is not None:
        where.append("r.category = :category")
        params["category"] = names.check_category(category)
    if (is_public := criteria.get("is_public")) is not None:
        where.append("r.is_public = :is_public")
        params["is_public"] = int(read_bool(is_public, "is_public", errors.INVALID_IS_PUBLIC))
    return where


def list_item(row: Row, settings: BackendSettings, total: int) -> dict[str, Any]:
    tags = sorted(row["tag_names"].split(",")) if row["tag_names"] else []
    return {
        "name": row["name"],
        "category": row["category"],
        "description": row["description"],
        "size": row["size"],
        "is_public": bool(row["is_public"]),
        "num_images": row["tag_count"],
        "num_download": row["num_download"],
        "created_at": row["created"],
        "updated_at": row["updated"],
        "logo": "",
        "url": "",
        "path": pull_path(settings.registry_host, row["namespace"], row["name"]),
        "internal_path": pull_path(
            settings.internal_registry_host, row["namespace"], row["name"]
        ),
        "domain_name": row["domain_name"],
        "namespace": row["namespace"],
        "tags": tags,
        "status": False,
        "total_range": total,
    }


_LIST_FROM = (
    " FROM repositories r JOIN namespaces n ON n.id = r.namespace_id"
    " JOIN domains d ON d.id = n.domain_id"
)


async def list_repositories(request: Request) -> Response:
    call = start(request)
    criteria = read_criteria(request, LIST_KEYS, ignored={"center": "self"})
    params = call.caller_params()
    where = ["r.kind = 'image'", f"{NAMESPACE_LEVEL_SQL} >= 1", *_list_filters(criteria, params)]
    column, direction = read_order(criteria, ORDER_COLUMNS) or DEFAULT_ORDER
    page = read_page(criteria)
    limit_sql, limit_params = page.sql()

    condition = " AND ".join(where)
    rows = call.db.all(
        "SELECT r.id, r.name, r.category, r.description, r.is_public, r.num_download,"
        " r.created, r.updated, n.name AS namespace, d.name AS domain_name,"
        " COUNT(t.id) AS tag_count, COALESCE(SUM(m.image_size), 0) AS size,"
        " group_concat(t.name, ',') AS tag_names, COUNT(*) OVER () AS total"
        f"{_LIST_FROM} LEFT JOIN tags t ON t.repository_id = r.id"
        " LEFT JOIN manifests m ON m.repository_id = t.repository_id"
        " AND m.digest = t.manifest_digest"
        f" WHERE {condition} GROUP BY r.id"
        f" ORDER BY {column} {direction}, r.id {direction}{limit_sql}",
        {**params, **limit_params},
    )
    total = rows[0]["total"] if rows else _count(call, condition, params)
    settings = call.backend.settings
    body = [list_item(row, settings, total) for row in rows]
    return FastJSONResponse(body, headers=page.headers(len(body), total))


def _count(call: Call, condition: str, params: dict[str, Any]) -> int:
    return int(call.db.scalar(f"SELECT COUNT(*){_LIST_FROM} WHERE {condition}", params))
