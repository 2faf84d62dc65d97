"""Garbage collection of the blob store (`swr-local gc`).

It runs beside a serving backend: SQLite is in WAL mode, the reads happen outside any
transaction, and the deletes are one short write transaction, so the server waits at most a few
milliseconds. Nothing younger than `max_age` is touched, whatever refers to it, because a client
may be between pushing a blob and pushing the manifest that names it.

A blob file stays while a manifest of any repository names it (`manifest_references`), the pull
accelerator cached it (`mirror_blobs`), or a repository linked it within `max_age` (upload,
mount, import). Otherwise the file goes with its `blobs`, `repository_blobs` and `blob_sha512`
rows. Uploads whose row and file did not change for `max_age` are abandoned and removed, as are
leftover files in `uploads/` (without a row) and `fetches/` (a fetch cut short by a crash).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from swrlocal.clock import rfc3339
from swrlocal.db import Database
from swrlocal.registry.blobstore import BlobStore

DEFAULT_MAX_AGE = timedelta(hours=24)
_STILL_NEEDED = (
    "SELECT EXISTS (SELECT 1 FROM manifest_references"
    "               WHERE child_digest = :digest AND child_kind = 'blob')"
    " OR EXISTS (SELECT 1 FROM mirror_blobs WHERE digest = :digest)"
    " OR EXISTS (SELECT 1 FROM repository_blobs WHERE digest = :digest AND linked > :cutoff)"
    " OR EXISTS (SELECT 1 FROM blobs WHERE digest = :digest AND created > :cutoff)"
)


@dataclass(frozen=True)
class Freed:
    kind: str  # "blob", "upload" or "fetch"
    name: str
    size: int


def collect(db: Database, data_dir: Path, now: datetime, max_age: timedelta) -> list[Freed]:
    """Remove what nothing needs any more; return what was freed."""
    store = BlobStore(data_dir)
    cutoff = now - max_age
    return [
        *_blobs(db, store, cutoff),
        *_uploads(db, store, cutoff),
        *(Freed("fetch", path.name, size) for path, size in _unlink_old(store.fetches_dir, cutoff)),
    ]


def summary(freed: list[Freed]) -> str:
    counts = {kind: sum(1 for item in freed if item.kind == kind) for kind in ("blob", "upload")}
    total = sum(item.size for item in freed)
    return f"freed {counts['blob']} blobs, {counts['upload']} uploads, {total} bytes"


def _old_files(directory: Path, cutoff: datetime) -> Iterator[tuple[Path, int]]:
    """Files not written since `cutoff`; a recent write may be a push in flight."""
    limit = cutoff.timestamp()
    for path in directory.rglob("*"):
        try:
            status = path.stat()
        except FileNotFoundError:  # landed or discarded meanwhile
            continue
        if path.is_file() and status.st_mtime <= limit:
            yield path, status.st_size


def _unlink_old(directory: Path, cutoff: datetime) -> list[tuple[Path, int]]:
    gone = list(_old_files(directory, cutoff))
    for path, _size in gone:
        path.unlink(missing_ok=True)
    return gone


def _blobs(db: Database, store: BlobStore, cutoff: datetime) -> list[Freed]:
    candidates = list(_old_files(store.blobs_dir, cutoff))
    freed = []
    with db.transaction():
        for path, size in candidates:
            digest = f"{path.parent.parent.name}:{path.name}"
            if db.scalar(_STILL_NEEDED, {"digest": digest, "cutoff": rfc3339(cutoff)}):
                continue
            for table in ("repository_blobs", "blob_sha512", "blobs"):
                db.execute(f"DELETE FROM {table} WHERE digest = ?", (digest,))
            # Inside the transaction: a concurrent link of this digest waits for us, then
            # finds no row and no file, as for any unknown blob.
            path.unlink(missing_ok=True)
            freed.append(Freed("blob", digest, size))
    return freed


def _uploads(db: Database, store: BlobStore, cutoff: datetime) -> list[Freed]:
    stamp = rfc3339(cutoff)
    freed = []
    with db.transaction():
        for path, size in _old_files(store.uploads_dir, cutoff):
            updated = db.scalar("SELECT updated FROM uploads WHERE id = ?", (path.name,))
            if updated is not None and updated > stamp:
                continue
            db.execute("DELETE FROM uploads WHERE id = ?", (path.name,))
            path.unlink(missing_ok=True)
            freed.append(Freed("upload", path.name, size))
        # Rows whose file is already gone (the data directory was cleaned by hand).
        for row in db.all("SELECT id FROM uploads WHERE updated <= ?", (stamp,)):
            if not store.upload_path(row["id"]).exists():
                db.execute("DELETE FROM uploads WHERE id = ?", (row["id"],))
                freed.append(Freed("upload", row["id"], 0))
    return freed
