"""Software packages (contract 10.2): repositories of kind 'package', filled with `oras push`.

A package is a repository, a version is one of its tags, and the files of a version are the
titled layers of the tag's manifest. Everything is read under the caller's permission on the
repository (level 1 reads); a package the caller may not read is answered as missing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from swrlocal import access, byteranges, errors
from swrlocal.db import Row
from swrlocal.manage import names
from swrlocal.manage.listing import read_criteria, read_page
from swrlocal.manage.lookup import Call, start
from swrlocal.packages.files import PackageFile, manifest_files, sha512_of
from swrlocal.registry.context import registry_state

LIST_KEYS = ("package_name", "namespace", "offset", "limit")
BASE = "/v2/manage/namespaces/{namespace}/packages/{package}/versions"
_SELECT = (
    "SELECT r.*, n.name AS namespace, d.name AS domain_name"
    " FROM repositories r JOIN namespaces n ON n.id = r.namespace_id"
    " JOIN domains d ON d.id = n.domain_id WHERE r.kind = 'package'"
)
_VERSIONS = (
    "SELECT t.id, t.name, t.created, t.updated, m.content FROM tags t JOIN manifests m"
    " ON m.repository_id = t.repository_id AND m.digest = t.manifest_digest"
    " WHERE t.repository_id = ?"
)


def _level(call: Call, row: Row) -> int:
    namespace = call.db.one("SELECT * FROM namespaces WHERE id = ?", (row["namespace_id"],))
    assert namespace is not None
    now = call.backend.clock.now()
    return access.repository_level(call.db, call.principal, namespace, row, now)


def _common(row: Row) -> dict[str, Any]:
    return {
        "package": row["name"],
        "namespace": row["namespace"],
        "description": row["description"],
        "creator": row["creator_name"],
        "domain": row["domain_name"],
        "visibility": "public" if row["is_public"] else "private",
    }


def _versions(call: Call, repository_id: int) -> list[tuple[Row, list[PackageFile]]]:
    rows = call.db.all(f"{_VERSIONS} ORDER BY t.updated DESC, t.id DESC", (repository_id,))
    return [(row, manifest_files(bytes(row["content"]))) for row in rows]


def _size(files: list[PackageFile]) -> int:
    return sum(item.size for item in files)


async def list_packages(request: Request) -> Response:
    call = start(request)
    criteria = read_criteria(request, LIST_KEYS)
    sql, params = _SELECT, []
    if (namespace := criteria.get("namespace")) is not None:
        sql, params = sql + " AND n.name = ?", [namespace]
    if (name := criteria.get("package_name")) is not None:
        sql += " AND instr(r.name, ?) > 0"
        params.append(names.decode_repository(name))
    visible = [(row, level) for row in call.db.all(sql + " ORDER BY n.name, r.name", params)
               if (level := _level(call, row)) >= access.READ]
    page = read_page(criteria)
    end = None if page.limit is None else page.offset + page.limit
    body = []
    for row, level in visible[page.offset:end]:
        versions = _versions(call, row["id"])
        body.append({
            **_common(row), "id": row["id"], "created": row["created"],
            "updated": row["updated"], "size": sum(_size(files) for _, files in versions),
            "num_versions": len(versions), "self_auth": level,
        })
    return JSONResponse(body, headers=page.headers(len(body), len(visible)))


def _find_package(call: Call, request: Request) -> Row:
    namespace = request.path_params["namespace"]
    name = names.decode_repository(request.path_params["package"])
    row = call.db.one(f"{_SELECT} AND n.name = ? AND r.name = ?", (namespace, name))
    if row is None or _level(call, row) < access.READ:
        raise errors.not_found(f"package {namespace}/{name} not found",
                               errors.REPOSITORY_NOT_FOUND)
    return row


def _find_version(call: Call, request: Request, package: Row) -> tuple[Row, list[PackageFile]]:
    version = request.path_params["version"]
    row = call.db.one(f"{_VERSIONS} AND t.name = ?", (package["id"], version))
    if row is None:
        raise errors.not_found(f"version {version!r} not found", errors.TAG_NOT_FOUND)
    return row, manifest_files(bytes(row["content"]))


async def list_versions(request: Request) -> Response:
    call = start(request)
    package = _find_package(call, request)
    body = [
        {**_common(package), "id": row["id"], "version": row["name"], "size": _size(files),
         "num_files": len(files), "CreatedAt": row["created"], "UpdatedAt": row["updated"]}
        for row, files in _versions(call, package["id"])
    ]
    return JSONResponse(body)


def encode_folder(folder: str) -> str:
    """A folder as one URL segment, by the `$` rule: `/` -> `$`, `/docs/a` -> `$docs$a`."""
    return quote(folder.replace("/", "$"), safe="$")


def decode_folder(raw: str) -> str:
    return "/" + raw.replace("$", "/").strip("/")


def download_path(package: Row, version: str, item: PackageFile) -> str:
    base = BASE.format(namespace=package["namespace"],
                       package=quote(names.encode_repository(package["name"]), safe="$"))
    return (f"{base}/{quote(version, safe='')}/file_paths/{encode_folder(item.folder)}/"
            f"{quote(item.filename, safe='')}")


async def list_files(request: Request) -> Response:
    call = start(request)
    package = _find_package(call, request)
    version, files = _find_version(call, request, package)
    store = registry_state(request).store
    body = []
    for number, item in enumerate(files, start=1):
        sha512 = await sha512_of(call.backend, store.blob_path(item.digest), item.digest)
        body.append({
            **_common(package), "id": number, "version": version["name"], "size": item.size,
            "folder": item.folder, "filename": item.filename, "digest": sha512,
            "url": download_path(package, version["name"], item),
            "created": version["created"], "updated": version["updated"],
        })
    return JSONResponse(body)


async def download_file(request: Request) -> Response:
    call = start(request)
    package = _find_package(call, request)
    _version, files = _find_version(call, request, package)
    raw_folder, _, filename = request.path_params["path"].rpartition("/")
    folder = decode_folder(raw_folder)
    item = next((f for f in files if f.folder == folder and f.filename == filename), None)
    if item is None:
        raise errors.not_found(f"no file {filename!r} in folder {folder!r}")
    check_range(request.headers.get("range"), item.size)
    path = registry_state(request).store.blob_path(item.digest)
    # FileResponse streams in bounded chunks and answers single and multiple Range requests.
    return FileResponse(path, media_type="application/octet-stream", filename=item.filename,
                        headers={"ETag": f'"{item.digest}"'})


def check_range(header: str | None, size: int) -> None:
    """Refuse, with the SWR error body, a Range that FileResponse would refuse in plain text."""
    problem = byteranges.problem(header, size)
    if problem == 400:
        raise errors.bad_request(f"malformed Range header {str(header)[:100]!r}")
    if problem == 416:
        raise errors.SWRError(
            416, errors.INVALID_PARAMETERS, "requested range not satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )


routes: list[BaseRoute] = [
    Route("/v2/manage/packages", list_packages, methods=["GET"]),
    Route(BASE, list_versions, methods=["GET"]),
    Route(BASE + "/{version}/file_paths", list_files, methods=["GET"]),
    Route(BASE + "/{version}/file_paths/{path:path}", download_file, methods=["GET"]),
]
