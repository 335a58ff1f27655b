"""PAdES sealing and offline validation of sealed PDFs.

``seal_pdf`` appends one incremental update holding a PAdES signature (``ETSI.CAdES.detached``)
with an RFC 3161 signature timestamp and a Document Security Store carrying the certificates
and CRLs needed to validate it later without a network: PAdES baseline B-LT, in a single
revision, so the signature's byte range covers the whole file.

``validate_sealed_pdf`` checks a sealed PDF against pinned roots with pyHanko's validator and
nothing but the file and those roots: no fetching, revocation data taken from the file's DSS.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any, ParamSpec, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.signers.pdf_signer import DSSContentSettings, SigDSSPlacementPreference
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    SignatureCoverageLevel,
    async_validate_pdf_signature,
)
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from sealwright.clock import Clock
from sealwright.errors import ConfigurationError, Conflict, PdfRejected, TimestampUnavailable
from sealwright.sealing.pki import Credential
from sealwright.sealing.timestamps import TimestampAuthority


class SealingPki(Protocol):
    """What sealing needs from a PKI; :class:`~sealwright.sealing.pki.LocalPki` is one."""

    @property
    def signer(self) -> Credential: ...

    @property
    def chain(self) -> Sequence[x509.Certificate]: ...

    @property
    def trust_roots(self) -> Sequence[x509.Certificate]: ...

    def revocation_lists(self, now: datetime) -> Sequence[x509.CertificateRevocationList]: ...


#: The digest for the document, the signature and the timestamp request.
_MD = "sha256"

_P = ParamSpec("_P")
_T = TypeVar("_T")


async def async_seal_pdf(
    pdf: bytes,
    *,
    pki: SealingPki,
    timestamper: TimestampAuthority,
    clock: Clock,
    reason: str = "Sealed by Sealwright",
    location: str | None = None,
    field_name: str = "SealwrightSeal",
) -> bytes:
    """Seal ``pdf`` (PAdES B-LT); see :func:`seal_pdf`."""
    now = clock.now()
    # Trust anchors for the pre-signing check of both chains: that check is what collects the
    # certificates and CRLs that go into the DSS, and it refuses to seal with a chain that
    # does not validate.
    context = ValidationContext(
        trust_roots=[_asn1(c) for c in (*pki.trust_roots, *timestamper.trust_roots)],
        crls=[c.public_bytes(serialization.Encoding.DER) for c in pki.revocation_lists(now)],
        allow_fetching=False,
        # Every CRL at hand is checked (a revoked sealing certificate stops sealing), but
        # revocation data that would have to be fetched -- an external TSA's -- is not
        # demanded: sealing never goes to the network except to the TSA itself.
        revocation_mode="soft-fail",
        moment=now,
    )
    metadata = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=_MD,
        reason=reason,
        location=location,
        subfilter=SigSeedSubFilter.PADES,
        embed_validation_info=True,
        validation_context=context,
        # The DSS goes into the signed revision itself (hence no VRI, which would need the
        # signature's own hash): the signature then covers every byte of the file, which
        # plain PDF readers report as "the whole document is signed".
        dss_settings=DSSContentSettings(
            placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE, include_vri=False
        ),
    )
    signer = PdfSigner(metadata, _pyhanko_signer(pki), timestamper=timestamper.timestamper())
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise PdfRejected("malformed", "the document could not be read for sealing") from exc
    try:
        session = signer.init_signing_session(writer)
        # The claimed signing time (/M) comes from our clock, not the host's.
        session.system_time = now
        validation_info = await session.perform_presign_validation(writer)
        reserved = await session.estimate_signature_container_size(validation_info)
        tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=reserved)
        output = BytesIO()
        prepared, _ = tbs.digest_tbs_document(output=output)
        post_signing = await tbs.perform_signature(
            document_digest=prepared.document_digest,
            pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=now),
        )
        await post_signing.post_signature_processing(output)
    except TimestampUnavailable:
        raise
    except (PathValidationError, PathBuildingError, SigningError) as exc:
        # pyHanko wraps the sealing certificate's path errors in SigningError; the TSA's
        # arrive bare. Either way it is our set-up, not the document, that is wrong.
        if isinstance(exc, SigningError) and not isinstance(
            exc.__cause__, PathValidationError | PathBuildingError
        ):
            raise Conflict(f"the document cannot take the seal: {exc}") from exc
        raise ConfigurationError(
            "sealing refused: the sealing or TSA certificate does not validate against the "
            "configured roots"
        ) from exc
    except PdfError as exc:
        raise PdfRejected("malformed", "the document could not be read for sealing") from exc
    return output.getvalue()


def _blocking(
    coroutine_function: Callable[_P, Coroutine[Any, Any, _T]], *, name: str, doc: str
) -> Callable[_P, _T]:
    """A blocking twin of ``coroutine_function``, with its parameters, run by ``asyncio.run``.

    Not for use inside a running event loop; await ``coroutine_function`` there.
    """

    @functools.wraps(coroutine_function)
    def blocking(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return asyncio.run(coroutine_function(*args, **kwargs))

    blocking.__name__ = blocking.__qualname__ = name
    blocking.__doc__ = doc
    return blocking


seal_pdf = _blocking(
    async_seal_pdf,
    name="seal_pdf",
    doc="""Append a PAdES B-LT seal to ``pdf`` in one incremental update and return the new file.

    The signature (``ETSI.CAdES.detached``, SHA-256) is made with ``pki.signer``; its
    signature timestamp comes from ``timestamper``; the DSS holds the chains of both and the
    PKI's current CRL. Raises :class:`TimestampUnavailable` if the TSA fails (nothing is
    sealed then), :class:`PdfRejected` if ``pdf`` cannot be read, and
    :class:`ConfigurationError` if a certificate does not chain to the configured roots, and
    :class:`Conflict` if the document refuses another signature (the field is already
    signed, or a certification signature forbids changes).
    Not for use inside a running event loop; await :func:`async_seal_pdf` there.
    """,
)


def _pyhanko_signer(pki: SealingPki) -> SimpleSigner:
    registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # certvalidator
    registry.register_multiple([_asn1(c) for c in pki.chain])
    return SimpleSigner(
        signing_cert=_asn1(pki.signer.certificate),
        signing_key=translate_pyca_cryptography_key_to_asn1(pki.signer.private_key),
        cert_registry=registry,
    )


def _asn1(certificate: x509.Certificate) -> Any:
    return translate_pyca_cryptography_cert_to_asn1(certificate)


# -- validation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealValidation:
    """What pyHanko's validator says about one signature, with nothing but pinned roots.

    The flags are separate on purpose (as in pyHanko): *intact* -- the signed bytes hash to
    the signed digest; *valid* -- the signature over that digest checks out; *trusted* --
    the signer's chain leads to one of ``pdf_roots`` at the validation time and is not
    revoked per the embedded CRLs; *timestamp_trusted* -- the signature timestamp is intact,
    valid and chains to ``tsa_roots``; *covers_whole_document* -- nothing was appended after
    the signature.
    """

    field_name: str
    intact: bool
    valid: bool
    trusted: bool
    timestamp_trusted: bool
    covers_whole_document: bool
    #: RFC 4514, e.g. ``CN=Sealwright Document Seal,O=Sealwright``; empty if no signature.
    signer_subject: str
    #: The time in the signature timestamp (if the token is sound), else ``None``.
    signing_time: datetime | None
    #: The time the chains were validated at: the timestamp's time unless one was given.
    validated_at: datetime | None
    #: Human-readable reasons the seal is not ``ok``; empty when it is.
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @classmethod
    def absent(cls, problem: str) -> SealValidation:
        return cls(
            field_name="",
            intact=False,
            valid=False,
            trusted=False,
            timestamp_trusted=False,
            covers_whole_document=False,
            signer_subject="",
            signing_time=None,
            validated_at=None,
            problems=(problem,),
        )


async def async_validate_sealed_pdf(
    pdf: bytes,
    *,
    pdf_roots: Sequence[x509.Certificate],
    tsa_roots: Sequence[x509.Certificate],
    field_name: str | None = None,
    at: datetime | None = None,
) -> SealValidation:
    """Validate a seal; see :func:`validate_sealed_pdf`."""
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception:  # any parse failure means "no seal we can check"
        return SealValidation.absent("not a readable PDF")
    # Document timestamps (/DocTimeStamp) are not seals.
    signatures = [s for s in signatures if s.sig_object_type == "/Sig"]
    if field_name is not None:
        signatures = [s for s in signatures if s.field_name == field_name]
    if not signatures:
        return SealValidation.absent(
            "no signature found" if field_name is None else f"no signature in field {field_name!r}"
        )
    signature = signatures[-1]
    moment = at or signature_timestamp_time(signature)
    context = offline_validation_contexts(reader, moment)
    try:
        status = await async_validate_pdf_signature(
            signature,
            signer_validation_context=context(pdf_roots),
            ts_validation_context=context(tsa_roots),
        )
    except Exception as exc:  # pyHanko raises on some malformed signatures
        return SealValidation.absent(f"signature could not be processed ({type(exc).__name__})")
    return _summarise(signature.field_name, status, moment)


validate_sealed_pdf = _blocking(
    async_validate_sealed_pdf,
    name="validate_sealed_pdf",
    doc="""Check the seal of ``pdf`` offline: no network, revocation data from the file's DSS.

    Validates the signature in ``field_name`` (default: the last one in the file). Chains are
    validated at ``at`` if given, otherwise at the time in the signature timestamp -- that is
    what the timestamp is for: the seal stays verifiable after its certificate expires.
    Never raises for bad input: an unreadable file or a missing signature comes back with
    every flag false and the reason in ``problems``.
    Not for use inside a running event loop; await :func:`async_validate_sealed_pdf` there.
    """,
)


def _summarise(field_name: str, status: Any, moment: datetime | None) -> SealValidation:
    ts_status = status.timestamp_validity
    timestamp_sound = ts_status is not None and ts_status.intact and ts_status.valid
    timestamp_trusted = bool(timestamp_sound and ts_status.trusted)
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problems = [
        text
        for failed, text in (
            (not status.intact, "the signed bytes were modified"),
            (not status.valid, "the signature value does not verify"),
            (not status.trusted, "the signer's certificate is not trusted"),
            (ts_status is None, "no signature timestamp"),
            (ts_status is not None and not timestamp_trusted, "the timestamp is not trusted"),
            (not whole, "the file was changed after it was sealed"),
        )
        if failed
    ]
    signer = x509.load_der_x509_certificate(status.signing_cert.dump())
    return SealValidation(
        field_name=field_name,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        timestamp_trusted=timestamp_trusted,
        covers_whole_document=whole,
        signer_subject=signer.subject.rfc4514_string(),
        signing_time=ts_status.timestamp if timestamp_sound else None,
        validated_at=moment,
        problems=tuple(problems),
    )


def signature_timestamp_time(signature: Any) -> datetime | None:
    """The time in the signature timestamp token of pyHanko's ``EmbeddedPdfSignature``.

    Read *before* validation, to validate the chains at that time; the validation itself then
    decides whether the token (and so this time) can be believed. ``None`` if there is none.
    """
    try:
        for attribute in signature.signer_info["unsigned_attrs"]:
            if attribute["type"].native == "signature_time_stamp_token":
                token = attribute["values"][0]
                tst_info = token["content"]["encap_content_info"]["content"].parsed
                moment: datetime = tst_info["gen_time"].native
                return moment
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return None


def offline_validation_contexts(
    reader: PdfFileReader, moment: datetime | None
) -> Callable[[Sequence[x509.Certificate]], ValidationContext]:
    """Make offline validation contexts for the PDF in ``reader``, one per set of roots.

    Each context trusts only the given roots, validates at ``moment`` (``None``: now), never
    fetches, and takes revocation data and extra certificates from the file's DSS, if any.
    """
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except Exception:  # a missing or broken DSS only means no embedded data
        dss = None

    def context(roots: Sequence[x509.Certificate]) -> ValidationContext:
        settings: dict[str, Any] = {
            "trust_roots": [_asn1(c) for c in roots],
            "allow_fetching": False,
            "revocation_mode": "soft-fail",
            "moment": moment,
        }
        if dss is None:
            return ValidationContext(**settings)
        return dss.as_validation_context(settings)

    return context
