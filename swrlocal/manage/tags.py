"""Image tags: contract section 4.

Tags are written by the registry (`tags` rows pointing at `manifests`); this module reads them,
deletes them, and copies one tag to another name (4.3's `CreateRepoTag`).
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
from swrlocal.manage.listing import read_criteria, read_order, read_page
from swrlocal.manage.lookup import Call, RepositoryRef, find_repository, json_object, start

LIST_KEYS = ("offset", "limit", "order_column", "order_type", "tag")
ORDER_COLUMNS = {"updated_at": "t.updated", "tag": "t.name"}
DEFAULT_ORDER = ("t.updated", "DESC")
_TAG_PART = re.compile(r"[\w.-]{1,128}", re.ASCII)

_SELECT = (
    "SELECT t.id, t.name, t.manifest_digest, t.created, t.updated, m.content,"
    " m.schema_version, m.is_index, m.config_digest, m.image_size"
    " FROM tags t JOIN manifests m"
    " ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest"
)


def _ref(call: Call, request: Request, min_level: int) -> RepositoryRef:
    return find_repository(
        call, request.path_params["namespace"], request.path_params["repository"], min_level
    )


def tag_json(call: Call, ref: RepositoryRef, row: Row, *, listed: bool) -> dict[str, Any]:
    """A tag as 4.1 lists it (`Tag`, `deleted`, `scanned`) or as 4.3 shows it (`tag`)."""
    settings = call.backend.settings
    image = f"{ref.namespace['name']}/{ref.repository['name']}:{row['name']}"
    content = row["content"]
    manifest = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    config = row["config_digest"] or ""
    body: dict[str, Any] = {
        "id": row["id"],
        "repo_id": ref.repository["id"],
        "Tag" if listed else "tag": row["name"],
        "image_id": config.removeprefix("sha256:"),
        "manifest": manifest,
        "digest": row["manifest_digest"],
        "schema": row["schema_version"],
        "path": f"{settings.registry_host}/{image}",
        "internal_path": f"{settings.internal_registry_host}/{image}",
        "size": row["image_size"],
        "is_trusted": False,
        "created": row["created"],
        "updated": row["updated"],
        "domain_id": ref.namespace["domain_id"],
        "tag_type": 1 if row["is_index"] else 0,
    }
    if listed:
        body["deleted"] = None
        body["scanned"] = False
    return body


async def list_tags(request: Request) -> Response:
    call = start(request)
    ref = _ref(call, request, access.READ)
    criteria = read_criteria(request, LIST_KEYS)
    column, direction = read_order(criteria, ORDER_COLUMNS) or DEFAULT_ORDER
    page = read_page(criteria, all_by_default=True)

    where, params = "t.repository_id = :repo", {"repo": ref.repository["id"]}
    if (tag := criteria.get("tag")) is not None:
        if not _TAG_PART.fullmatch(tag):
            raise errors.bad_request(f"invalid tag name {tag!r}")
        where += " AND instr(t.name, :tag) > 0"
        params["tag"] = tag
    limit_sql, limit_params = page.sql()
    rows = call.db.all(
        f"{_SELECT.replace('SELECT', 'SELECT COUNT(*) OVER () AS total,', 1)}"
        f" WHERE {where} ORDER BY {column} {direction}, t.id {direction}{limit_sql}",
        {**params, **limit_params},
    )
    if rows:
        total = rows[0]["total"]
    else:
        total = int(call.db.scalar(f"SELECT COUNT(*) FROM tags t WHERE {where}", params))
    body = [tag_json(call, ref, row, listed=True) for row in rows]
    return FastJSONResponse(body, headers=page.headers(len(body), total))


def _tag_row(call: Call, ref: RepositoryRef, tag: str) -> Row:
    row = call.db.one(
        f"{_SELECT} WHERE t.repository_id = ? AND t.name = ?", (ref.repository["id"], tag)
    )
    if row is None:
        raise errors.not_found(f"tag {tag!r} not found", errors.TAG_NOT_FOUND)
    return row


async def show_tag(request: Request) -> Response:
    call = start(request)
    ref = _ref(call, request, access.READ)
    row = _tag_row(call, ref, names.check_tag(request.path_params["tag"]))
    return JSONResponse(tag_json(call, ref, row, listed=False))


async def delete_tag(request: Request) -> Response:
    call = start(request)
    tag = names.check_tag(request.path_params["tag"])
    with call.db.transaction() as conn:
        ref = _ref(call, request, access.EDIT)
        deleted = conn.execute(
            "DELETE FROM tags WHERE repository_id = ? AND name = ?", (ref.repository["id"], tag)
        ).rowcount
        if not deleted:
            raise errors.not_found(f"tag {tag!r} not found", errors.TAG_NOT_FOUND)
        _touch(call, ref)
    return Response(status_code=204)


def _touch(call: Call, ref: RepositoryRef) -> None:
    call.db.execute(
        "UPDATE repositories SET updated = ? WHERE id = ?", (call.now(), ref.repository["id"])
    )


def _copy_request(body: dict[str, Any]) -> tuple[str, str, bool]:
    for key in ("source_tag", "destination_tag"):
        if key not in body:
            raise errors.bad_request(f"{key} is required", errors.MISSING_PARAMETER)
        if not isinstance(body[key], str):
            raise errors.bad_request(f"{key} must be a string", errors.INVALID_BODY)
    override = body.get("override", False)
    if not isinstance(override, bool):
        raise errors.bad_request("override must be true or false", errors.INVALID_BODY)
    return names.check_tag(body["source_tag"]), names.check_tag(body["destination_tag"]), override


async def create_tag(request: Request) -> Response:
    """Point `destination_tag` at the manifest of `source_tag` (4.3 `CreateRepoTag`)."""
    call = start(request)
    source, destination, override = _copy_request(await json_object(request))
    now = call.now()
    with call.db.transaction() as conn:
        ref = _ref(call, request, access.EDIT)
        digest = _tag_row(call, ref, source)["manifest_digest"]
        existing = conn.execute(
            "SELECT id FROM tags WHERE repository_id = ? AND name = ?",
            (ref.repository["id"], destination),
        ).fetchone()
        if existing and not override:
            raise errors.conflict(f"tag {destination!r} already exists", errors.REPOSITORY_EXISTS)
        if existing:
            conn.execute(
                "UPDATE tags SET manifest_digest = ?, updated = ? WHERE id = ?",
                (digest, now, existing["id"]),
            )
        else:
            conn.execute(
                "INSERT INTO tags (repository_id, name, manifest_digest, created, updated)"
                " VALUES (?, ?, ?, ?, ?)",
                (ref.repository["id"], destination, digest, now, now),
            )
        _touch(call, ref)
    return Response(status_code=201)
