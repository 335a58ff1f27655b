"""Offline validation of a sealed PDF's signatures with pyHanko, against pinned roots only.

Rules (docs/evidence-bundle.md §pdf-signatures):

* every embedded signature and document timestamp is *intact* (the signed bytes hash to
  the signed digest) and *valid* (the signature over that digest verifies);
* the seal -- the last ``/Sig`` signature -- chains to one of the trust file's
  ``pdf_roots`` and carries an RFC 3161 signature timestamp that chains to one of its
  ``tsa_roots``; document timestamps chain to ``tsa_roots``;
* the last signature or timestamp in the file covers the entire file: nothing was
  appended afterwards.

Signatures that were already in the uploaded document are not required to chain to our
roots (they are someone else's), only to be intact and valid.

Chains are validated at the time in the seal's timestamp token unless the caller gives a
time: that is what the timestamp is for, so that a seal still verifies after its
certificate expires. Revocation data comes from the file's DSS only; nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from io import BytesIO
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import (
    SignatureCoverageLevel,
    validate_pdf_signature,
    validate_pdf_timestamp,
)

from sealwright.errors import VerificationFailed
from sealwright.sealing.pades import offline_validation_contexts, signature_timestamp_time

__all__ = ["check_sealed_pdf"]


def _judge_timestamp(signature: Any, context: Any) -> tuple[list[tuple[bool, str]], Any]:
    status = validate_pdf_timestamp(signature, validation_context=context)
    checks = [
        (status.intact, "document timestamp modified (not intact)"),
        (status.valid, "document timestamp signature does not verify"),
        (status.trusted, "document timestamp not trusted to tsa_roots"),
    ]
    return checks, status.coverage


def _judge_signature(
    signature: Any, *, is_seal: bool, signer_context: Any, tsa_context: Any
) -> tuple[list[tuple[bool, str]], Any, str]:
    status = validate_pdf_signature(
        signature, signer_validation_context=signer_context, ts_validation_context=tsa_context
    )
    checks = [
        (status.intact, "signed bytes modified (not intact)"),
        (status.valid, "signature value does not verify"),
    ]
    summary = ""
    if is_seal:
        ts = status.timestamp_validity
        checks += [
            (status.trusted, "signer not trusted to pdf_roots"),
            (ts is not None, "no signature timestamp"),
            (
                ts is None or (ts.intact and ts.valid and ts.trusted),
                "signature timestamp not intact, valid and trusted to tsa_roots",
            ),
        ]
        if ts is not None and ts.trusted:
            cert = x509.load_der_x509_certificate(status.signing_cert.dump())
            subject = cert.subject.rfc4514_string()
            summary = f"sealed by {subject}, timestamped {ts.timestamp.isoformat()}"
    return checks, status.coverage, summary


def check_sealed_pdf(
    path: str,
    pdf: bytes,
    *,
    pdf_roots: Sequence[x509.Certificate],
    tsa_roots: Sequence[x509.Certificate],
    at: datetime | None = None,
) -> str:
    """Validate ``pdf`` (the bundle entry ``path``). Returns a summary; raises
    :class:`VerificationFailed` naming the file, the signature field and the problem."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = list(reader.embedded_signatures)
    except Exception as exc:  # any parse failure means "no seal to check"
        raise VerificationFailed(f"{path}: not a readable PDF ({type(exc).__name__})") from exc
    regular = [s for s in signatures if s.sig_object_type == "/Sig"]
    if not regular:
        raise VerificationFailed(f"{path}: no signature")
    seal = regular[-1]
    context = offline_validation_contexts(reader, at or signature_timestamp_time(seal))
    problems: list[str] = []
    summary = ""
    for signature in signatures:
        where = f"{path}: signature {signature.field_name!r}"
        try:
            if signature.sig_object_type == "/DocTimeStamp":
                checks, coverage = _judge_timestamp(signature, context(tsa_roots))
            else:
                checks, coverage, text = _judge_signature(
                    signature,
                    is_seal=signature is seal,
                    signer_context=context(pdf_roots),
                    tsa_context=context(tsa_roots),
                )
                summary = text or summary
        except Exception as exc:  # pyHanko raises on some malformed input
            problems.append(f"{where}: could not be validated ({type(exc).__name__}: {exc})")
            continue
        if signature is signatures[-1]:
            checks.append(
                (
                    coverage == SignatureCoverageLevel.ENTIRE_FILE,
                    "does not cover the whole file (data appended after signing)",
                )
            )
        problems += [f"{where}: {text}" for ok, text in checks if not ok]
    if problems:
        raise VerificationFailed("; ".join(problems))
    return f"{path}: {len(signatures)} signature(s) valid, {summary}, whole file covered"
