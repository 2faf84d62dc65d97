"""Blob and upload files on disk.

Blobs live at `<data dir>/blobs/<algorithm>/<2 hex>/<hex>`; an upload in progress is the file
`<data dir>/uploads/<id>`. Bodies are streamed through a bounded buffer, so memory stays
constant whatever the blob size. A blob lands only after its digest was verified, by an atomic
rename of the finished upload file. The running SHA-256 of each upload is kept in memory to
avoid reading the file again at the end; after a restart it is rebuilt from the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from swrlocal.registry import errors

WRITE_BUFFER = 1024 * 1024
READ_CHUNK = 64 * 1024


@dataclass
class _RunningHash:
    size: int
    sha256: hashlib._Hash


def _hash_file(path: Path, algorithm: str, limit: int | None = None) -> hashlib._Hash:
    hasher = hashlib.new(algorithm)
    remaining = limit
    with path.open("rb") as handle:
        while remaining is None or remaining > 0:
            size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
            chunk = handle.read(size)
            if not chunk:
                break
            hasher.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return hasher


def _write(handle: BinaryIO, hasher: hashlib._Hash, data: bytes) -> None:
    handle.write(data)
    hasher.update(data)


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
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self._hashes: dict[str, _RunningHash] = {}
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
        self._hashes[upload_id] = _RunningHash(0, hashlib.sha256())

    def discard_upload(self, upload_id: str) -> None:
        self._hashes.pop(upload_id, None)
        self._locks.pop(upload_id, None)
        self.upload_path(upload_id).unlink(missing_ok=True)

    async def _running_hash(self, upload_id: str, size: int) -> _RunningHash:
        state = self._hashes.get(upload_id)
        if state is None or state.size != size:
            path = self.upload_path(upload_id)
            hasher = await anyio.to_thread.run_sync(_hash_file, path, "sha256")
            state = _RunningHash(size, hasher)
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
        written = 0
        try:
            with path.open("ab") as handle:
                buffer = bytearray()
                async for chunk in chunks:
                    buffer += chunk
                    if len(buffer) >= WRITE_BUFFER:
                        await anyio.to_thread.run_sync(_write, handle, state.sha256, bytes(buffer))
                        written += len(buffer)
                        buffer.clear()
                if buffer:
                    await anyio.to_thread.run_sync(_write, handle, state.sha256, bytes(buffer))
                    written += len(buffer)
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

    async def commit(self, upload_id: str, digest: str) -> int:
        """Verify an upload against `digest` and move it into place; return the blob size.

        On a mismatch the upload is discarded and nothing lands.
        """
        path = self.upload_path(upload_id)
        size = path.stat().st_size
        algorithm, _, expected = digest.partition(":")
        state = self._hashes.get(upload_id)
        if algorithm == "sha256" and state is not None and state.size == size:
            actual = state.sha256.hexdigest()
        else:
            actual = (await anyio.to_thread.run_sync(_hash_file, path, algorithm)).hexdigest()
        if actual != expected:
            self.discard_upload(upload_id)
            raise errors.digest_invalid()
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        await anyio.to_thread.run_sync(_fsync, path)
        os.replace(path, target)
        self._hashes.pop(upload_id, None)
        self._locks.pop(upload_id, None)
        return size

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
