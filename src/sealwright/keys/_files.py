"""Owner-only files for key material: the shared plumbing of the on-disk key stores.

Both :mod:`sealwright.keys.local_keyring` and :mod:`sealwright.keys.signing` keep secrets in
a directory of their own. The rules are the ones ``ssh`` applies to ``~/.ssh``: the directory
is ``0o700``, each secret file ``0o600``, and a secret file that group or others could read
is refused rather than silently used -- a key that may already have leaked must not go on
protecting documents. Files are never overwritten in place: a new key is written to a
temporary name, flushed, and hard-linked to its final name (which fails if the name exists);
the small JSON index is replaced with ``os.replace``. A crash therefore leaves either the
old state or the new one, never a half-written key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sealwright.errors import ConfigurationError

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
INDEX_NAME = "index.json"
_LOCK_NAME = ".lock"


def ensure_private_directory(directory: Path) -> None:
    """Create ``directory`` as ``0o700`` if missing; refuse one that others can enter."""
    try:
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        info = os.stat(directory, follow_symlinks=False)
    except OSError as exc:
        raise ConfigurationError(f"cannot create key directory {directory}: {exc}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"key directory {directory} is not a directory")
    if info.st_mode & 0o077:
        raise ConfigurationError(
            f"key directory {directory} is accessible to group/others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 700 {directory}`"
        )


def read_private_file(path: Path) -> bytes:
    """Read a secret file, refusing symlinks and files with any group/other permission."""
    try:
        # O_NOFOLLOW and fstat on the open descriptor: the file checked is the file read.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigurationError(f"cannot open key file {path}: {exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise ConfigurationError(
                f"key file {path} is accessible to group/others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); refusing to use a key that may "
                f"have leaked. If it is safe, run `chmod 600 {path}`; otherwise rotate."
            )
        return handle.read()


def _write_temporary(directory: Path, data: bytes) -> Path:
    temporary = directory / f".tmp-{secrets.token_hex(8)}"
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_private_file(path: Path, data: bytes) -> None:
    """Atomically create ``path`` (``0o600``) holding ``data``; fail if it already exists."""
    temporary = _write_temporary(path.parent, data)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def read_index(directory: Path) -> dict[str, Any] | None:
    """The parsed index, or ``None`` if the directory has none yet."""
    path = directory / INDEX_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read key index {path}: {exc}") from exc
    try:
        index = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f"key index {path} is not valid JSON") from exc
    if not isinstance(index, dict):
        raise ConfigurationError(f"key index {path} is not a JSON object")
    return index


def write_index(directory: Path, index: dict[str, Any]) -> None:
    """Replace the index atomically (write, fsync, rename, fsync the directory)."""
    data = json.dumps(index, indent=2, sort_keys=True).encode() + b"\n"
    temporary = _write_temporary(directory, data)
    try:
        os.replace(temporary, directory / INDEX_NAME)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Serialise first-run creation and rotation between processes sharing ``directory``."""
    fd = os.open(
        directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
