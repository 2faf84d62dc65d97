"""Per-account accelerator addresses.

Each account gets one random 8-character prefix per upstream (`dockerhub`, `gcr`), made on the
first look-up and kept. The mirror recognises a prefix in three places (see
docs/packages-and-mirror.md): as the first label of the Host (`<prefix>.<SWR_MIRROR_DOMAIN>`,
Docker's `registry-mirrors` with wildcard DNS), as the first URL path segment
(`/<prefix>/v2/...`, a base URL) and as the first component of the repository name
(`/v2/<prefix>/<name>/...`, containers-registries.conf mirror locations and plain skopeo).
"""

from __future__ import annotations

import secrets
import string

from swrlocal.clock import rfc3339
from swrlocal.db import Database
from swrlocal.settings import BackendSettings
from swrlocal.state import Backend

PREFIX_LENGTH = 8
_ALPHABET = string.ascii_lowercase + string.digits


def _new_prefix() -> str:
    # A letter first, so the prefix is also a valid organization-style name component.
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(_ALPHABET) for _ in range(PREFIX_LENGTH - 1)
    )


def prefix_for(backend: Backend, domain_id: str, source: str) -> str:
    db = backend.db
    with db.transaction():
        existing = db.scalar(
            "SELECT prefix FROM mirror_prefixes WHERE domain_id = ? AND source = ?",
            (domain_id, source),
        )
        if existing is not None:
            return str(existing)
        while True:
            prefix = _new_prefix()
            if not db.one("SELECT 1 FROM mirror_prefixes WHERE prefix = ?", (prefix,)):
                break
        db.execute(
            "INSERT INTO mirror_prefixes (prefix, domain_id, source, created) VALUES (?, ?, ?, ?)",
            (prefix, domain_id, source, rfc3339(backend.clock.now())),
        )
    return prefix


def source_of(db: Database, prefix: str) -> str | None:
    value = db.scalar("SELECT source FROM mirror_prefixes WHERE prefix = ?", (prefix,))
    return None if value is None else str(value)


def mirror_origin(settings: BackendSettings) -> str:
    """`host:port` of the mirror listener as clients reach it."""
    hostname = settings.registry_host.rsplit(":", 1)[0]
    return f"{hostname}:{settings.mirror_port}"


def accelerator_address(settings: BackendSettings, prefix: str) -> str:
    if not settings.mirror_port:
        return ""
    if settings.mirror_domain:
        return f"http://{prefix}.{settings.mirror_domain}"
    return f"http://{mirror_origin(settings)}/{prefix}"
