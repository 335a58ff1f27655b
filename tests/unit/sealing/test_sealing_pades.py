"""seal_pdf / validate_sealed_pdf with an in-memory PKI and TSA (poppler checks: integration)."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader, PdfWriter

from sealwright.clock import FixedClock
from sealwright.errors import ConfigurationError, Conflict, PdfRejected
from sealwright.sealing.pades import SealValidation, seal_pdf, validate_sealed_pdf
from sealwright.sealing.pki import LocalPki
from sealwright.sealing.timestamps import _Authority, _LocalTsa, local_tsa

MakePdf = Callable[..., bytes]


def seal(pdf: bytes, pki: LocalPki, clock: FixedClock, **kwargs: str) -> bytes:
    return seal_pdf(pdf, pki=pki, timestamper=local_tsa(pki, clock), clock=clock, **kwargs)


def check(pdf: bytes, pki: LocalPki) -> SealValidation:
    roots = [pki.root.certificate]
    return validate_sealed_pdf(pdf, pdf_roots=roots, tsa_roots=roots)


def test_the_seal_carries_our_metadata_and_clock(
    make_pdf: MakePdf, session_pki: LocalPki, clock: FixedClock
) -> None:
    sealed = seal(make_pdf(), session_pki, clock, reason="Sealed: envelope 42", location="EU")
    (signature,) = PdfFileReader(BytesIO(sealed)).embedded_signatures
    assert signature.field_name == "SealwrightSeal"
    assert signature.sig_object["/Reason"] == "Sealed: envelope 42"
    assert signature.sig_object["/Location"] == "EU"
    assert signature.self_reported_timestamp == clock.now()  # /M from the injected clock
    result = check(sealed, session_pki)
    assert result.ok, result.problems
    assert result.signing_time == clock.now()


def test_sealing_is_an_incremental_update(
    make_pdf: MakePdf, session_pki: LocalPki, clock: FixedClock
) -> None:
    original = make_pdf()
    sealed = seal(original, session_pki, clock)
    assert sealed.startswith(original)


def test_a_second_seal_needs_another_field(
    make_pdf: MakePdf, session_pki: LocalPki, clock: FixedClock
) -> None:
    sealed = seal(make_pdf(), session_pki, clock)
    with pytest.raises(Conflict, match="filled already"):
        seal(sealed, session_pki, clock)
    clock.advance(60)
    twice = seal(sealed, session_pki, clock, field_name="SecondSeal")
    last = check(twice, session_pki)
    assert last.field_name == "SecondSeal"
    assert last.ok
    roots = [session_pki.root.certificate]
    first = validate_sealed_pdf(
        twice, pdf_roots=roots, tsa_roots=roots, field_name="SealwrightSeal"
    )
    assert first.intact
    assert first.trusted
    assert not first.covers_whole_document  # the second seal came after it


def test_a_tsa_outside_the_trusted_roots_is_a_configuration_error(
    make_pdf: MakePdf, session_pki: LocalPki, clock: FixedClock
) -> None:
    stranger = LocalPki.generate(clock=clock)
    mislabelled = _Authority(
        label="mislabelled",
        trust_roots=stranger.trust_roots,  # not the root the TSA certificate chains to
        transport=lambda: _LocalTsa(session_pki, clock),
    )
    with pytest.raises(ConfigurationError, match="does not validate"):
        seal_pdf(make_pdf(), pki=stranger, timestamper=mislabelled, clock=clock)


def test_a_sealing_certificate_outside_its_roots_is_a_configuration_error(
    make_pdf: MakePdf, session_pki: LocalPki, clock: FixedClock
) -> None:
    stranger = LocalPki.generate(clock=clock)
    crossed = LocalPki(root=stranger.root, document_seal=session_pki.signer, tsa=stranger.tsa)
    with pytest.raises(ConfigurationError, match="does not validate"):
        seal_pdf(make_pdf(), pki=crossed, timestamper=local_tsa(stranger, clock), clock=clock)


@pytest.mark.parametrize("pdf", [b"", b"%PDF-1.7 nonsense", b"not a pdf"])
def test_unreadable_input_is_rejected(pdf: bytes, session_pki: LocalPki, clock: FixedClock) -> None:
    with pytest.raises(PdfRejected) as raised:
        seal(pdf, session_pki, clock)
    assert raised.value.reason == "malformed"


def test_encrypted_input_is_rejected(
    make_pdf: MakePdf, session_pki: LocalPki, clock: FixedClock
) -> None:
    writer = PdfWriter(clone_from=PdfReader(BytesIO(make_pdf())))
    writer.encrypt("user", "owner")
    output = BytesIO()
    writer.write(output)
    with pytest.raises(PdfRejected):
        seal(output.getvalue(), session_pki, clock)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda make_pdf: b"definitely not a PDF", "not a readable PDF"),
        (lambda make_pdf: make_pdf(), "no signature found"),
    ],
    ids=["garbage", "unsigned"],
)
def test_validation_never_raises_for_bad_input(
    make_pdf: MakePdf,
    session_pki: LocalPki,
    make: Callable[[MakePdf], bytes],
    problem: str,
) -> None:
    result = check(make(make_pdf), session_pki)
    assert not result.ok
    assert result.problems == (problem,)
    assert not result.intact
    assert not result.valid
    assert not result.trusted


def test_validation_of_a_missing_field(
    make_pdf: MakePdf, session_pki: LocalPki, clock: FixedClock
) -> None:
    roots = [session_pki.root.certificate]
    result = validate_sealed_pdf(
        seal(make_pdf(), session_pki, clock), pdf_roots=roots, tsa_roots=roots, field_name="Nope"
    )
    assert result.problems == ("no signature in field 'Nope'",)
