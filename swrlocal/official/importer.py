"""`swr-local official import`: copy an image into the official organization.

Sources are an OCI image layout (`oci:/path[:tag]`) or another registry
(`docker://host[:port]/repo[:tag|@digest]`, plain HTTP for loopback hosts). Blobs are streamed
through the registry's blob store (`BlobStore.fetch`), which verifies each digest before the blob
lands; manifests are checked against their digests too, and image sizes are computed as a push
computes them (`meta.image_size`). Children of an index are imported before the index, as
the registry requires for a push.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio

from swrlocal.mirror.upstream import FetchedManifest, Upstream, base_url_for, sha256_digest
from swrlocal.official.catalog import ensure_repository
from swrlocal.registry import errors as oci
from swrlocal.registry import manifests, meta
from swrlocal.registry.blobstore import BlobStore, Landed
from swrlocal.registry.names import REPOSITORY_RE, TAG_RE, is_digest
from swrlocal.state import Backend

REF_NAME = "org.opencontainers.image.ref.name"
READ_CHUNK = 1024 * 1024


class SourceError(Exception):
    """The source or the name is unusable; the message says why."""


class Source(Protocol):
    reference: str

    async def manifest(self, reference: str) -> FetchedManifest: ...

    async def blob(self, digest: str, store: BlobStore) -> Landed: ...

    async def aclose(self) -> None: ...


def _split_reference(text: str, default: str = "latest") -> tuple[str, str]:
    """`repo:tag`, `repo@digest` or `repo` -> (repo, reference)."""
    if "@" in text:
        name, _, digest = text.partition("@")
        return name, digest
    head, sep, tail = text.rpartition(":")
    if sep and "/" not in tail:
        return head, tail
    return text, default


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        while chunk := await handle.read(READ_CHUNK):
            yield chunk


@dataclass
class LayoutSource:
    root: Path
    reference: str

    def _blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / "blobs" / algorithm / hexdigest

    def _descriptor(self, tag: str) -> dict[str, object]:
        index = json.loads((self.root / "index.json").read_bytes())
        for entry in index.get("manifests", []):
            if (entry.get("annotations") or {}).get(REF_NAME) == tag:
                return dict(entry)
        raise SourceError(f"{self.root} has no image tagged {tag!r}")

    async def manifest(self, reference: str) -> FetchedManifest:
        descriptor: dict[str, object] = {"digest": reference}
        if not is_digest(reference):
            descriptor = self._descriptor(reference)
        digest = str(descriptor["digest"])
        try:
            content = self._blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise SourceError(f"{self.root} lacks manifest {digest}") from None
        if sha256_digest(content) != digest:
            raise SourceError(f"manifest {digest} in {self.root} does not match its digest")
        declared = json.loads(content).get("mediaType") or descriptor.get("mediaType")
        return FetchedManifest(str(declared or ""), content, digest)

    async def blob(self, digest: str, store: BlobStore) -> Landed:
        path = self._blob_path(digest)
        if not path.is_file():
            raise SourceError(f"{self.root} lacks blob {digest}")
        try:
            return await store.fetch(_file_chunks(path), digest)
        except oci.OCIError as exc:
            raise SourceError(f"blob {digest} in {self.root} does not match its digest") from exc

    async def aclose(self) -> None:
        return None


@dataclass
class RegistrySource:
    upstream: Upstream
    name: str
    reference: str

    async def manifest(self, reference: str) -> FetchedManifest:
        return await self.upstream.manifest(self.name, reference)

    async def blob(self, digest: str, store: BlobStore) -> Landed:
        return await self.upstream.blob(self.name, digest, store)

    async def aclose(self) -> None:
        await self.upstream.aclose()


def open_source(text: str) -> Source:
    if text.startswith("oci:"):
        location, reference = _split_reference(text[4:])
        root = Path(location)
        if not (root / "index.json").is_file():
            raise SourceError(f"{root} is not an OCI image layout (no index.json)")
        return LayoutSource(root, reference)
    if text.startswith("docker://"):
        host, _, rest = text[9:].partition("/")
        name, reference = _split_reference(rest)
        if not host or not name:
            raise SourceError(f"{text!r} is not docker://host/repository[:tag]")
        return RegistrySource(Upstream(base_url_for(host)), name, reference)
    raise SourceError(f"unknown source {text!r}: use oci:/path[:tag] or docker://host/repo:tag")


def parse_target(text: str, default_tag: str) -> tuple[str, str]:
    """`NAME[:TAG]` -> (repository in `library`, tag)."""
    name, tag = _split_reference(text, default_tag)
    name = name.removeprefix("library/")
    if not REPOSITORY_RE.match(name):
        raise SourceError(f"invalid repository name {name!r}")
    if is_digest(tag) or not TAG_RE.match(tag):
        raise SourceError(f"invalid tag {tag!r}")
    return name, tag


@dataclass(frozen=True)
class Imported:
    repository: str
    tag: str
    digest: str
    size: int


class _Copier:
    def __init__(self, backend: Backend, store: BlobStore, source: Source, repo_id: int) -> None:
        self.backend = backend
        self.store = store
        self.source = source
        self.repo_id = repo_id

    async def _blob(self, descriptor: manifests.Descriptor) -> None:
        path = self.store.blob_path(descriptor.digest)
        if path.is_file():
            # Verified, and its SHA-512 recorded, when it landed: not fetched again.
            size, sha512 = path.stat().st_size, None
        else:
            landed = await self.source.blob(descriptor.digest, self.store)
            size, sha512 = landed.size, landed.sha512
        if size != descriptor.size:
            raise SourceError(f"{descriptor.digest} has {size} bytes, not {descriptor.size}")
        meta.link_blob(self.backend, self.repo_id, descriptor.digest, size, sha512)

    async def copy(self, fetched: FetchedManifest, tag: str | None) -> int:
        """Import one manifest and everything it names; return its image size."""
        try:
            parsed = manifests.parse(fetched.content, fetched.media_type)
        except oci.OCIError as exc:
            raise SourceError(f"manifest {fetched.digest}: {exc.message}") from exc
        for blob in parsed.blobs:
            if not blob.external:
                await self._blob(blob)
        for child in parsed.children:
            await self.copy(await self.source.manifest(child.digest), None)
        try:
            size = meta.image_size(self.backend.db, self.repo_id, parsed)
        except oci.OCIError as exc:
            raise SourceError(f"manifest {fetched.digest}: {exc.message}") from exc
        meta.store_manifest(
            self.backend, self.repo_id, fetched.digest, fetched.content, parsed, size, tag
        )
        return size


async def import_image(
    backend: Backend, source: Source, target: str, description: str | None = None
) -> Imported:
    name, tag = parse_target(target, source.reference if not is_digest(source.reference)
                             else "latest")
    store = BlobStore(backend.settings.data_dir)
    try:
        top = await source.manifest(source.reference)
        repository = ensure_repository(backend, name, description)
        try:
            size = await _Copier(backend, store, source, repository["id"]).copy(top, tag)
        except BaseException:
            _drop_if_empty(backend, repository["id"])
            raise
    finally:
        await source.aclose()
    return Imported(name, tag, top.digest, size)


def _drop_if_empty(backend: Backend, repository_id: int) -> None:
    """A failed first import leaves no empty official image behind in the catalog."""
    backend.db.execute(
        "DELETE FROM repositories WHERE id = ?"
        " AND NOT EXISTS (SELECT 1 FROM tags WHERE repository_id = ?)",
        (repository_id, repository_id),
    )
