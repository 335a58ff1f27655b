"""Document intake: spool an upload to disk, hash it, and refuse what cannot be sealed.

The upload is copied in chunks to a private temporary file while SHA-256 runs over the exact
bytes, so the hash recorded in the ledger is the hash of what was stored, and the size limit
stops the copy as soon as it is crossed. Only then is the file parsed (pypdf, lenient, as
viewers are), and only for what sealing needs: that it is a PDF, is not encrypted and has
pages of a usable size.

Rejections raise :class:`~sealwright.errors.PdfRejected` with a reason code and a detail
written for the uploader. Details never quote the document: parser messages can contain
bytes of it, so they stay on the chained exception, for logs.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader

from sealwright.errors import PdfRejected
from sealwright.sealing._geometry import page_geometry

CHUNK_SIZE = 64 * 1024
_MAGIC = b"%PDF-"
_ENCRYPT_KEY = b"/Encrypt"


@dataclass(frozen=True)
class PageSize:
    """A page as displayed (crop box, rotation applied), in PDF points."""

    width: float
    height: float


@dataclass(frozen=True)
class IntakeResult:
    sha256: str  # lowercase hex, over exactly the bytes in ``spool_path``
    size: int
    page_count: int
    page_sizes: tuple[PageSize, ...]
    #: The spooled copy (mode 0o600). The caller owns it: move it into storage or delete it.
    spool_path: Path


def inspect_pdf(stream: BinaryIO, *, max_bytes: int, spool_dir: Path | None = None) -> IntakeResult:
    """Spool ``stream`` to a temporary file, hash it and check it is a sealable PDF.

    Reads at most ``max_bytes + 1`` bytes. On success the caller owns the spool file (see
    :func:`spool_pdf` for a version that cleans up); on rejection it has been removed.
    """
    if max_bytes < 1:
        raise ValueError("max_bytes must be positive")
    fd, name = tempfile.mkstemp(prefix="sealwright-intake-", suffix=".pdf", dir=spool_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as spool:
            sha256, size = _spool(stream, spool, max_bytes)
        page_sizes = _parse(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return IntakeResult(
        sha256=sha256,
        size=size,
        page_count=len(page_sizes),
        page_sizes=page_sizes,
        spool_path=path,
    )


@contextlib.contextmanager
def spool_pdf(
    stream: BinaryIO, *, max_bytes: int, spool_dir: Path | None = None
) -> Iterator[IntakeResult]:
    """:func:`inspect_pdf` that removes the spool file on exit, unless it was moved away.

    ::

        with spool_pdf(upload, max_bytes=limit) as document:
            blobs.put_file(document.spool_path, sha256=document.sha256)
    """
    result = inspect_pdf(stream, max_bytes=max_bytes, spool_dir=spool_dir)
    try:
        yield result
    finally:
        result.spool_path.unlink(missing_ok=True)


def _spool(stream: BinaryIO, spool: BinaryIO, max_bytes: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    while True:
        chunk = stream.read(min(CHUNK_SIZE, max_bytes + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise PdfRejected(
                "too-large", f"The file is larger than the limit of {_human_size(max_bytes)}."
            )
        if len(head) < len(_MAGIC):
            head += chunk[: len(_MAGIC) - len(head)]
            # Stop early on the usual mistake (an image, a Word file) rather than copy it all.
            if not _MAGIC.startswith(head[: len(_MAGIC)]):
                raise _not_pdf()
        digest.update(chunk)
        spool.write(chunk)
    if size == 0:
        raise PdfRejected("empty", "The file is empty.")
    if head != _MAGIC:
        raise _not_pdf()
    spool.flush()
    os.fsync(spool.fileno())
    return digest.hexdigest(), size


def _parse(path: Path) -> tuple[PageSize, ...]:
    # The file object is handed to pypdf, which seeks and reads what it needs rather than
    # loading the whole file (it would if given the path).
    with path.open("rb") as handle:
        try:
            reader = PdfReader(handle, strict=False)
            encrypted = reader.is_encrypted
        except Exception as exc:  # any parser failure, whatever the library calls it
            if _mentions_encryption(path):
                raise _encrypted() from exc
            raise _malformed("its structure is damaged and could not be read") from exc
        if encrypted:
            raise _encrypted()
        try:
            pages = reader.pages
            count = len(pages)
        except Exception as exc:
            raise _malformed("its page tree is damaged and could not be read") from exc
        if count == 0:
            raise _malformed("it has no pages")
        sizes = []
        for number in range(count):
            try:
                geometry = page_geometry(pages[number])
            except Exception as exc:
                raise _malformed(f"page {number + 1} has no usable size") from exc
            sizes.append(PageSize(geometry.displayed_width, geometry.displayed_height))
    return tuple(sizes)


def _mentions_encryption(path: Path) -> bool:
    """Whether the raw file names an /Encrypt dictionary (for files pypdf cannot even open).

    pypdf fails on some encryption handlers it does not support; such a file should still be
    reported as encrypted, which the uploader can fix, rather than as damaged.
    """
    overlap = len(_ENCRYPT_KEY) - 1
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            if _ENCRYPT_KEY in tail + chunk:
                return True
            tail = chunk[-overlap:]
    return False


def _not_pdf() -> PdfRejected:
    return PdfRejected("not-pdf", "The file is not a PDF document (it does not start with %PDF-).")


def _encrypted() -> PdfRejected:
    return PdfRejected(
        "encrypted",
        "The PDF is encrypted or password-protected; please upload an unprotected copy.",
    )


def _malformed(why: str) -> PdfRejected:
    return PdfRejected("malformed", f"The PDF cannot be used: {why}.")


def _human_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"
