"""Parsing and validation of pushed manifests and indexes.

Accepted: Docker image manifest (schema 2), Docker manifest list, OCI image manifest (also with
`artifactType`, as oras pushes), OCI index and the short-lived OCI artifact manifest. Docker
schema 1 is refused, as distribution does by default.

`image_size` is what the Manage API reports as a tag's `size`: the config size plus the sum of
the layer sizes for an image (the descriptors' sizes), and for an index the sum of its child
manifests' `image_size` (the bytes needed to pull every platform, shared layers counted once per
platform).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from swrlocal.registry import errors
from swrlocal.registry.names import is_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_ARTIFACT = "application/vnd.oci.artifact.manifest.v1+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
MANIFEST_TYPES = (*IMAGE_TYPES, *INDEX_TYPES, OCI_ARTIFACT)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    # Non-distributable layers carry `urls` and are fetched from there, not from us.
    external: bool = False


@dataclass
class Manifest:
    media_type: str
    schema_version: int
    is_index: bool
    config: Descriptor | None = None
    blobs: list[Descriptor] = field(default_factory=list)  # config and layers
    children: list[Descriptor] = field(default_factory=list)  # index entries
    subject: str | None = None

    @property
    def layer_and_config_size(self) -> int:
        return sum(blob.size for blob in self.blobs)


def invalid(message: str) -> errors.OCIError:
    return errors.OCIError(400, errors.MANIFEST_INVALID, message)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise invalid(f"{where} is not a descriptor object")
    digest, size, media_type = value.get("digest"), value.get("size"), value.get("mediaType")
    if not isinstance(digest, str) or not is_digest(digest):
        raise invalid(f"{where} has an invalid digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise invalid(f"{where} has an invalid size")
    if not isinstance(media_type, str) or not media_type:
        raise invalid(f"{where} has no mediaType")
    return Descriptor(media_type, digest, size, bool(value.get("urls")))


def _descriptors(document: dict[str, Any], key: str, required: bool) -> list[Descriptor]:
    items = document.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list):
        raise invalid(f"`{key}` must be a list")
    return [_descriptor(item, f"{key}[{i}]") for i, item in enumerate(items)]


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    header = (content_type or "").split(";")[0].strip().lower()
    if declared is not None and not isinstance(declared, str):
        raise invalid("`mediaType` must be a string")
    if declared and header in MANIFEST_TYPES and header != declared:
        raise invalid(f"Content-Type {header} differs from the manifest's mediaType {declared}")
    media_type = declared or header
    if media_type in SCHEMA1 or document.get("schemaVersion") == 1:
        raise invalid("Docker schema 1 manifests are not supported")
    if media_type not in MANIFEST_TYPES:
        raise invalid(f"unsupported manifest media type {media_type!r}")
    return media_type


def parse(body: bytes, content_type: str | None) -> Manifest:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise invalid("manifest must be a JSON object")
    media_type = _media_type(document, content_type)
    subject = document.get("subject")
    subject_digest = _descriptor(subject, "subject").digest if subject is not None else None

    if media_type == OCI_ARTIFACT:
        blobs = _descriptors(document, "blobs", required=False)
        return Manifest(media_type, 2, False, None, blobs, subject=subject_digest)
    if document.get("schemaVersion") != 2:
        raise invalid("`schemaVersion` must be 2")
    if media_type in INDEX_TYPES:
        children = _descriptors(document, "manifests", required=True)
        return Manifest(media_type, 2, True, children=children, subject=subject_digest)
    config = _descriptor(document.get("config"), "config")
    layers = _descriptors(document, "layers", required=True)
    return Manifest(media_type, 2, False, config, [config, *layers], subject=subject_digest)


def accepts(accept_header: str, media_type: str) -> bool:
    """Whether the client's `Accept` list takes `media_type`; no list means anything goes."""
    offered = [part.split(";")[0].strip().lower() for part in accept_header.split(",")]
    offered = [item for item in offered if item]
    return not offered or "*/*" in offered or media_type in offered
