"""Owner-only files for key material: the shared plumbing of the on-disk key stores.

:mod:`sealwright.keys.local_keyring`, :mod:`sealwright.keys.signing` and the local PKI
(:mod:`sealwright.sealing.pki`) keep secrets in a directory of their own. The rules are the
ones ``ssh`` applies to ``~/.ssh``: the directory is ``0o700``, each secret file ``0o600``,
and a secret file that group or others could read is refused rather than silently used -- a
key that may already have leaked must not go on protecting documents. Files are never
overwritten in place: a new file is written to a temporary name, flushed, and hard-linked to
its final name (which fails if the name exists); a file that must change (the small JSON
index, a renewed certificate) is replaced with ``os.replace``. A crash therefore leaves
either the old state or the new one, never a half-written key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sealwright.errors import ConfigurationError

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
INDEX_NAME = "index.json"
_LOCK_NAME = ".lock"


def ensure_private_directory(directory: Path, *, label: str = "key directory") -> None:
    """Create ``directory`` as ``0o700`` if missing; refuse one that others can enter.

    ``label`` names the directory in error messages (e.g. ``"PKI directory"``).
    """
    try:
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        info = os.stat(directory, follow_symlinks=False)
    except OSError as exc:
        raise ConfigurationError(f"cannot create {label} {directory}: {exc}") from exc
    _require_owner_only(
        info,
        f"{label} {directory}",
        is_kind=stat.S_ISDIR,
        kind="a directory",
        remedy=f"run `chmod 700 {directory}`",
    )


def read_private_file(path: Path, *, label: str = "key file") -> bytes:
    """Read a secret file, refusing symlinks and files with any group/other permission.

    ``label`` names the file in error messages (e.g. ``"private key"``).
    """
    try:
        # O_NOFOLLOW and fstat on the open descriptor: the file checked is the file read.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigurationError(f"cannot open {label} {path}: {exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        _require_owner_only(
            os.fstat(handle.fileno()),
            f"{label} {path}",
            is_kind=stat.S_ISREG,
            kind="a regular file",
            remedy=(
                f"refusing to use a key that may have leaked. If it is safe, run "
                f"`chmod 600 {path}`; otherwise rotate."
            ),
        )
        return handle.read()


def _require_owner_only(
    info: os.stat_result, what: str, *, is_kind: Callable[[int], bool], kind: str, remedy: str
) -> None:
    if not is_kind(info.st_mode):
        raise ConfigurationError(f"{what} is not {kind}")
    if info.st_mode & 0o077:
        raise ConfigurationError(
            f"{what} is accessible to group/others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); {remedy}"
        )


def _write_temporary(directory: Path, data: bytes, mode: int) -> Path:
    temporary = directory / f".tmp-{secrets.token_hex(8)}"
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode
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


def create_private_file(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Atomically create ``path`` (``mode``, ``0o600`` unless given) holding ``data``.

    Fails if ``path`` already exists: a hard link never overwrites, so a key is never
    silently replaced.
    """
    temporary = _write_temporary(path.parent, data, mode)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def replace_private_file(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Atomically replace ``path`` (``mode``, ``0o600`` unless given) with ``data``."""
    temporary = _write_temporary(path.parent, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
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
    replace_private_file(directory / INDEX_NAME, data)


def read_or_create_index(
    directory: Path, create: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """The index of ``directory``, and whether this call created it.

    On first run the index is the one ``create`` makes (after creating the first key), and
    is written. ``create`` runs under :func:`directory_lock`, and only if no other process
    has written an index meanwhile, so concurrent first runs agree on one index.
    """
    index = read_index(directory)
    if index is not None:
        return index, False
    with directory_lock(directory):
        # Another process may have won the race to create the first key.
        index = read_index(directory)
        if index is not None:
            return index, False
        index = create()
        write_index(directory, index)
    return index, True


def parse_index(
    directory: Path,
    index: Mapping[str, object],
    *,
    fixed: Mapping[str, object],
    ids_member: str,
    id_pattern: re.Pattern[str],
    label: str = "key index",
) -> tuple[str, list[str]]:
    """Check an index and return its ``current`` id and its list of ids (``ids_member``).

    Every member of ``fixed`` must have exactly that value; each id must match
    ``id_pattern`` in full -- ids become file names, and anything but the generated shape
    could escape the directory -- and ``current`` must be one of them.
    """
    current, ids = index.get("current"), index.get(ids_member)
    if (
        any(index.get(name) != value for name, value in fixed.items())
        or not isinstance(current, str)
        or not isinstance(ids, list)
        or not all(isinstance(i, str) and id_pattern.fullmatch(i) for i in ids)
        or current not in ids
    ):
        raise ConfigurationError(f"{label} in {directory} is damaged")
    return current, [str(i) for i in ids]


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
