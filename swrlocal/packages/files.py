"""The files of a package version: the layers of its manifest, named by their
`org.opencontainers.image.title` annotation.

A title `docs/guide/a.txt` is file `a.txt` in folder `/docs/guide`; a bare `a.txt` lives in
folder `/`. Layers without a title are not files (oras skips them on pull too), and titles
that climb out of the package (`..`) are ignored. The SHA-512 the contract shows is recorded in
`blob_sha512` by the registry when a blob lands (`swrlocal.registry.meta.record_blob`).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from swrlocal.clock import rfc3339
from swrlocal.registry import meta
from swrlocal.state import Backend

TITLE = "org.opencontainers.image.title"
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PackageFile:
    folder: str
    filename: str
    digest: str
    size: int
    media_type: str


def split_title(title: str) -> tuple[str, str] | None:
    """(folder, filename) of a layer title, or None when it names no file of the package."""
    path = posixpath.normpath("/" + title.strip().lstrip("/"))
    if path == "/" or "\x00" in path or title.split("/").count("..") > 0:
        return None
    folder, filename = posixpath.split(path)
    return folder, filename


def manifest_files(content: bytes) -> list[PackageFile]:
    try:
        document = json.loads(content)
    except ValueError:
        return []
    layers = document.get("layers") or document.get("blobs") or []
    found: dict[tuple[str, str], PackageFile] = {}
    for layer in layers if isinstance(layers, list) else []:
        title = ((layer or {}).get("annotations") or {}).get(TITLE)
        place = split_title(title) if isinstance(title, str) else None
        if place is None:
            continue
        # A later layer with the same path wins, as oras pull overwrites.
        found[place] = PackageFile(*place, str(layer.get("digest")), int(layer.get("size", 0)),
                                   str(layer.get("mediaType", "")))
    return list(found.values())


def _hash_file(path: Path) -> str:
    hasher = hashlib.sha512()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


async def sha512_of(backend: Backend, blob_path: Path, digest: str) -> str:
    """The blob's SHA-512, recorded when it landed; blobs stored before that was done are
    hashed here once (streaming, in a worker thread) and recorded the same way."""
    known = backend.db.scalar("SELECT sha512 FROM blob_sha512 WHERE digest = ?", (digest,))
    if known is not None:
        return str(known)
    value = await anyio.to_thread.run_sync(_hash_file, blob_path)
    meta.record_sha512(backend.db, digest, value, rfc3339(backend.clock.now()))
    return value
