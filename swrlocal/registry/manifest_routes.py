"""Manifests by tag or digest: push, pull, HEAD, delete."""

from __future__ import annotations

import hashlib

from starlette.responses import Response

from swrlocal.db import Row
from swrlocal.packages.kind import settle_repository_kind
from swrlocal.registry import errors, manifests, meta
from swrlocal.registry.context import Context
from swrlocal.registry.names import is_digest, require_reference


def _resolve(ctx: Context, repository: Row, reference: str) -> Row:
    row = meta.find_manifest(ctx.db, repository["id"], reference, is_digest(reference))
    if row is None:
        raise errors.manifest_unknown(reference)
    return row


async def get_manifest(ctx: Context, reference: str) -> Response:
    require_reference(reference)
    repository = ctx.repository()
    row = _resolve(ctx, repository, reference)
    media_type = str(row["media_type"])
    # Clients such as skopeo send one Accept header per media type.
    accept = ",".join(ctx.request.headers.getlist("accept"))
    if not manifests.accepts(accept, media_type):
        raise errors.OCIError(
            404, errors.MANIFEST_UNKNOWN,
            f"the manifest is {media_type}, which the Accept header does not list",
            {"reference": reference},
        )
    content = bytes(row["content"])
    headers = {
        "Docker-Content-Digest": row["digest"],
        "ETag": f'"{row["digest"]}"',
        "Content-Length": str(len(content)),
    }
    if ctx.request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=media_type)
    meta.count_pull(ctx.db, repository["id"])
    return Response(content, status_code=200, headers=headers, media_type=media_type)


async def _read_body(ctx: Context) -> bytes:
    body = bytearray()
    async for chunk in ctx.request.stream():
        body += chunk
        if len(body) > manifests.MAX_MANIFEST_BYTES:
            raise errors.OCIError(
                413, errors.SIZE_INVALID,
                f"manifests are limited to {manifests.MAX_MANIFEST_BYTES} bytes",
            )
    return bytes(body)


async def put_manifest(ctx: Context, reference: str) -> Response:
    require_reference(reference)
    body = await _read_body(ctx)
    manifest = manifests.parse(body, ctx.request.headers.get("content-type"))
    algorithm = reference.partition(":")[0] if is_digest(reference) else "sha256"
    digest = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"
    if is_digest(reference) and reference != digest:
        raise errors.digest_invalid(f"manifest digest is {digest}, not {reference}")

    repository = ctx.repository_for_push()
    image_size = meta.image_size(ctx.db, repository["id"], manifest)
    tag = None if is_digest(reference) else reference
    # The first manifest decides: image or software package (swrlocal.packages.kind).
    settle_repository_kind(ctx.db, repository["id"], body, manifest)
    meta.store_manifest(ctx.backend, repository["id"], digest, body, manifest, image_size, tag)
    ctx.log("manifest %s pushed to %s:%s", digest, ctx.name.full, tag or "-")
    headers = {
        "Location": ctx.url(f"manifests/{digest}"),
        "Docker-Content-Digest": digest,
    }
    if manifest.subject:
        headers["OCI-Subject"] = manifest.subject
    return Response(status_code=201, headers=headers)


async def delete_manifest(ctx: Context, reference: str) -> Response:
    """By digest: the manifest and every tag on it. By tag: only that tag (OCI 1.1 allows it;
    distribution 2.8 refuses with DIGEST_INVALID)."""
    require_reference(reference)
    repository = ctx.repository()
    if is_digest(reference):
        deleted = meta.delete_manifest(ctx.backend, repository["id"], reference)
    else:
        deleted = meta.delete_tag(ctx.backend, repository["id"], reference)
    if not deleted:
        raise errors.manifest_unknown(reference)
    ctx.log("deleted %s from %s", reference, ctx.name.full)
    return Response(status_code=202)
