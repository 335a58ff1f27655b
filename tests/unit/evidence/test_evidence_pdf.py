"""The pdf-signatures check on its own terms: appended updates, missing timestamps,
unsigned files, and signatures that were already in the uploaded document."""

from __future__ import annotations

from io import BytesIO

import pytest
from evidence_world import (
    Pki,
    make_ca,
    make_leaf,
    make_world,
    seal_pdf,
)
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from sealwright.errors import VerificationFailed
from sealwright.evidence import verify_bundle
from sealwright.evidence.pdf_check import check_sealed_pdf
from sealwright.evidence.report import VerificationReport


def only_pdf_failure(report: VerificationReport) -> str:
    fails = {c.name: c.detail for c in report.checks if not c.ok}
    assert set(fails) == {"pdf-signatures"}, report.to_text()
    return fails["pdf-signatures"]


def test_sealed_pdf_passes(pki: Pki, sealed_pdf: bytes) -> None:
    summary = check_sealed_pdf(
        "x.pdf", sealed_pdf, pdf_roots=[pki.ca.cert], tsa_roots=[pki.tsa_ca.cert]
    )
    assert "1 signature(s) valid" in summary
    assert "CN=Test Document Seal" in summary


def test_incremental_update_after_sealing_fails(
    pki: Pki, original_pdf: bytes, sealed_pdf: bytes
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(sealed_pdf))
    writer.root["/SealwrightNote"] = generic.TextStringObject("added later")
    writer.update_root()  # type: ignore[no-untyped-call]  # pyHanko
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]  # pyHanko
    # The ledger records the modified file, so only the PDF check can object.
    world = make_world(pki, original_pdf, out.getvalue())
    detail = only_pdf_failure(verify_bundle(world.bundle, world.trust))
    assert "signature 'SealwrightSeal': does not cover the whole file" in detail


def test_trailing_bytes_after_sealing_fail(
    pki: Pki, original_pdf: bytes, sealed_pdf: bytes
) -> None:
    world = make_world(pki, original_pdf, sealed_pdf + b"\n%hidden\n")
    assert "does not cover the whole file" in only_pdf_failure(
        verify_bundle(world.bundle, world.trust)
    )


def test_seal_without_timestamp_fails(pki: Pki, original_pdf: bytes) -> None:
    world = make_world(pki, original_pdf, seal_pdf(original_pdf, pki, timestamp=False))
    detail = only_pdf_failure(verify_bundle(world.bundle, world.trust))
    assert "signature 'SealwrightSeal': no signature timestamp" in detail


def test_unsigned_pdf_fails(pki: Pki, original_pdf: bytes) -> None:
    world = make_world(pki, original_pdf, original_pdf)
    assert only_pdf_failure(verify_bundle(world.bundle, world.trust)) == (
        "documents/doc-1.sealed.pdf: no signature"
    )


def test_not_a_pdf_fails(pki: Pki, original_pdf: bytes) -> None:
    world = make_world(pki, original_pdf, b"%PDF-1.7\nthis is not really a PDF\n")
    detail = only_pdf_failure(verify_bundle(world.bundle, world.trust))
    assert detail.startswith("documents/doc-1.sealed.pdf: ")


def test_seal_by_a_certificate_of_another_ca(pki: Pki, original_pdf: bytes) -> None:
    other_ca = make_ca("Impostor CA")
    impostor = Pki(other_ca, make_leaf(other_ca, "Test Document Seal"), pki.tsa_ca, pki.tsa)
    world = make_world(pki, original_pdf, seal_pdf(original_pdf, impostor))
    assert "signer not trusted to pdf_roots" in only_pdf_failure(
        verify_bundle(world.bundle, world.trust)
    )


def test_signature_already_in_the_upload_need_not_chain_to_our_roots(
    pki: Pki, original_pdf: bytes
) -> None:
    # A counterparty signed the PDF with its own CA (no timestamp) before uploading it;
    # our seal goes on top. Their signature must be intact and valid, not ours to trust.
    their_ca = make_ca("Counterparty CA")
    theirs = Pki(their_ca, make_leaf(their_ca, "Counterparty"), pki.tsa_ca, pki.tsa)
    uploaded = seal_pdf(original_pdf, theirs, timestamp=False, field="Counterparty")
    sealed = seal_pdf(uploaded, pki)
    world = make_world(pki, uploaded, sealed)
    report = verify_bundle(world.bundle, world.trust)
    assert report.ok, report.to_text()
    assert "2 signature(s) valid" in report.check("pdf-signatures").detail


def test_check_raises_verification_failed_with_the_path(pki: Pki) -> None:
    with pytest.raises(VerificationFailed, match=r"^some/path\.pdf: "):
        check_sealed_pdf("some/path.pdf", b"", pdf_roots=[pki.ca.cert], tsa_roots=[pki.tsa_ca.cert])
