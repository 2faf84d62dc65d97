"""Blob and upload files on disk.

Blobs live at `<data dir>/blobs/<algorithm>/<2 hex>/<hex>`; a client's upload in progress is the
file `<data dir>/uploads/<id>`, and a blob the backend fetches itself (mirror, official import)
is staged in `<data dir>/fetches/`. Bodies are streamed through a bounded buffer, so memory stays
constant whatever the blob size. A blob lands only after its digest was verified, by an atomic
rename of the finished upload file. The running SHA-256 and SHA-512 of each upload are kept in
memory to avoid reading the file again at the end; after a restart they are rebuilt from the
file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from swrlocal.registry import errors

WRITE_BUFFER = 1024 * 1024
READ_CHUNK = 64 * 1024
# Staging area of blobs the backend fetches itself; see `BlobStore.fetch`.
FETCHES = "fetches"


@dataclass(frozen=True)
class Landed:
    """A verified blob in place: its size and the SHA-512 that software packages show."""

    size: int
    sha512: str


class _Hashes:
    """The running SHA-256 (the registry's digests) and SHA-512 (package listings) of a file;
    both come from one pass over the bytes, so a landed blob is never read again for them."""

    def __init__(self, size: int = 0) -> None:
        self.size = size
        self.sha256 = hashlib.sha256()
        self.sha512 = hashlib.sha512()

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        self.sha512.update(data)

    def hexdigest(self, algorithm: str) -> str:
        return (self.sha512 if algorithm == "sha512" else self.sha256).hexdigest()


def _hash_file(path: Path) -> _Hashes:
    hashes = _Hashes(path.stat().st_size)
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            hashes.update(chunk)
    return hashes


def _write(handle: BinaryIO, hashes: _Hashes, data: bytes) -> None:
    handle.write(data)
    hashes.update(data)


async def _copy_in(handle: BinaryIO, hashes: _Hashes, chunks: AsyncIterator[bytes]) -> int:
    """Write a stream through a bounded buffer; return the number of bytes written."""
    written = 0
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= WRITE_BUFFER:
            await anyio.to_thread.run_sync(_write, handle, hashes, bytes(buffer))
            written += len(buffer)
            buffer.clear()
    if buffer:
        await anyio.to_thread.run_sync(_write, handle, hashes, bytes(buffer))
        written += len(buffer)
    return written


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as handle:
        handle.truncate(size)


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


class BlobStore:
    def __init__(self, data_dir: Path) -> None:
        self.blobs_dir = data_dir / "blobs"
        self.uploads_dir = data_dir / "uploads"
        self.fetches_dir = data_dir / FETCHES
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.fetches_dir.mkdir(parents=True, exist_ok=True)
        self._hashes: dict[str, _Hashes] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.blobs_dir / algorithm / hexdigest[:2] / hexdigest

    def upload_path(self, upload_id: str) -> Path:
        return self.uploads_dir / upload_id

    def upload_size(self, upload_id: str) -> int | None:
        try:
            return self.upload_path(upload_id).stat().st_size
        except FileNotFoundError:
            return None

    def lock(self, upload_id: str) -> asyncio.Lock:
        """Requests on one upload run one after the other, so offsets stay meaningful."""
        return self._locks.setdefault(upload_id, asyncio.Lock())

    def create_upload(self, upload_id: str) -> None:
        self.upload_path(upload_id).touch(exist_ok=False)
        self._hashes[upload_id] = _Hashes()

    def discard_upload(self, upload_id: str) -> None:
        self._hashes.pop(upload_id, None)
        self._locks.pop(upload_id, None)
        self.upload_path(upload_id).unlink(missing_ok=True)

    async def _running_hash(self, upload_id: str, size: int) -> _Hashes:
        state = self._hashes.get(upload_id)
        if state is None or state.size != size:
            path = self.upload_path(upload_id)
            state = await anyio.to_thread.run_sync(_hash_file, path)
            self._hashes[upload_id] = state
        return state

    async def append(
        self, upload_id: str, chunks: AsyncIterator[bytes], expected: int | None = None
    ) -> int:
        """Append a request body to an upload; return the new size.

        The chunk is all or nothing: when the client goes away or sends a different length
        than announced, the file is cut back to where the chunk started.
        """
        path = self.upload_path(upload_id)
        start = path.stat().st_size
        state = await self._running_hash(upload_id, start)
        try:
            with path.open("ab") as handle:
                written = await _copy_in(handle, state, chunks)
            if expected is not None and written != expected:
                raise errors.OCIError(
                    400, errors.SIZE_INVALID,
                    f"chunk has {written} bytes, Content-Range announced {expected}",
                )
        except BaseException:
            self._hashes.pop(upload_id, None)
            await anyio.to_thread.run_sync(_truncate, path, start)
            raise
        state.size = start + written
        return state.size

    async def commit(self, upload_id: str, digest: str) -> Landed:
        """Verify an upload against `digest` and move it into place.

        On a mismatch the upload is discarded and nothing lands.
        """
        path = self.upload_path(upload_id)
        state = await self._running_hash(upload_id, path.stat().st_size)
        try:
            landed = await self._land(path, state, digest)
        except errors.OCIError:
            self.discard_upload(upload_id)
            raise
        self._hashes.pop(upload_id, None)
        self._locks.pop(upload_id, None)
        return landed

    async def fetch(self, chunks: AsyncIterator[bytes], digest: str) -> Landed:
        """Land a blob the backend fetches itself (pull-through mirror, official import).

        It is staged under `<data dir>/fetches/`, not `uploads/`: no `uploads` row describes
        it, and the file is gone when this returns, landed or not.
        """
        path = self.fetches_dir / secrets.token_hex(16)
        hashes = _Hashes()
        try:
            with path.open("xb") as handle:
                hashes.size = await _copy_in(handle, hashes, chunks)
            return await self._land(path, hashes, digest)
        finally:
            path.unlink(missing_ok=True)

    async def _land(self, path: Path, hashes: _Hashes, digest: str) -> Landed:
        algorithm, _, expected = digest.partition(":")
        if hashes.hexdigest(algorithm) != expected:
            raise errors.digest_invalid()
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        await anyio.to_thread.run_sync(_fsync, path)
        os.replace(path, target)
        return Landed(hashes.size, hashes.sha512.hexdigest())

    def read(self, digest: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes `start..end` (inclusive) of a blob, in bounded chunks."""
        with self.blob_path(digest).open("rb") as handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(READ_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
