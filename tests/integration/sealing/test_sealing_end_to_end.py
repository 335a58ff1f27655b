"""Upload → intake → stamp → certificate → seal, then three verifiers: pyHanko, poppler, NSS."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature
from pypdf import PdfReader, PdfWriter

from sealwright.clock import FixedClock
from sealwright.sealing.certificate import (
    CertificateDocument,
    CertificateEvent,
    CertificateRecipient,
    CompletionCertificate,
    IdentityCheck,
    append_pages,
    render_certificate,
)
from sealwright.sealing.intake import inspect_pdf
from sealwright.sealing.pades import seal_pdf, validate_sealed_pdf
from sealwright.sealing.pki import LocalPki
from sealwright.sealing.stamp import FieldStamp, apply_fields
from sealwright.sealing.timestamps import local_tsa

MakePdf = Callable[..., bytes]
Pdfsig = Callable[..., str]


@dataclass(frozen=True)
class Sealed:
    pdf: bytes
    path: Path
    pki: LocalPki
    sealed_at: FixedClock
    page_count: int


def signature_strokes() -> list[list[tuple[float, float, float]]]:
    loop = [
        (0.05 + 0.9 * i / 79, 0.45 + 0.3 * math.sin(i / 5) * (1 - i / 100), 12.0 * i)
        for i in range(80)
    ]
    return [loop, [(0.15, 0.15, 1100.0), (0.85, 0.2, 1300.0)]]


def certificate(original_sha256: str, pages: int, clock: FixedClock) -> CompletionCertificate:
    start = clock.now() - timedelta(hours=3)
    tags = ["signer:link:opened", "signer:otp:passed", "recipient:document:viewed",
            "recipient:field:filled", "signer:signature:applied"]  # fmt: skip
    events = tuple(
        CertificateEvent(
            time=start + timedelta(seconds=31 * i),
            tag=tags[i % len(tags)],
            actor="system" if i % 7 == 0 else f"recipient:{i % 2:032x}",
            leaf_hash=hashlib.sha256(i.to_bytes(4, "big")).hexdigest(),
        )
        for i in range(300)
    )
    return CompletionCertificate(
        envelope_id="9d3b6a0f4c2e4e1b8a7f5c3d2b1a0e9f",
        title="Mutual Non-Disclosure Agreement",
        status="completed",
        generated_at=clock.now(),
        completed_at=clock.now() - timedelta(minutes=1),
        sender="Legal Ops",
        documents=(CertificateDocument("nda.pdf", original_sha256, pages),),
        recipients=(
            CertificateRecipient(
                name="Jane Doe",
                email="jane@example.com",
                role="signer",
                routing_order=1,
                status="signed",
                identity_checks=(IdentityCheck("email one-time code", start),),
                signed_at=start + timedelta(minutes=4),
                meaning="Signer — approval",
                user_agent_hash=hashlib.sha256(b"Mozilla/5.0").hexdigest(),
            ),
            CertificateRecipient(
                name="Omar Haddad",
                email="omar@example.net",
                role="signer",
                routing_order=2,
                status="signed",
                identity_checks=(IdentityCheck("email link", start + timedelta(minutes=30)),),
                signed_at=start + timedelta(minutes=34),
                meaning="Signer — approval",
            ),
        ),
        events=events,
    )


@pytest.fixture
def sealed(tmp_path: Path, make_pdf: MakePdf, pki: LocalPki, clock: FixedClock) -> Sealed:
    upload = tmp_path / "upload.pdf"
    upload.write_bytes(make_pdf(pages=2))
    with upload.open("rb") as stream:
        intake = inspect_pdf(stream, max_bytes=10 << 20, spool_dir=tmp_path)
    original = intake.spool_path.read_bytes()
    width, _height = intake.page_sizes[1].width, intake.page_sizes[1].height
    manifestation = "{name} · {time} UTC · Signer — approval"
    clock.advance(60)
    stamped = apply_fields(
        original,
        [
            FieldStamp(1, 72, 140, 220, 50, "signature", text="Jane Doe",
                       manifestation=manifestation.format(name="Jane Doe", time="09:04")),
            FieldStamp(1, width - 292, 140, 220, 50, "signature", strokes=signature_strokes(),
                       manifestation=manifestation.format(name="Omar Haddad", time="09:34")),
            FieldStamp(0, width - 120, 60, 48, 28, "initials", text="JD",
                       manifestation="JD · initials"),
            FieldStamp(1, 72, 100, 120, 20, "date", text="2026-03-01"),
            FieldStamp(1, width - 292, 100, 220, 20, "text", text="Omar Haddad, CTO"),
        ],
    )  # fmt: skip
    document = append_pages(
        stamped, render_certificate(certificate(intake.sha256, intake.page_count, clock))
    )
    clock.advance(5)
    pdf = seal_pdf(document, pki=pki, timestamper=local_tsa(pki, clock), clock=clock)
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    return Sealed(pdf, path, pki, clock, len(PdfReader(BytesIO(pdf)).pages))


def test_pyhanko_says_intact_valid_trusted_timestamped_and_whole(sealed: Sealed) -> None:
    root = sealed.pki.root.certificate
    result = validate_sealed_pdf(sealed.pdf, pdf_roots=[root], tsa_roots=[root])
    assert result.ok, result.problems
    assert result.intact
    assert result.valid
    assert result.trusted
    assert result.timestamp_trusted
    assert result.covers_whole_document
    assert result.field_name == "SealwrightSeal"
    assert result.signer_subject == "CN=Sealwright Document Seal,O=Sealwright"
    assert result.signing_time == sealed.sealed_at.now()  # the TSA's time: our clock's
    assert result.validated_at == result.signing_time
    assert sealed.page_count > 6  # two document pages and the certificate


def test_the_seal_is_pades_b_lt_verifiable_from_the_file_alone(sealed: Sealed) -> None:
    reader = PdfFileReader(BytesIO(sealed.pdf))
    (signature,) = reader.embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    dss = DocumentSecurityStore.read_dss(reader)
    assert len(dss.certs) == 3  # root, seal, TSA
    assert len(dss.crls) == 1
    # "require": every certificate's revocation status must be established, offline, from
    # the DSS alone -- which is what B-LT adds over B-T.
    root = translate_pyca_cryptography_cert_to_asn1(sealed.pki.root.certificate)
    context = dss.as_validation_context(
        {
            "trust_roots": [root],
            "allow_fetching": False,
            "revocation_mode": "require",
            "moment": sealed.sealed_at.now(),
        }
    )
    status = validate_pdf_signature(signature, context, context)
    assert status.bottom_line
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.trusted


def test_trust_depends_on_the_pinned_roots_and_the_validation_time(sealed: Sealed) -> None:
    root = sealed.pki.root.certificate
    stranger = LocalPki.generate(clock=sealed.sealed_at).root.certificate
    untrusted = validate_sealed_pdf(sealed.pdf, pdf_roots=[stranger], tsa_roots=[root])
    assert untrusted.intact
    assert untrusted.valid
    assert not untrusted.trusted
    assert untrusted.timestamp_trusted
    assert "the signer's certificate is not trusted" in untrusted.problems
    wrong_tsa = validate_sealed_pdf(sealed.pdf, pdf_roots=[root], tsa_roots=[stranger])
    assert wrong_tsa.trusted
    assert not wrong_tsa.timestamp_trusted
    after_expiry = sealed.sealed_at.now() + timedelta(days=30 * 365)
    late = validate_sealed_pdf(sealed.pdf, pdf_roots=[root], tsa_roots=[root], at=after_expiry)
    assert not late.trusted


def test_pdfsig_says_valid_and_whole(sealed: Sealed, pdfsig: Pdfsig) -> None:
    report = pdfsig(sealed.path)
    assert report.count("Signature #") == 1
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report
    assert "Signature Type: ETSI.CAdES.detached" in report


def test_pdfsig_trusts_the_seal_once_nss_trusts_our_root(
    sealed: Sealed, pdfsig: Pdfsig, nss_trusting: Callable[[bytes], Path]
) -> None:
    report = pdfsig(sealed.path, nssdir=nss_trusting(sealed.pki.ca_pem))
    assert "Signature Validation: Signature is Valid." in report
    assert "Certificate Validation: Certificate is Trusted." in report


def signed_ranges(pdf: bytes) -> tuple[int, int, int, int]:
    (signature,) = PdfFileReader(BytesIO(pdf)).embedded_signatures
    start, length, second_start, second_length = (int(v) for v in signature.byte_range)
    return start, length, second_start, second_length


@pytest.mark.parametrize("where", ["header comment", "first stream", "last stream"])
def test_one_changed_byte_is_caught_by_both_verifiers(
    sealed: Sealed, pdfsig: Pdfsig, where: str, tmp_path: Path
) -> None:
    start, length, _, _ = signed_ranges(sealed.pdf)
    # Bytes whose change leaves the file parseable, so that both verifiers get as far as
    # comparing digests (a broken structure is caught too, but less instructively).
    first_revision = sealed.pdf[: sealed.pdf.index(b"%%EOF")]
    stream_data = [m.end() for m in re.finditer(rb"[^d]stream\r?\n", first_revision)]
    offset = {
        "header comment": sealed.pdf.index(b"\n") + 2,  # the binary comment on line 2
        "first stream": stream_data[0] + 10,
        "last stream": stream_data[-1] + 10,
    }[where]
    assert start <= offset < start + length
    tampered = bytearray(sealed.pdf)
    tampered[offset] ^= 0x01
    path = tmp_path / "tampered.pdf"
    path.write_bytes(tampered)

    root = sealed.pki.root.certificate
    result = validate_sealed_pdf(bytes(tampered), pdf_roots=[root], tsa_roots=[root])
    assert not result.ok
    assert not result.intact
    report = pdfsig(path)
    assert "Signature is Valid" not in report
    assert "Digest Mismatch" in report


def test_an_update_after_sealing_is_reported(
    sealed: Sealed, pdfsig: Pdfsig, tmp_path: Path
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(sealed.pdf))
    writer.root["/Lang"] = generic.TextStringObject("en-GB")
    writer.update_root()  # type: ignore[no-untyped-call]
    output = BytesIO()
    writer.write(output)  # type: ignore[no-untyped-call]
    path = tmp_path / "updated.pdf"
    path.write_bytes(output.getvalue())

    root = sealed.pki.root.certificate
    result = validate_sealed_pdf(output.getvalue(), pdf_roots=[root], tsa_roots=[root])
    assert result.intact
    assert result.valid
    assert not result.covers_whole_document
    assert not result.ok
    assert "Total document signed" not in pdfsig(path)


def test_the_sealed_pdf_is_an_ordinary_unencrypted_pdf(sealed: Sealed) -> None:
    reader = PdfReader(BytesIO(sealed.pdf))
    assert not reader.is_encrypted
    text = reader.pages[1].extract_text()
    assert "Jane Doe" in text
    assert "Omar Haddad, CTO" in text
    assert "Signer — approval" in text
    assert reader.pages[2].extract_text().startswith("Certificate of Completion")
    writer = PdfWriter(clone_from=reader)  # and other tools can rewrite it
    writer.write(BytesIO())
