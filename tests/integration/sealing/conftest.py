"""Fixtures for the sealing integration tests: real files, real HTTP, real poppler."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

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
        canvas = Canvas(buffer, pagesize=size)
        for number in range(1, pages + 1):
            canvas.setFont("Helvetica", 14)
            canvas.drawString(72, size[1] - 72, f"Page {number}: terms and conditions")
            canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    return make


@pytest.fixture
def clock() -> FixedClock:
    # Real "now": poppler checks certificates against the host's clock.
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def pki(tmp_path: Path, clock: FixedClock) -> LocalPki:
    return LocalPki.load_or_create(tmp_path / "pki", clock=clock)


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture
def pdfsig() -> Callable[..., str]:
    """``pdfsig(pdf_path, nssdir=None)`` -> its report (poppler-utils)."""
    executable = _require("pdfsig")

    def run(pdf: Path, nssdir: Path | None = None) -> str:
        # No -no-ocsp: poppler 22.12 then fails every certificate check ("Unknown issue"),
        # and our certificates name no OCSP responder, so nothing is fetched anyway.
        command = [executable]
        if nssdir is not None:
            command += ["-nssdir", f"sql:{nssdir}"]
        result = subprocess.run(
            [*command, str(pdf)], capture_output=True, text=True, timeout=60, check=False
        )
        return result.stdout + result.stderr

    return run


@pytest.fixture
def nss_trusting(tmp_path: Path) -> Callable[[bytes], Path]:
    """``nss_trusting(ca_pem)`` -> an NSS database (certutil, libnss3-tools) trusting the CA."""
    certutil = _require("certutil")

    def make(ca_pem: bytes) -> Path:
        directory = tmp_path / "nssdb"
        directory.mkdir()
        (tmp_path / "ca.pem").write_bytes(ca_pem)
        for command in (
            ["-N", "--empty-password"],
            ["-A", "-n", "Sealwright test root", "-t", "CT,C,C", "-i", str(tmp_path / "ca.pem")],
        ):
            subprocess.run(
                [certutil, *command, "-d", f"sql:{directory}"],
                check=True,
                capture_output=True,
                timeout=60,
            )
        return directory

    return make
