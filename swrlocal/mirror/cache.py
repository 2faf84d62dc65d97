"""The pull-through cache behind the accelerator.

Manifests by digest and blobs come from the cache once fetched: content addressing makes them
immutable. A tag is asked of the upstream each time, so it follows the upstream; when the
upstream is down, not configured, or fails, the last verified tag -> digest mapping answers.
Upstream bytes are verified before they are cached or served, and a mismatch is refused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from swrlocal.clock import rfc3339
from swrlocal.mirror import upstream as up
from swrlocal.registry import errors as oci
from swrlocal.registry import meta
from swrlocal.registry.blobstore import BlobStore, Landed
from swrlocal.registry.names import is_digest
from swrlocal.state import Backend

SOURCES = ("dockerhub", "gcr")
BAD_GATEWAY = 502


@dataclass(frozen=True)
class CachedManifest:
    media_type: str
    content: bytes
    digest: str


def _unavailable(what: str, reason: str, configured: bool) -> oci.OCIError:
    # Without an upstream the content simply is not here (404); with one that failed, the
    # condition is temporary (503), and Docker falls back to the origin registry either way.
    if configured:
        return oci.OCIError(503, "UNAVAILABLE", f"{what} is not cached and {reason}")
    return oci.OCIError(404, oci.MANIFEST_UNKNOWN if "manifest" in what else oci.BLOB_UNKNOWN,
                        f"{what} is not cached and no upstream registry is configured")


def _upstream_failure(exc: up.UpstreamError) -> oci.OCIError:
    if isinstance(exc, up.DigestMismatch):
        return oci.OCIError(BAD_GATEWAY, oci.DIGEST_INVALID, f"refused: {exc}")
    if isinstance(exc, up.UpstreamDenied):
        return oci.OCIError(BAD_GATEWAY, oci.DENIED, str(exc))
    return oci.OCIError(BAD_GATEWAY, oci.UNKNOWN, str(exc))


class Mirror:
    def __init__(
        self, backend: Backend, store: BlobStore, upstreams: dict[str, up.Upstream]
    ) -> None:
        self.backend = backend
        self.store = store
        self.upstreams = upstreams
        self._locks: dict[str, asyncio.Lock] = {}

    def _now(self) -> str:
        return rfc3339(self.backend.clock.now())

    # -- manifests -------------------------------------------------------------------------

    def _cached_manifest(self, source: str, name: str, reference: str) -> CachedManifest | None:
        digest = reference
        if not is_digest(reference):
            digest = self.backend.db.scalar(
                "SELECT digest FROM mirror_tags WHERE source = ? AND name = ? AND tag = ?",
                (source, name, reference),
            )
            if digest is None:
                return None
        row = self.backend.db.one(
            "SELECT media_type, content FROM mirror_manifests"
            " WHERE source = ? AND name = ? AND digest = ?",
            (source, name, digest),
        )
        if row is None:
            return None
        return CachedManifest(row["media_type"], bytes(row["content"]), digest)

    def _remember(self, source: str, name: str, reference: str, found: up.FetchedManifest) -> None:
        db, now = self.backend.db, self._now()
        with db.transaction():
            db.execute(
                "INSERT OR IGNORE INTO mirror_manifests"
                " (source, name, digest, media_type, content, created) VALUES (?, ?, ?, ?, ?, ?)",
                (source, name, found.digest, found.media_type, found.content, now),
            )
            if not is_digest(reference):
                db.execute(
                    "INSERT INTO mirror_tags (source, name, tag, digest, updated)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, name, tag) DO UPDATE SET"
                    " digest = excluded.digest, updated = excluded.updated",
                    (source, name, reference, found.digest, now),
                )

    async def manifest(self, source: str, name: str, reference: str) -> CachedManifest:
        if is_digest(reference) and (hit := self._cached_manifest(source, name, reference)):
            return hit
        what = f"manifest {name}:{reference}"
        upstream = self.upstreams.get(source)
        if upstream is None:
            return self._fallback(source, name, reference, _unavailable(what, "", False))
        try:
            found = await upstream.manifest(name, reference)
        except up.UpstreamUnavailable as exc:
            return self._fallback(source, name, reference, _unavailable(what, str(exc), True))
        except up.UpstreamNotFound as exc:
            raise oci.manifest_unknown(reference) from exc
        except up.UpstreamError as exc:
            raise _upstream_failure(exc) from exc
        self._remember(source, name, reference, found)
        return CachedManifest(found.media_type, found.content, found.digest)

    def _fallback(
        self, source: str, name: str, reference: str, error: oci.OCIError
    ) -> CachedManifest:
        hit = self._cached_manifest(source, name, reference)
        if hit is None:
            raise error
        return hit

    def count_pull(self, prefix: str | None) -> None:
        """Pulls are counted per accelerator prefix; anonymous pulls belong to no account."""
        if prefix is not None:
            self.backend.db.execute(
                "UPDATE mirror_prefixes SET pulls = pulls + 1 WHERE prefix = ?", (prefix,)
            )

    # -- blobs -----------------------------------------------------------------------------

    def _cached_blob(self, source: str, name: str, digest: str) -> tuple[Path, int] | None:
        size = self.backend.db.scalar(
            "SELECT size FROM mirror_blobs WHERE source = ? AND name = ? AND digest = ?",
            (source, name, digest),
        )
        path = self.store.blob_path(digest)
        if size is None or not path.is_file():
            return None
        return path, int(size)

    def _link_blob(self, source: str, name: str, digest: str, landed: Landed) -> None:
        db, now = self.backend.db, self._now()
        with db.transaction():
            meta.record_blob(self.backend, digest, landed.size, landed.sha512)
            db.execute(
                "INSERT OR IGNORE INTO mirror_blobs (source, name, digest, size, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (source, name, digest, landed.size, now),
            )

    async def blob(self, source: str, name: str, digest: str) -> tuple[Path, int]:
        if hit := self._cached_blob(source, name, digest):
            return hit
        upstream = self.upstreams.get(source)
        what = f"blob {digest} of {name}"
        if upstream is None:
            raise _unavailable(what, "", False)
        # One download per digest at a time; the others wait and find it cached.
        lock = self._locks.setdefault(digest, asyncio.Lock())
        try:
            async with lock:
                if hit := self._cached_blob(source, name, digest):
                    return hit
                landed = await self._fetch_blob(upstream, name, digest, what)
                self._link_blob(source, name, digest, landed)
        finally:
            if not lock.locked():
                self._locks.pop(digest, None)
        return self.store.blob_path(digest), landed.size

    async def _fetch_blob(
        self, upstream: up.Upstream, name: str, digest: str, what: str
    ) -> Landed:
        try:
            return await upstream.blob(name, digest, self.store)
        except up.UpstreamUnavailable as exc:
            raise _unavailable(what, str(exc), True) from exc
        except up.UpstreamNotFound as exc:
            raise oci.blob_unknown(digest) from exc
        except up.UpstreamError as exc:
            raise _upstream_failure(exc) from exc

    # -- tags ------------------------------------------------------------------------------

    def _cached_tags(self, source: str, name: str) -> list[str]:
        rows = self.backend.db.all(
            "SELECT tag FROM mirror_tags WHERE source = ? AND name = ? ORDER BY tag",
            (source, name),
        )
        return [row["tag"] for row in rows]

    async def tags(self, source: str, name: str, query: dict[str, str]) -> list[str]:
        upstream = self.upstreams.get(source)
        if upstream is not None:
            try:
                return await upstream.tags(name, query)
            except up.UpstreamNotFound as exc:
                raise oci.name_unknown(name) from exc
            except up.UpstreamUnavailable:
                pass
            except up.UpstreamError as exc:
                raise _upstream_failure(exc) from exc
        tags = self._cached_tags(source, name)
        if not tags:
            raise oci.name_unknown(name)
        return tags
