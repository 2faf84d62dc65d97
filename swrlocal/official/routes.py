"""Official image center (contract 10.1): a read-only catalog of the system organization's
images for every authenticated account.

`pull_count` is the repository's `num_download`, which the registry raises on every manifest
GET; versions are its tags, sized as the registry sizes them. `last_updated` keeps the old
interface's `2017-10-16 21:33:44` form (UTC).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from swrlocal import errors
from swrlocal.clock import parse_rfc3339
from swrlocal.db import Row
from swrlocal.manage import names
from swrlocal.manage.listing import read_criteria, read_page
from swrlocal.manage.lookup import Call, start
from swrlocal.official.catalog import SYSTEM_ACCOUNT

LIST_KEYS = ("namespace", "image_name", "offset", "limit")
PAGE_KEYS = ("offset", "limit")
_FROM = (
    " FROM repositories r JOIN namespaces n ON n.id = r.namespace_id"
    " JOIN domains d ON d.id = n.domain_id"
    " WHERE d.name = :system AND r.kind = 'image'"
)


def last_updated(rfc3339_text: str) -> str:
    return parse_rfc3339(rfc3339_text).strftime("%Y-%m-%d %H:%M:%S")


def repo_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "user": row["namespace"],
        "name": row["name"],
        "namespace": row["namespace"],
        "description": row["description"],
        "star_count": 0,
        "pull_count": row["num_download"],
        "last_updated": last_updated(row["updated"]),
        "is_collected": False,
    }


_SELECT = "SELECT r.id, r.name, r.description, r.num_download, r.updated, n.name AS namespace"


async def list_official(request: Request) -> Response:
    call = start(request)
    criteria = read_criteria(request, LIST_KEYS)
    page = read_page(criteria)
    params: dict[str, Any] = {"system": SYSTEM_ACCOUNT}
    where = ""
    if (namespace := criteria.get("namespace")) is not None:
        where += " AND n.name = :namespace"
        params["namespace"] = namespace
    if (image_name := criteria.get("image_name")) is not None:
        where += " AND instr(r.name, :image_name) > 0"  # fuzzy, as the repository lists
        params["image_name"] = names.decode_repository(image_name)
    limit_sql, limit_params = page.sql()
    rows = call.db.all(
        f"{_SELECT}{_FROM}{where} ORDER BY n.name, r.name{limit_sql}", {**params, **limit_params}
    )
    total = int(call.db.scalar(f"SELECT COUNT(*){_FROM}{where}", params))
    body = [repo_json(row) for row in rows]
    return JSONResponse(body, headers=page.headers(len(body), total))


def _find(call: Call, request: Request) -> Row:
    namespace = request.path_params["namespace"]
    name = names.decode_repository(request.path_params["repository"])
    row = call.db.one(
        f"{_SELECT}{_FROM} AND n.name = :namespace AND r.name = :name",
        {"system": SYSTEM_ACCOUNT, "namespace": namespace, "name": name},
    )
    if row is None:
        raise errors.not_found(
            f"official image {namespace}/{name} not found", errors.REPOSITORY_NOT_FOUND
        )
    return row


async def show_official(request: Request) -> Response:
    call = start(request)
    return JSONResponse(repo_json(_find(call, request)))


async def list_official_tags(request: Request) -> Response:
    call = start(request)
    repository = _find(call, request)
    page = read_page(read_criteria(request, PAGE_KEYS))
    limit_sql, limit_params = page.sql()
    rows = call.db.all(
        "SELECT t.id, t.name, t.updated, m.image_size FROM tags t JOIN manifests m"
        " ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest"
        " WHERE t.repository_id = :repo ORDER BY t.updated DESC, t.id DESC" + limit_sql,
        {"repo": repository["id"], **limit_params},
    )
    total = int(call.db.scalar(
        "SELECT COUNT(*) FROM tags WHERE repository_id = ?", (repository["id"],)
    ))
    body = [
        {"id": row["id"], "name": row["name"], "size": row["image_size"],
         "last_updated": last_updated(row["updated"])}
        for row in rows
    ]
    return JSONResponse(body, headers=page.headers(len(body), total))


routes: list[BaseRoute] = [
    Route("/v2/manage/dockerhub/repos", list_official, methods=["GET"]),
    Route("/v2/manage/dockerhub/namespaces/{namespace}/repos/{repository}", show_official,
          methods=["GET"]),
    Route("/v2/manage/dockerhub/namespaces/{namespace}/repos/{repository}/tags",
          list_official_tags, methods=["GET"]),
]
