"""Blob reads, deletes, uploads (monolithic, chunked, resumable) and cross-repository mounts."""

from __future__ import annotations

import re
import uuid

from starlette.responses import Response, StreamingResponse

from swrlocal.db import Row
from swrlocal.registry import auth, errors, meta
from swrlocal.registry.context import Context
from swrlocal.registry.names import parse_name, require_digest

CONTENT_RANGE_RE = re.compile(r"^(?:bytes[= ])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _range_header(size: int) -> str:
    # distribution answers `0-0` for an empty upload; clients expect an inclusive end.
    return f"0-{max(size - 1, 0)}"


def _upload_headers(ctx: Context, upload_id: str, size: int) -> dict[str, str]:
    return {
        "Location": ctx.url(f"blobs/uploads/{upload_id}"),
        "Docker-Upload-UUID": upload_id,
        "Range": _range_header(size),
    }


def _blob_created(ctx: Context, digest: str) -> Response:
    headers = {"Location": ctx.url(f"blobs/{digest}"), "Docker-Content-Digest": digest}
    return Response(status_code=201, headers=headers)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The single byte range asked for, or None for the whole blob (also for forms we ignore,
    as RFC 9110 allows)."""
    match = RANGE_RE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        start, end = max(size - int(last), 0), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise errors.OCIError(
            416, errors.RANGE_INVALID, "requested range not satisfiable",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return start, end


async def get_blob(ctx: Context, digest: str) -> Response:
    require_digest(digest)
    repository = ctx.repository()
    size = meta.blob_size(ctx.db, repository["id"], digest)
    if size is None or not ctx.store.blob_path(digest).exists():
        raise errors.blob_unknown(digest)
    headers = {
        "Docker-Content-Digest": digest,
        "Accept-Ranges": "bytes",
        "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000",
    }
    byte_range = _parse_range(ctx.request.headers.get("range"), size) if size else None
    status, start, end = 200, 0, size - 1
    if byte_range is not None:
        status, (start, end) = 206, byte_range
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if ctx.request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(
        ctx.store.read(digest, start, end), status_code=status, headers=headers,
        media_type="application/octet-stream",
    )


async def delete_blob(ctx: Context, digest: str) -> Response:
    require_digest(digest)
    repository = ctx.repository()
    if not meta.unlink_blob(ctx.db, repository["id"], digest):
        raise errors.blob_unknown(digest)
    ctx.log("unlinked blob %s from %s", digest, ctx.name.full)
    return Response(status_code=202)


def _try_mount(ctx: Context, repository: Row, digest: str, source: str) -> Response | None:
    """Link a blob of `source` into this repository when the caller may read it there."""
    source_name = parse_name(source)
    if source_name is None or not auth.may(ctx.backend, ctx.caller, source_name, "pull"):
        return None
    source_repository = meta.find_repository(ctx.db, source_name)
    if source_repository is None:
        return None
    size = meta.blob_size(ctx.db, source_repository["id"], digest)
    if size is None:
        return None
    meta.link_blob(ctx.backend, repository["id"], digest, size)
    ctx.log("mounted %s from %s into %s", digest, source, ctx.name.full)
    return _blob_created(ctx, digest)


async def _land(ctx: Context, repository: Row, upload_id: str, digest: str) -> Response:
    landed = await ctx.store.commit(upload_id, digest)
    meta.link_blob(ctx.backend, repository["id"], digest, landed.size, landed.sha512)
    ctx.log("blob %s (%d bytes) landed in %s", digest, landed.size, ctx.name.full)
    return _blob_created(ctx, digest)


async def start_upload(ctx: Context) -> Response:
    repository = ctx.repository_for_push()
    query = ctx.request.query_params
    mount, source = query.get("mount"), query.get("from")
    if mount and source:
        mounted = _try_mount(ctx, repository, require_digest(mount), source)
        if mounted is not None:
            return mounted

    upload_id = str(uuid.uuid4())
    if "digest" in query:  # monolithic: the whole blob is this request's body
        digest = require_digest(query.get("digest"))
        ctx.store.create_upload(upload_id)
        try:
            await ctx.store.append(upload_id, ctx.request.stream())
            return await _land(ctx, repository, upload_id, digest)
        finally:
            ctx.store.discard_upload(upload_id)

    ctx.store.create_upload(upload_id)
    meta.create_upload(ctx.backend, upload_id, repository["id"])
    return Response(status_code=202, headers=_upload_headers(ctx, upload_id, 0))


def _upload(ctx: Context, upload_id: str) -> tuple[Row, int]:
    """The repository and the current size of a known upload, else 404 BLOB_UPLOAD_UNKNOWN."""
    repository = ctx.repository()
    size = ctx.store.upload_size(upload_id)
    if meta.find_upload(ctx.db, upload_id, repository["id"]) is None or size is None:
        raise errors.upload_unknown()
    return repository, size


async def _append_chunk(ctx: Context, upload_id: str, size: int) -> int:
    """Append the body, checking `Content-Range` (`a-b`, optionally `bytes=`) when sent."""
    header = ctx.request.headers.get("content-range")
    expected = None
    if header:
        match = CONTENT_RANGE_RE.match(header.strip())
        if match is None:
            raise errors.OCIError(416, errors.BLOB_UPLOAD_INVALID, "invalid Content-Range")
        start, end = int(match.group(1)), int(match.group(2))
        if start != size or end < start:
            raise errors.OCIError(
                416, errors.BLOB_UPLOAD_INVALID,
                f"chunk starts at {start}, the upload has {size} bytes",
                headers=_upload_headers(ctx, upload_id, size),
            )
        expected = end - start + 1
    new_size = await ctx.store.append(upload_id, ctx.request.stream(), expected)
    meta.record_upload_size(ctx.backend, upload_id, new_size)
    return new_size


async def patch_upload(ctx: Context, upload_id: str) -> Response:
    async with ctx.store.lock(upload_id):
        _repository, size = _upload(ctx, upload_id)
        size = await _append_chunk(ctx, upload_id, size)
    return Response(status_code=202, headers=_upload_headers(ctx, upload_id, size))


async def finish_upload(ctx: Context, upload_id: str) -> Response:
    async with ctx.store.lock(upload_id):
        repository, size = _upload(ctx, upload_id)
        digest = require_digest(ctx.request.query_params.get("digest"))
        await _append_chunk(ctx, upload_id, size)
        try:
            return await _land(ctx, repository, upload_id, digest)
        finally:
            meta.delete_upload(ctx.db, upload_id)


async def upload_status(ctx: Context, upload_id: str) -> Response:
    _repository, size = _upload(ctx, upload_id)
    return Response(status_code=204, headers=_upload_headers(ctx, upload_id, size))


async def cancel_upload(ctx: Context, upload_id: str) -> Response:
    async with ctx.store.lock(upload_id):
        _upload(ctx, upload_id)
        meta.delete_upload(ctx.db, upload_id)
        ctx.store.discard_upload(upload_id)
    return Response(status_code=204)
