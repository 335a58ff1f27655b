"""The certificate of completion carries each signer's signed QR code, and it is really
scannable: the sealed PDF's certificate page is rendered with poppler (pdftoppm), the
codes are read back from the bitmap with zxing-cpp, and `sealwright qr verify` accepts
them against the exported trust file. The seal still validates (pyHanko, pdfsig)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from sealwright.channels.pseudonym import recipient_pseudonym
from sealwright.channels.qr import QrClaims, encode_qr
from sealwright.clock import FixedClock, SystemRandom
from sealwright.config import Settings
from sealwright.evidence.trust import TrustStore
from sealwright.sealing.certificate import (
    CertificateDocument,
    CertificateQr,
    CertificateRecipient,
    CompletionCertificate,
    append_pages,
    render_certificate,
)
from sealwright.sealing.pades import seal_pdf, validate_sealed_pdf
from sealwright.sealing.timestamps import local_tsa
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime

zxingcpp = pytest.importorskip("zxingcpp")
SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")


def scan(png: Path) -> list[str]:
    with Image.open(png) as image:
        return sorted(str(r.text) for r in zxingcpp.read_barcodes(image))


def test_certificate_qr_codes_scan_from_the_rendered_page_and_verify(
    tmp_path: Path,
    make_pdf: Callable[..., bytes],
    clock: FixedClock,
    pdfsig: Callable[..., str],
) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    rt = Runtime.build(
        Settings(data_dir=tmp_path / "data", mail_mode="smtp", inprocess_worker=False),
        clock=clock,
    )
    try:
        original = make_pdf(pages=1)
        sha = hashlib.sha256(original).hexdigest()
        key = rt.channel_keys.qr.private_key_for_current()
        codes = {}
        for rid in ("r-jane", "r-omar"):
            pseudonym = recipient_pseudonym(rt.channel_keys.pseudonym_key, "t1", rid)
            now = int(clock.now().timestamp())
            claims = QrClaims(
                rt.settings.log_origin,
                bytes.fromhex(sha),
                bytes.fromhex(pseudonym),
                now,
                now + 3650 * 86400,
                SystemRandom().token_bytes(16),
            )
            codes[rid] = encode_qr(claims, key)
        expires = clock.now() + timedelta(days=3650)
        cert = CompletionCertificate(
            envelope_id="e" * 32,
            title="Lease",
            status="completed",
            generated_at=clock.now(),
            documents=(CertificateDocument("lease.pdf", sha, 1),),
            recipients=tuple(
                CertificateRecipient(
                    name=name,
                    email=f"{name.lower()}@example.com",
                    role="signer",
                    routing_order=i,
                    status="signed",
                    signed_at=clock.now(),
                    qr=CertificateQr(codes[rid], expires),
                )
                for i, (rid, name) in enumerate((("r-jane", "Jane"), ("r-omar", "Omar")), 1)
            ),
            events=(),
        )
        sealed = seal_pdf(
            append_pages(original, render_certificate(cert)),
            pki=rt.pki,
            timestamper=local_tsa(rt.pki, clock),
            clock=clock,
        )
        pdf = tmp_path / "sealed.pdf"
        pdf.write_bytes(sealed)
        trust = tmp_path / "trust.json"
        trust.write_bytes(trust_store(rt).to_json())
        ca = rt.pki.root.certificate
    finally:
        rt.close()

    # The seal covers the QR codes and still validates.
    validation = validate_sealed_pdf(sealed, pdf_roots=[ca], tsa_roots=[ca])
    assert validation.ok, validation.problems
    assert validation.covers_whole_document
    assert "Signature is Valid" in pdfsig(pdf)

    # Render the certificate's pages (after the one-page document) as 150 dpi bitmaps.
    pages = len(PdfReader(BytesIO(sealed)).pages)
    assert pages >= 2
    first_last = ["-f", "2", "-l", str(pages)]
    subprocess.run(
        [pdftoppm, "-r", "150", *first_last, "-png", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    found = sorted(t for png in tmp_path.glob("page*.png") for t in scan(png))
    assert found == sorted(codes.values())

    for text in found:
        result = subprocess.run(
            [SEALWRIGHT, "qr", "verify", text, "--trust", str(trust), "--doc-hash", sha, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SEALWRIGHT_DATABASE_URL": ""},
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        claims = json.loads(result.stdout)
        assert claims["docHash"] == sha
        assert claims["exp"] - claims["iat"] == 3650 * 86400
    assert TrustStore.from_json(trust.read_bytes()).qr_keys
