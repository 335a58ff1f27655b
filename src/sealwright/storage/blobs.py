"""Blob storage: the port, and the filesystem adapter that is the embedded default.

Blobs are opaque byte streams under a key such as ``documents/3f2a/original.swe1``. Sealwright
stores only ciphertext here (see :mod:`sealwright.keys.aead`), so the store need not be
trusted with confidentiality -- but it is trusted not to hand one blob out under another's
key, which is why keys are validated strictly before they touch a path.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from sealwright.errors import Conflict, NotFound, ValidationError

READ_CHUNK_SIZE = 64 * 1024
_MAX_KEY_LENGTH = 512
# Every "/"-separated segment starts with [a-z0-9], which rules out "", ".", ".." and hidden
# names, so keys can never escape the root nor collide with the store's ".tmp-" files.
_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*")


class BlobStore(Protocol):
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the stream under ``key`` (replacing any blob there) and return its length.

        Atomic: readers see the old blob or the whole new one, never part of it; if
        ``chunks`` raises, nothing is stored.
        """
        ...

    def get(self, key: str) -> Iterator[bytes]:
        """The blob's bytes in chunks. Raises ``NotFound`` at once if there is no blob."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; deleting a missing blob is not an error, so retries are safe."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is an acceptable blob key; raise ``ValidationError`` if not."""
    if len(key) > _MAX_KEY_LENGTH or not _KEY.fullmatch(key) or ".." in key:
        raise ValidationError(f"invalid blob key {key!r}")
    return key


class FilesystemBlobStore:
    """Blobs as ``0o600`` files under ``root`` (directories ``0o700``), created on first put."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*validate_key(key).split("/"))

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        path = self._path(key)
        try:
            self._make_directories(path.parent)
        except (FileExistsError, NotADirectoryError) as exc:
            raise Conflict(f"blob key {key!r} runs through an existing blob") from exc
        temporary = path.parent / f".tmp-{secrets.token_hex(8)}"
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                written = 0
                for chunk in chunks:
                    handle.write(chunk)
                    written += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.replace(temporary, path)
            except IsADirectoryError as exc:
                raise Conflict(f"blob key {key!r} is a prefix of other blobs") from exc
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        return written

    def _make_directories(self, directory: Path) -> None:
        # Level by level: mkdir(parents=True) would give the intermediate levels the
        # default mode instead of 0o700. (umask can only narrow the mode further.)
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        current = self._root
        for part in directory.relative_to(self._root).parts:
            current = current / part
            current.mkdir(mode=0o700, exist_ok=True)

    def get(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            # Opened now, not on first iteration: a missing blob fails at the call, and a
            # blob replaced or deleted while being read is still read whole (POSIX).
            handle = open(path, "rb")  # noqa: SIM115 -- closed by _FileChunks
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise NotFound(f"no blob {key!r}") from exc
        return _FileChunks(handle)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            path.unlink()
            _fsync_directory(path.parent)

    def __repr__(self) -> str:
        return f"FilesystemBlobStore(root={str(self._root)!r})"


class _FileChunks(Iterator[bytes]):
    """Iterates a file in chunks and closes it at the end, on ``close()``, or when dropped."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def __next__(self) -> bytes:
        if self._handle.closed:
            raise StopIteration
        chunk = self._handle.read(READ_CHUNK_SIZE)
        if not chunk:
            self._handle.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._handle.close()

    def __del__(self) -> None:
        # An abandoned reader must not leak a descriptor (or a ResourceWarning).
        self._handle.close()


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
