"""Registry metadata in SQLite: repositories as the registry sees them, blobs, uploads,
manifests and tags."""

from __future__ import annotations

from swrlocal.clock import rfc3339
from swrlocal.db import Database, Row
from swrlocal.identity import Principal
from swrlocal.registry import errors
from swrlocal.registry.manifests import Manifest, invalid
from swrlocal.registry.names import RepoName
from swrlocal.state import Backend

REPOSITORY_SQL = (
    "SELECT repositories.* FROM repositories"
    " JOIN namespaces ON namespaces.id = repositories.namespace_id"
    " WHERE namespaces.name = ? AND repositories.name = ?"
)


def find_repository(db: Database, name: RepoName) -> Row | None:
    return db.one(REPOSITORY_SQL, (name.namespace, name.repository))


def ensure_repository(backend: Backend, principal: Principal, name: RepoName) -> Row | None:
    """The repository, created on first push into an existing organization (as SWR does).

    None when the organization does not exist. The caller has checked the push permission.
    """
    db = backend.db
    with db.transaction():
        namespace = db.one("SELECT id FROM namespaces WHERE name = ?", (name.namespace,))
        if namespace is None:
            return None
        now = rfc3339(backend.clock.now())
        db.execute(
            "INSERT OR IGNORE INTO repositories (namespace_id, name, kind, is_public,"
            " creator_id, creator_name, created, updated) VALUES (?, ?, 'image', 0, ?, ?, ?, ?)",
            (namespace["id"], name.repository, principal.user_id, principal.user_name, now, now),
        )
        return find_repository(db, name)


def touch_repository(backend: Backend, repository_id: int) -> None:
    backend.db.execute(
        "UPDATE repositories SET updated = ? WHERE id = ?",
        (rfc3339(backend.clock.now()), repository_id),
    )


def blob_size(db: Database, repository_id: int, digest: str) -> int | None:
    """Size of a blob the repository can see, else None."""
    value = db.scalar(
        "SELECT blobs.size FROM repository_blobs"
        " JOIN blobs ON blobs.digest = repository_blobs.digest"
        " WHERE repository_blobs.repository_id = ? AND repository_blobs.digest = ?",
        (repository_id, digest),
    )
    return None if value is None else int(value)


def record_blob(backend: Backend, digest: str, size: int, sha512: str | None = None) -> None:
    """Record a blob that landed in the store, whoever brought it (push, mirror, import).

    `sha512` is known when the bytes just streamed through `BlobStore`; it is kept for the
    software package listings, which would otherwise read the whole blob again.
    """
    db, now = backend.db, rfc3339(backend.clock.now())
    with db.transaction():
        db.execute(
            "INSERT OR IGNORE INTO blobs (digest, size, created) VALUES (?, ?, ?)",
            (digest, size, now),
        )
        if sha512 is not None:
            record_sha512(db, digest, sha512, now)


def record_sha512(db: Database, digest: str, sha512: str, now: str) -> None:
    db.execute(
        "INSERT OR IGNORE INTO blob_sha512 (digest, sha512, created) VALUES (?, ?, ?)",
        (digest, sha512, now),
    )


def link_blob(
    backend: Backend, repository_id: int, digest: str, size: int, sha512: str | None = None
) -> None:
    """Record a blob and make it visible to a repository.

    `linked` moves on every link, so the garbage collector spares a blob that was just pushed
    or mounted again even when its first record is old.
    """
    db = backend.db
    with db.transaction():
        record_blob(backend, digest, size, sha512)
        db.execute(
            "INSERT INTO repository_blobs (repository_id, digest, linked) VALUES (?, ?, ?)"
            " ON CONFLICT (repository_id, digest) DO UPDATE SET linked = excluded.linked",
            (repository_id, digest, rfc3339(backend.clock.now())),
        )


def unlink_blob(db: Database, repository_id: int, digest: str) -> bool:
    cursor = db.execute(
        "DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?",
        (repository_id, digest),
    )
    return cursor.rowcount > 0


def create_upload(backend: Backend, upload_id: str, repository_id: int) -> None:
    now = rfc3339(backend.clock.now())
    backend.db.execute(
        "INSERT INTO uploads (id, repository_id, size, created, updated) VALUES (?, ?, 0, ?, ?)",
        (upload_id, repository_id, now, now),
    )


def find_upload(db: Database, upload_id: str, repository_id: int) -> Row | None:
    return db.one(
        "SELECT * FROM uploads WHERE id = ? AND repository_id = ?", (upload_id, repository_id)
    )


def record_upload_size(backend: Backend, upload_id: str, size: int) -> None:
    backend.db.execute(
        "UPDATE uploads SET size = ?, updated = ? WHERE id = ?",
        (size, rfc3339(backend.clock.now()), upload_id),
    )


def delete_upload(db: Database, upload_id: str) -> None:
    db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))


def find_manifest(db: Database, repository_id: int, reference: str, by_digest: bool) -> Row | None:
    if by_digest:
        return db.one(
            "SELECT * FROM manifests WHERE repository_id = ? AND digest = ?",
            (repository_id, reference),
        )
    return db.one(
        "SELECT manifests.* FROM tags JOIN manifests"
        " ON manifests.repository_id = tags.repository_id"
        " AND manifests.digest = tags.manifest_digest"
        " WHERE tags.repository_id = ? AND tags.name = ?",
        (repository_id, reference),
    )


def child_image_size(db: Database, repository_id: int, digest: str) -> int | None:
    value = db.scalar(
        "SELECT image_size FROM manifests WHERE repository_id = ? AND digest = ?",
        (repository_id, digest),
    )
    return None if value is None else int(value)


def _unknown(what: str, digest: str) -> errors.OCIError:
    return errors.OCIError(
        400, errors.MANIFEST_BLOB_UNKNOWN, f"{what} unknown to registry", {"digest": digest}
    )


def image_size(db: Database, repository_id: int, manifest: Manifest) -> int:
    """Check that everything the manifest names is visible in the repository; return its
    image size (see `swrlocal.registry.manifests`). Used by pushes and official imports."""
    for blob in manifest.blobs:
        if blob.external:
            continue
        size = blob_size(db, repository_id, blob.digest)
        if size is None:
            raise _unknown("blob", blob.digest)
        if size != blob.size:
            raise invalid(f"{blob.digest} has {size} bytes, the manifest says {blob.size}")
    if not manifest.is_index:
        return manifest.layer_and_config_size

    total = 0
    for child in manifest.children:
        child_size = child_image_size(db, repository_id, child.digest)
        if child_size is None:
            raise _unknown("manifest", child.digest)
        total += child_size
    return total


def store_manifest(
    backend: Backend,
    repository_id: int,
    digest: str,
    body: bytes,
    manifest: Manifest,
    image_size: int,
    tag: str | None,
) -> None:
    db = backend.db
    now = rfc3339(backend.clock.now())
    config = manifest.config.digest if manifest.config else None
    with db.transaction():
        db.execute(
            "INSERT OR IGNORE INTO manifests (repository_id, digest, media_type, content,"
            " schema_version, is_index, config_digest, image_size, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (repository_id, digest, manifest.media_type, body, manifest.schema_version,
             int(manifest.is_index), config, image_size, now),
        )
        references = [(blob.digest, "blob") for blob in manifest.blobs if not blob.external]
        references += [(child.digest, "manifest") for child in manifest.children]
        db.conn.executemany(
            "INSERT OR IGNORE INTO manifest_references (repository_id, manifest_digest,"
            " child_digest, child_kind) VALUES (?, ?, ?, ?)",
            [(repository_id, digest, child, kind) for child, kind in references],
        )
        if tag is not None:
            db.execute(
                "INSERT INTO tags (repository_id, name, manifest_digest, created, updated)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (repository_id, name) DO UPDATE SET"
                " manifest_digest = excluded.manifest_digest, updated = excluded.updated",
                (repository_id, tag, digest, now, now),
            )
        touch_repository(backend, repository_id)


def delete_manifest(backend: Backend, repository_id: int, digest: str) -> bool:
    """Remove a manifest; its tags and references go with it (foreign keys cascade)."""
    with backend.db.transaction():
        cursor = backend.db.execute(
            "DELETE FROM manifests WHERE repository_id = ? AND digest = ?",
            (repository_id, digest),
        )
        if cursor.rowcount:
            touch_repository(backend, repository_id)
    return cursor.rowcount > 0


def delete_tag(backend: Backend, repository_id: int, tag: str) -> bool:
    with backend.db.transaction():
        cursor = backend.db.execute(
            "DELETE FROM tags WHERE repository_id = ? AND name = ?", (repository_id, tag)
        )
        if cursor.rowcount:
            touch_repository(backend, repository_id)
    return cursor.rowcount > 0


def count_pull(db: Database, repository_id: int) -> None:
    db.execute(
        "UPDATE repositories SET num_download = num_download + 1 WHERE id = ?", (repository_id,)
    )


def tag_names(db: Database, repository_id: int, last: str, limit: int) -> list[str]:
    rows = db.all(
        "SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?",
        (repository_id, last, limit),
    )
    return [row["name"] for row in rows]


def all_repositories(db: Database) -> list[Row]:
    return db.all(
        "SELECT namespaces.name || '/' || repositories.name AS full_name,"
        " namespaces.name AS namespace_name, repositories.name AS repository_name"
        " FROM repositories JOIN namespaces ON namespaces.id = repositories.namespace_id"
        " ORDER BY full_name"
    )
