"""Where official images live: public repositories of the `library` organization, owned by a
system account that has no users (so no one manages them through the Manage API, and they
show up in nobody's own repository list)."""

from __future__ import annotations

from swrlocal.clock import rfc3339
from swrlocal.db import Database, Row
from swrlocal.identity import IdentityError, create_account
from swrlocal.state import Backend

SYSTEM_ACCOUNT = "swr-official-images"
SYSTEM_CREATOR = "system"
OFFICIAL_NAMESPACE = "library"


def system_domain_id(db: Database) -> str | None:
    value = db.scalar("SELECT id FROM domains WHERE name = ?", (SYSTEM_ACCOUNT,))
    return None if value is None else str(value)


def _ensure_namespace(backend: Backend) -> Row:
    db, now = backend.db, rfc3339(backend.clock.now())
    domain_id = system_domain_id(db) or create_account(db, SYSTEM_ACCOUNT, backend.clock)
    row = db.one("SELECT * FROM namespaces WHERE name = ?", (OFFICIAL_NAMESPACE,))
    if row is None:
        db.execute(
            "INSERT INTO namespaces (name, domain_id, creator_id, creator_name, created)"
            " VALUES (?, ?, ?, ?, ?)",
            (OFFICIAL_NAMESPACE, domain_id, domain_id, SYSTEM_CREATOR, now),
        )
        row = db.one("SELECT * FROM namespaces WHERE name = ?", (OFFICIAL_NAMESPACE,))
    assert row is not None
    if row["domain_id"] != domain_id:
        raise IdentityError(
            f"organization {OFFICIAL_NAMESPACE!r} belongs to another account;"
            " official images need it for themselves"
        )
    return row


def ensure_repository(backend: Backend, name: str, description: str | None) -> Row:
    """The official repository `library/<name>`, created public on first import."""
    db, now = backend.db, rfc3339(backend.clock.now())
    with db.transaction():
        namespace = _ensure_namespace(backend)
        db.execute(
            "INSERT OR IGNORE INTO repositories (namespace_id, name, kind, is_public,"
            " creator_id, creator_name, created, updated) VALUES (?, ?, 'image', 1, ?, ?, ?, ?)",
            (namespace["id"], name, namespace["domain_id"], SYSTEM_CREATOR, now, now),
        )
        if description is not None:
            db.execute(
                "UPDATE repositories SET description = ? WHERE namespace_id = ? AND name = ?",
                (description, namespace["id"], name),
            )
        row = db.one(
            "SELECT * FROM repositories WHERE namespace_id = ? AND name = ?",
            (namespace["id"], name),
        )
    assert row is not None
    return row
