"""File bytes live in a BlobStore; the database only holds FileInfo rows with blob paths.

The interface is deliberately small (put a finished local file, put bytes, read in chunks,
delete) so an S3-compatible store can implement it with one request per call. Paths are
opaque, relative, ``/``-separated keys chosen by the domain (never by a client), and every
implementation refuses keys that could escape its root.

Uploads are first written to a *staging* file on local disk while the request body streams in
(so a large body is never held in memory and its size/hash are known before anything is
stored); ``put_file`` then moves it into place, which for the local store is a rename.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

CHUNK = 256 * 1024


class BlobStore(Protocol):
    async def put_file(self, key: str, source: Path) -> None:
        """Store the local file ``source`` under ``key``; ``source`` is consumed (moved or deleted)."""

    async def put_bytes(self, key: str, data: bytes) -> None: ...

    def read_chunks(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]: ...

    async def read_bytes(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    def staging_dir(self) -> Path:
        """A local directory for half-received uploads (same filesystem as the store when local)."""


def check_key(key: str) -> PurePosixPath:
    """Refuse empty, absolute, backslashed or ``..`` keys: a key must stay under the store's root."""
    p = PurePosixPath(key)
    if not key or p.is_absolute() or "\\" in key or "\x00" in key or any(part in ("", ".", "..")
                                                                         for part in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}")
    return p


class LocalBlobStore:
    """Blobs as plain files under ``FileSettings.Directory``."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*check_key(key).parts)
        if self.root not in path.parents:
            raise ValueError(f"invalid blob key {key!r}")
        return path

    def staging_dir(self) -> Path:
        path = self.root / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def put_file(self, key: str, source: Path) -> None:
        dest = self._path(key)

        def move() -> None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.move(str(source), dest)  # a rename when staging shares the filesystem
            except BaseException:
                # Across filesystems the move is a copy, which a full disk cuts short: leave no half blob.
                dest.unlink(missing_ok=True)
                raise

        await asyncio.to_thread(move)

    async def put_bytes(self, key: str, data: bytes) -> None:
        dest = self._path(key)

        def write() -> None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            try:
                tmp.write_bytes(data)
                os.replace(tmp, dest)
            except BaseException:
                tmp.unlink(missing_ok=True)  # a full disk leaves no half-written .part behind
                raise

        await asyncio.to_thread(write)

    async def read_chunks(self, key: str, chunk_size: int = CHUNK) -> AsyncIterator[bytes]:
        path = self._path(key)
        fh = await asyncio.to_thread(path.open, "rb")
        try:
            while True:
                chunk = await asyncio.to_thread(fh.read, chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            fh.close()

    async def read_bytes(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, True)


class StagedUpload:
    """One incoming file written to local disk as it arrives, counting bytes and hashing (sha256).

    ``write`` raises ``OverflowError`` as soon as ``limit`` bytes would be exceeded, so an
    oversize upload is refused after at most one extra chunk. Writes are synchronous on purpose:
    they land in the page cache and are far cheaper than a thread hop per 64 KiB chunk.
    """

    def __init__(self, directory: Path, filename: str, limit: int) -> None:
        self.filename = filename
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=directory, prefix="up-")
        self.path = Path(name)
        self._fh: IO[bytes] | None = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        if self.size + len(data) > self.limit:
            raise OverflowError(self.filename)
        assert self._fh is not None
        self._fh.write(data)
        self.size += len(data)
        self._hash.update(data)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def blob_store_for(driver: str, directory: str) -> BlobStore:
    if driver == "local":
        return LocalBlobStore(Path(directory))
    raise ValueError(f"unsupported FileSettings.DriverName {driver!r}")
