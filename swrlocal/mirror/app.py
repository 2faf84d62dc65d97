"""The accelerator's listener: the registry read API (`/v2/`, manifests, blobs, tags/list)
served from the pull-through cache.

Pulls are anonymous, as Docker expects of a `registry-mirrors` entry; anything but GET and HEAD
is answered `UNSUPPORTED`. The cache only ever holds what the configured upstreams serve, so
anonymous reads give away nothing of the embedded registry's own (private) content.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from swrlocal import byteranges
from swrlocal.mirror import prefixes
from swrlocal.mirror.cache import Mirror
from swrlocal.mirror.upstream import Upstream
from swrlocal.registry import errors as oci
from swrlocal.registry.blobstore import BlobStore
from swrlocal.registry.manifests import accepts
from swrlocal.registry.names import REPOSITORY_RE, is_digest, require_reference
from swrlocal.state import Backend

logger = logging.getLogger("swrlocal.mirror")

_PATTERNS = [
    ("manifest", re.compile(r"^(?P<name>.+)/manifests/(?P<reference>[^/]+)$")),
    ("blob", re.compile(r"^(?P<name>.+)/blobs/(?P<digest>[^/]+)$")),
    ("tags", re.compile(r"^(?P<name>.+)/tags/list$")),
]


@dataclass(frozen=True)
class Target:
    source: str
    prefix: str | None
    name: str


def _host_prefix(request: Request, domain: str) -> str | None:
    """The first label of `Host` when the rest is the mirror domain (ports are not compared:
    a proxy in front may listen on another one)."""
    label, _, rest = request.headers.get("host", "").partition(".")
    if not domain or rest.rsplit(":", 1)[0] != domain.rsplit(":", 1)[0]:
        return None
    return label


def resolve(request: Request, mirror: Mirror, url_prefix: str | None, name: str) -> Target:
    """Which upstream and account a request is for, and the upstream repository name."""
    db = mirror.backend.db
    prefix = url_prefix or _host_prefix(request, mirror.backend.settings.mirror_domain)
    if prefix is None:
        first, _, rest = name.partition("/")
        if rest and prefixes.source_of(db, first):
            prefix, name = first, rest
    source = "dockerhub"
    if prefix is not None:
        found = prefixes.source_of(db, prefix)
        if found is None:
            raise oci.OCIError(404, oci.NAME_UNKNOWN, f"no accelerator has prefix {prefix!r}")
        source = found
    if not REPOSITORY_RE.match(name) or len(name) > 255:
        raise oci.OCIError(400, oci.NAME_INVALID, "invalid repository name", {"name": name})
    return Target(source, prefix, name)


async def _manifest(request: Request, mirror: Mirror, target: Target, reference: str) -> Response:
    require_reference(reference)
    found = await mirror.manifest(target.source, target.name, reference)
    # Go clients (skopeo, Docker) send one `Accept` header line per media type.
    if not accepts(", ".join(request.headers.getlist("accept")), found.media_type):
        raise oci.OCIError(404, oci.MANIFEST_UNKNOWN,
                           f"the manifest is {found.media_type}, not in the Accept header")
    headers = {"Docker-Content-Digest": found.digest, "ETag": f'"{found.digest}"',
               "Content-Length": str(len(found.content))}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=found.media_type)
    mirror.count_pull(target.prefix)
    return Response(found.content, headers=headers, media_type=found.media_type)


async def _blob(request: Request, mirror: Mirror, target: Target, digest: str) -> Response:
    if not is_digest(digest) or not digest.startswith("sha256:"):
        raise oci.digest_invalid(f"invalid digest {digest!r}: the mirror takes sha256 only")
    path, size = await mirror.blob(target.source, target.name, digest)
    problem = byteranges.problem(request.headers.get("range"), size)
    if problem is not None:
        headers = {"Content-Range": f"bytes */{size}"} if problem == 416 else None
        raise oci.OCIError(problem, oci.RANGE_INVALID, "invalid or unsatisfiable Range",
                           headers=headers)
    # FileResponse streams in bounded chunks and answers Range requests.
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"Docker-Content-Digest": digest, "ETag": f'"{digest}"'})


async def _tags(request: Request, mirror: Mirror, target: Target) -> Response:
    query = {key: request.query_params[key] for key in ("n", "last") if key in request.query_params}
    tags = await mirror.tags(target.source, target.name, query)
    return JSONResponse({"name": target.name, "tags": tags})


async def _dispatch(request: Request, mirror: Mirror) -> Response:
    path = request.path_params["path"]
    url_prefix = request.path_params.get("prefix")
    if path == "":
        return JSONResponse({})
    if request.method not in ("GET", "HEAD"):
        raise oci.OCIError(405, oci.UNSUPPORTED, "the pull accelerator is read-only")
    for kind, pattern in _PATTERNS:
        match = pattern.match(path)
        if match is None:
            continue
        params = match.groupdict()
        target = resolve(request, mirror, url_prefix, params.pop("name"))
        if kind == "manifest":
            return await _manifest(request, mirror, target, params["reference"])
        if kind == "blob":
            return await _blob(request, mirror, target, params["digest"])
        if request.method == "GET":
            return await _tags(request, mirror, target)
    raise oci.OCIError(404, oci.UNSUPPORTED, "not a registry read URL")


async def mirror_endpoint(request: Request) -> Response:
    mirror: Mirror = request.app.state.mirror
    try:
        response = await _dispatch(request, mirror)
    except oci.OCIError as exc:
        response = exc.response()
    except Exception:
        logger.exception("mirror request %s %s failed", request.method, request.url.path)
        response = oci.OCIError(500, oci.UNKNOWN, "internal error").response()
    response.headers[oci.API_VERSION_HEADER] = oci.API_VERSION
    return response


def upstreams_for(backend: Backend) -> dict[str, Upstream]:
    settings = backend.settings
    configured = {"dockerhub": settings.mirror_upstream, "gcr": settings.mirror_gcr_upstream}
    return {source: Upstream(url) for source, url in configured.items() if url}


def create_mirror_app(backend: Backend) -> Starlette:
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[
        Route("/v2/{path:path}", mirror_endpoint, methods=methods),
        Route("/{prefix}/v2/{path:path}", mirror_endpoint, methods=methods),
    ])
    store = BlobStore(backend.settings.data_dir)
    app.state.mirror = Mirror(backend, store, upstreams_for(backend))
    app.state.backend = backend
    return app
