"""The evidence bundle's deterministic ZIP container (docs/evidence-bundle.md §Container).

The writer emits one exact byte layout for a given set of entries: stored (uncompressed)
entries sorted by name, fixed 1980-01-01 timestamps, fixed attributes, no extra fields,
no comments, no directory entries, no data descriptors, no ZIP64. It is written out by
hand rather than through :mod:`zipfile` so that the layout is the one documented, not
whatever a given CPython version happens to produce.

The reader parses with :mod:`zipfile` (which also checks every CRC-32), rebuilds the
container from the entries it found and demands byte equality. So no byte of the file
-- header, timestamp, padding, trailing garbage -- can change without the reader
refusing it.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping

from sealwright.errors import VerificationFailed

__all__ = ["ENTRY_NAME", "read_container", "write_container"]

#: Entry names: ASCII path segments that do not start with a dot (so no "..", no hidden
#: files) and no trailing slash (so no directory entries).
ENTRY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")

_VERSION = 20  # "2.0": what stored entries need
_MADE_BY = (3 << 8) | _VERSION  # host system 3 = UNIX, so external_attr carries a mode
_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
_EXTERNAL_ATTR = 0o100644 << 16  # regular file, rw-r--r--
_LIMIT = 0xFFFFFFFF  # beyond this ZIP64 would be needed, which the format excludes
_MAX_ENTRIES = 0xFFFF


def _check_name(name: str) -> bytes:
    if not ENTRY_NAME.fullmatch(name):
        raise ValueError(f"invalid entry name {name!r}")
    return name.encode("ascii")


def write_container(entries: Mapping[str, bytes]) -> bytes:
    """The canonical container holding ``entries`` (name -> content)."""
    if len(entries) > _MAX_ENTRIES:
        raise ValueError("too many entries for a ZIP without ZIP64")
    out = io.BytesIO()
    central = io.BytesIO()
    for name in sorted(entries):
        raw_name, data = _check_name(name), entries[name]
        offset = out.tell()
        if len(data) > _LIMIT or offset > _LIMIT:
            raise ValueError("container too large for a ZIP without ZIP64")
        crc = zlib.crc32(data)
        out.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,  # local file header signature
                _VERSION,  # version needed to extract
                0,  # general purpose flags
                0,  # compression method: stored
                _DOS_TIME,
                _DOS_DATE,
                crc,
                len(data),  # compressed size
                len(data),  # uncompressed size
                len(raw_name),
                0,  # extra field length
            )
        )
        out.write(raw_name)
        out.write(data)
        central.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,  # central directory header signature
                _MADE_BY,
                _VERSION,
                0,
                0,
                _DOS_TIME,
                _DOS_DATE,
                crc,
                len(data),
                len(data),
                len(raw_name),
                0,  # extra field length
                0,  # comment length
                0,  # disk number start
                0,  # internal attributes
                _EXTERNAL_ATTR,
                offset,
            )
        )
        central.write(raw_name)
    directory = central.getvalue()
    start = out.tell()
    if start > _LIMIT:
        raise ValueError("container too large for a ZIP without ZIP64")
    out.write(directory)
    out.write(
        struct.pack(
            "<IHHHHIIH",
            0x06054B50,  # end of central directory signature
            0,  # number of this disk
            0,  # disk where the central directory starts
            len(entries),
            len(entries),
            len(directory),
            start,
            0,  # comment length
        )
    )
    return out.getvalue()


def read_container(data: bytes) -> dict[str, bytes]:
    """Entries of a canonical container. Raises :class:`VerificationFailed` naming the
    problem if ``data`` is not a ZIP, a CRC does not match, a name repeats or is not
    allowed, or ``data`` differs in any byte from the canonical layout of its entries."""
    entries: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.filename in entries:
                    raise VerificationFailed(f"entry {info.filename!r} appears twice")
                if not ENTRY_NAME.fullmatch(info.filename):
                    raise VerificationFailed(f"entry name {info.filename!r} is not allowed")
                entries[info.filename] = archive.read(info)
    except VerificationFailed:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise VerificationFailed(f"not a readable ZIP container: {exc}") from exc
    except (ValueError, RuntimeError, EOFError, OSError, struct.error) as exc:
        raise VerificationFailed(f"not a readable ZIP container: {exc!r}") from exc
    try:
        canonical = write_container(entries)
    except ValueError as exc:
        raise VerificationFailed(str(exc)) from exc
    if canonical != data:
        raise VerificationFailed(_first_difference(canonical, data))
    return entries


def _first_difference(expected: bytes, actual: bytes) -> str:
    for offset, (a, b) in enumerate(zip(expected, actual, strict=False)):
        if a != b:
            return f"not in canonical layout: byte {offset} differs (0x{b:02x}, expected 0x{a:02x})"
    return (
        f"not in canonical layout: {len(actual)} bytes, the canonical form of its entries "
        f"has {len(expected)}"
    )
