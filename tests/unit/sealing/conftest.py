"""Fixtures for the sealing unit tests: small PDFs and a PKI, all in memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from sealwright.clock import FixedClock
from sealwright.sealing.pki import LocalPki

MakePdf = Callable[..., bytes]


@pytest.fixture
def make_pdf() -> MakePdf:
    """``make_pdf(pages=2, size=A4)``: a plain PDF whose pages say "Page n"."""

    def make(pages: int = 2, size: tuple[float, float] = A4) -> bytes:
        buffer = BytesIO()
        canvas = Canvas(buffer, pagesize=size, invariant=True)
        for number in range(1, pages + 1):
            canvas.drawString(72, size[1] - 72, f"Page {number}")
            canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    return make


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def session_pki() -> LocalPki:
    return LocalPki.generate(clock=FixedClock(datetime(2026, 3, 1, 11, 0, tzinfo=UTC)))
