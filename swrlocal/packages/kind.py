"""Whether a repository holds images or software packages.

The first manifest pushed into a repository decides, and the kind never changes afterwards:
an OCI image manifest with an `artifactType`, or whose config is not an image config (oras
pushes `application/vnd.unknown.config.v1+json`), makes a package; everything else (images,
indexes, Docker manifests) an image. A manifest with a `subject` (a signature, an SBOM) never
decides: it describes something else. The registry calls `settle_repository_kind` before it
stores a pushed manifest.
"""

from __future__ import annotations

import json

from swrlocal.db import Database
from swrlocal.registry.manifests import OCI_ARTIFACT, OCI_MANIFEST, Manifest

IMAGE_CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)


def manifest_kind(body: bytes, manifest: Manifest) -> str | None:
    """'package', 'image', or None when the manifest should not decide."""
    if manifest.subject is not None:
        return None
    if manifest.media_type == OCI_ARTIFACT:
        return "package"
    if manifest.media_type != OCI_MANIFEST or manifest.config is None:
        return "image"
    try:
        artifact_type = json.loads(body).get("artifactType")
    except ValueError:
        artifact_type = None
    if artifact_type or manifest.config.media_type not in IMAGE_CONFIG_TYPES:
        return "package"
    return "image"


def settle_repository_kind(
    db: Database, repository_id: int, body: bytes, manifest: Manifest
) -> str:
    """Set the kind of a repository that has no manifest yet; return its kind."""
    kind = manifest_kind(body, manifest)
    if kind is not None:
        db.execute(
            "UPDATE repositories SET kind = ? WHERE id = ? AND kind != ?"
            " AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = ?)",
            (kind, repository_id, kind, repository_id),
        )
    return str(db.scalar("SELECT kind FROM repositories WHERE id = ?", (repository_id,)))
