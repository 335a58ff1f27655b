from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader

from sealwright.errors import ValidationError
from sealwright.sealing.certificate import (
    LEAF_HASH_DIGITS,
    CertificateDocument,
    CertificateEvent,
    CertificateRecipient,
    CompletionCertificate,
    IdentityCheck,
    append_pages,
    render_certificate,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TAGS = ("api:envelope:created", "signer:otp:sent", "signer:otp:passed", "signer:signature:applied")

MakePdf = Callable[..., bytes]


def events(count: int) -> tuple[CertificateEvent, ...]:
    return tuple(
        CertificateEvent(
            time=T0 + timedelta(seconds=7 * i),
            tag=TAGS[i % len(TAGS)],
            actor="system" if i % 3 == 0 else f"recipient:{i % 5:032x}",
            leaf_hash=hashlib.sha256(f"leaf {i}".encode()).hexdigest(),
        )
        for i in range(count)
    )


def certificate(event_count: int = 12) -> CompletionCertificate:
    return CompletionCertificate(
        envelope_id="4f1c2a9be0d84c6a9f0e2b7d5a1c3e88",
        title="Master Services Agreement <b>bold?</b> & more",
        status="completed",
        generated_at=T0 + timedelta(hours=2),
        completed_at=T0 + timedelta(hours=1),
        sender="Legal Ops",
        documents=(
            CertificateDocument("MSA.pdf", hashlib.sha256(b"msa").hexdigest(), 12),
            CertificateDocument("Annex A.pdf", hashlib.sha256(b"annex").hexdigest()),
        ),
        recipients=(
            CertificateRecipient(
                name="Zoë Second",
                email="zoe@example.org",
                role="approver",
                routing_order=2,
                status="signed",
                signed_at=T0 + timedelta(minutes=30),
            ),
            CertificateRecipient(
                name="Jane Doe",
                email="jane.doe@example.com",
                role="signer",
                routing_order=1,
                status="signed",
                identity_checks=(
                    IdentityCheck("email link", T0 + timedelta(minutes=5)),
                    IdentityCheck("SMS one-time code", T0 + timedelta(minutes=6)),
                ),
                signed_at=T0 + timedelta(minutes=9),
                meaning="Signer — approval",
                ip="203.0.113.7",
                user_agent_hash=hashlib.sha256(b"Firefox").hexdigest(),
            ),
        ),
        events=events(event_count),
    )


def text(pdf: bytes) -> str:
    # Table cells wrap; joining lines makes wrapped values searchable.
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def test_certificate_states_envelope_documents_and_recipients() -> None:
    rendered = text(render_certificate(certificate()))
    assert rendered.startswith("Certificate of Completion")
    for expected in (
        "4f1c2a9be0d84c6a9f0e2b7d5a1c3e88",
        "Master Services Agreement <b>bold?</b> & more",  # markup is shown, not interpreted
        "MSA.pdf",
        "Annex A.pdf",
        "Zoë Second",
        "jane.doe@example.com",
        "SMS one-time code (2026-03-01 09:06:00 UTC)",
        "2026-03-01 09:09:00 UTC",
        "Signer — approval",
        "203.0.113.7",
        "Completed (UTC)",
    ):
        assert expected in rendered
    flat = rendered.replace("\n", "")
    assert hashlib.sha256(b"msa").hexdigest() in flat
    assert hashlib.sha256(b"Firefox").hexdigest() in flat
    # Recipients are listed in routing order whatever order they were given in.
    assert rendered.index("Jane Doe") < rendered.index("Zoë Second")


def test_hundreds_of_events_are_paginated_without_losing_any() -> None:
    cert = certificate(event_count=300)
    pdf = render_certificate(cert)
    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) >= 6
    rendered = text(pdf)
    for event in cert.events:
        assert event.leaf_hash[:LEAF_HASH_DIGITS] in rendered
    assert "Audit trail (300 events)" in rendered
    total = len(reader.pages)
    for number, page in enumerate(reader.pages, start=1):
        page_text = page.extract_text()
        assert f"Page {number} of {total}" in page_text
        if number > 2:
            assert "Leaf hash" in page_text  # the header row repeats on continued pages


def test_rendering_is_deterministic() -> None:
    assert render_certificate(certificate()) == render_certificate(certificate())


def test_naive_times_are_refused() -> None:
    naive = replace(certificate(), generated_at=datetime(2026, 3, 1, 12, 0))
    with pytest.raises(ValidationError, match="timezone-aware"):
        render_certificate(naive)


def test_append_pages_puts_the_certificate_after_the_document(make_pdf: MakePdf) -> None:
    document = make_pdf(pages=3)
    cert = render_certificate(certificate())
    combined = append_pages(document, cert)
    reader = PdfReader(BytesIO(combined))
    cert_pages = len(PdfReader(BytesIO(cert)).pages)
    assert len(reader.pages) == 3 + cert_pages
    assert "Page 3" in reader.pages[2].extract_text()
    assert reader.pages[3].extract_text().startswith("Certificate of Completion")
