from __future__ import annotations

import hashlib
import stat
import tempfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen.canvas import Canvas

from sealwright.errors import PdfRejected
from sealwright.sealing.intake import CHUNK_SIZE, IntakeResult, PageSize, inspect_pdf, spool_pdf

MakePdf = Callable[..., bytes]
LIMIT = 1 << 20
SECRET = "Confidential-Merger-Codename-Bluebird"


class CountingStream:
    """An endless upload that records how much was read from it."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "intake must read in bounded chunks"
        chunk = (self.head[self.read_bytes :] + b"\0" * size)[:size]
        self.read_bytes += len(chunk)
        return chunk


def reject(data: bytes, spool_dir: Path, *, max_bytes: int = LIMIT) -> PdfRejected:
    with pytest.raises(PdfRejected) as raised:
        inspect_pdf(BytesIO(data), max_bytes=max_bytes, spool_dir=spool_dir)
    assert list(spool_dir.iterdir()) == [], "a rejected upload must not stay on disk"
    assert SECRET not in raised.value.detail
    return raised.value


def encrypted(pdf: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    directory = tmp_path / "spool"
    directory.mkdir()
    return directory


def test_a_good_pdf_is_spooled_hashed_and_measured(spool: Path) -> None:
    buffer = BytesIO()
    canvas = Canvas(buffer)
    for size in [(595.0, 842.0), (842.0, 595.0), (612.0, 792.0)]:
        canvas.setPageSize(size)
        canvas.drawString(72, 72, SECRET)
        canvas.showPage()
    canvas.save()
    writer = PdfWriter(clone_from=PdfReader(BytesIO(buffer.getvalue())))
    writer.pages[2].rotate(90)  # displayed landscape
    output = BytesIO()
    writer.write(output)
    pdf = output.getvalue()

    result = inspect_pdf(BytesIO(pdf), max_bytes=LIMIT, spool_dir=spool)

    assert result.sha256 == hashlib.sha256(pdf).hexdigest()
    assert result.size == len(pdf)
    assert result.page_count == 3
    assert result.page_sizes == (
        PageSize(595.0, 842.0),
        PageSize(842.0, 595.0),
        PageSize(792.0, 612.0),
    )
    assert result.spool_path.parent == spool
    assert result.spool_path.read_bytes() == pdf
    assert stat.S_IMODE(result.spool_path.stat().st_mode) == 0o600


def test_spool_pdf_removes_the_spool_file_unless_moved(make_pdf: MakePdf, spool: Path) -> None:
    with spool_pdf(BytesIO(make_pdf()), max_bytes=LIMIT, spool_dir=spool) as result:
        assert result.spool_path.exists()
    assert list(spool.iterdir()) == []

    kept = spool.parent / "kept.pdf"
    with spool_pdf(BytesIO(make_pdf()), max_bytes=LIMIT, spool_dir=spool) as result:
        result.spool_path.rename(kept)
    assert kept.exists()
    assert list(spool.iterdir()) == []


def test_the_size_limit_stops_reading_early(spool: Path, make_pdf: MakePdf) -> None:
    upload = CountingStream(make_pdf())
    with pytest.raises(PdfRejected) as raised:
        inspect_pdf(upload, max_bytes=200_000, spool_dir=spool)  # type: ignore[arg-type]
    assert raised.value.reason == "too-large"
    assert "195.3 KiB" in raised.value.detail
    assert upload.read_bytes == 200_001
    assert list(spool.iterdir()) == []


def test_a_file_of_exactly_the_limit_is_accepted(make_pdf: MakePdf, spool: Path) -> None:
    pdf = make_pdf()
    result = inspect_pdf(BytesIO(pdf), max_bytes=len(pdf), spool_dir=spool)
    assert result.size == len(pdf)
    result.spool_path.unlink()
    assert reject(pdf, spool, max_bytes=len(pdf) - 1).reason == "too-large"


def test_a_non_pdf_is_refused_after_the_first_chunk(spool: Path) -> None:
    upload = CountingStream(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(PdfRejected) as raised:
        inspect_pdf(upload, max_bytes=LIMIT * 100, spool_dir=spool)  # type: ignore[arg-type]
    assert raised.value.reason == "not-pdf"
    assert upload.read_bytes == CHUNK_SIZE


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04 a word file", b" %PDF-1.7", b"%PD", b"\xef\xbb\xbf%PDF-1.4", SECRET.encode()],
)
def test_not_pdf(data: bytes, spool: Path) -> None:
    assert reject(data, spool).reason == "not-pdf"


def test_empty(spool: Path) -> None:
    error = reject(b"", spool)
    assert error.reason == "empty"
    assert error.detail == "The file is empty."


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_pdf_is_malformed(make_pdf: MakePdf, spool: Path, keep: float) -> None:
    pdf = make_pdf(pages=5)
    assert reject(pdf[: int(len(pdf) * keep)], spool).reason == "malformed"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + SECRET.encode() + b"\n%%EOF\n",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>"
        b"\n%%EOF",
        b"%PDF-1.4\n" + b"[" * 100_000,
    ],
    ids=["no-objects", "self-referencing-page-tree", "deep-nesting"],
)
def test_broken_structure_is_malformed(data: bytes, spool: Path) -> None:
    assert reject(data, spool).reason == "malformed"


def test_a_pdf_without_pages_is_malformed(spool: Path) -> None:
    output = BytesIO()
    PdfWriter().write(output)
    error = reject(output.getvalue(), spool)
    assert error.reason == "malformed"
    assert "no pages" in error.detail


def test_a_page_without_area_is_malformed(make_pdf: MakePdf, spool: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(BytesIO(make_pdf(pages=2))))
    writer.pages[1].mediabox.upper_right = (0, 0)
    output = BytesIO()
    writer.write(output)
    error = reject(output.getvalue(), spool)
    assert error.reason == "malformed"
    assert "page 2" in error.detail


@pytest.mark.parametrize("user_password", ["secret", ""], ids=["user-password", "owner-only"])
def test_encrypted_pdf_is_refused(make_pdf: MakePdf, spool: Path, user_password: str) -> None:
    error = reject(encrypted(make_pdf(), user_password=user_password), spool)
    assert error.reason == "encrypted"
    assert "password" in error.detail


def test_an_encrypted_pdf_pypdf_cannot_open_is_still_encrypted(
    make_pdf: MakePdf, spool: Path
) -> None:
    # An /Encrypt dictionary naming a security handler nobody implements.
    pdf = encrypted(make_pdf(), user_password="x").replace(b"/Standard", b"/NoSuchHdlr")
    assert reject(pdf, spool).reason == "encrypted"


# -- fuzzing: whatever arrives, the answer is a result or PdfRejected, never a crash ---------


def check_anything(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        outcome: IntakeResult | PdfRejected
        try:
            outcome = inspect_pdf(BytesIO(data), max_bytes=LIMIT, spool_dir=Path(directory))
        except PdfRejected as error:
            outcome = error
        if isinstance(outcome, PdfRejected):
            assert outcome.reason in {"empty", "too-large", "not-pdf", "malformed", "encrypted"}
            assert list(Path(directory).iterdir()) == []
        else:
            assert outcome.page_count == len(outcome.page_sizes) > 0
            assert outcome.sha256 == hashlib.sha256(data).hexdigest()


FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,  # no .hypothesis directory in the work tree
)


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    check_anything(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes_after_a_pdf_header(data: bytes) -> None:
    check_anything(b"%PDF-1.7\n" + data)


def _sample_pdf() -> bytes:
    buffer = BytesIO()
    canvas = Canvas(buffer, invariant=True)
    for number in range(3):
        canvas.drawString(72, 72, f"page {number}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


SAMPLE = _sample_pdf()


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(SAMPLE) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    st.integers(1, len(SAMPLE)),
)
def test_fuzz_mutated_real_pdf(flips: list[tuple[int, int]], keep: int) -> None:
    data = bytearray(SAMPLE)
    for offset, value in flips:
        data[offset] = value
    check_anything(bytes(data[:keep]))
