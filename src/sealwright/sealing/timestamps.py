"""RFC 3161 timestamping: the ``TimestampAuthority`` port and its two adapters.

``local_tsa`` answers in-process with tokens signed by the local PKI's TSA certificate (for
development and self-contained installations); ``http_tsa`` asks any RFC 3161 service over
HTTP(S). Either way the token is a real one and the time in it comes from the authority,
never from a fallback: every failure -- refused request, network error, garbage reply, a token
for some other digest -- raises :class:`~sealwright.errors.TimestampUnavailable` (``from`` the
original), and sealing is retried later.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from sealwright.clock import Clock
from sealwright.errors import ConfigurationError, TimestampUnavailable
from sealwright.sealing.pki import LocalPki

#: TSA policy of the local authority: an X.667 UUID-based OID (2.25.<uuid>), which needs no
#: registration. It says "Sealwright's built-in TSA", nothing more.
LOCAL_TSA_POLICY = "2.25.198052283149044455685344594629834993868"

_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_log = logging.getLogger(__name__)


class TimestampAuthority(Protocol):
    """Where signature timestamps come from."""

    @property
    def label(self) -> str:
        """Who answers, for logs and error messages (``"local"`` or the URL)."""
        ...

    @property
    def trust_roots(self) -> Sequence[x509.Certificate]:
        """The CA certificates the authority's certificate chains to."""
        ...

    def timestamper(self) -> TimeStamper:
        """A fresh pyHanko timestamper for one signing operation.

        It raises ``TimestampUnavailable`` on any failure. Fresh, because pyHanko caches the
        TSA's certificates in it, and a cache outliving a TSA certificate rollover would leave
        the new certificate out of the embedded validation data.
        """
        ...

    def timestamp(self, digest: bytes, md_algorithm: str = "sha256") -> bytes:
        """A DER-encoded RFC 3161 ``TimeStampToken`` over ``digest`` (outside event loops)."""
        ...


@dataclass(frozen=True)
class _Authority:
    label: str
    trust_roots: Sequence[x509.Certificate]
    transport: Callable[[], TimeStamper]

    def timestamper(self) -> TimeStamper:
        return _GuardedTimeStamper(self.transport(), label=self.label)

    def timestamp(self, digest: bytes, md_algorithm: str = "sha256") -> bytes:
        token = asyncio.run(self.timestamper().async_timestamp(digest, md_algorithm))
        der: bytes = token.dump()
        return der


def local_tsa(pki: LocalPki, clock: Clock) -> TimestampAuthority:
    """The in-process TSA: tokens signed by ``pki.tsa``, at ``clock.now()``.

    Development-grade: its time is only as good as the host clock, and anyone holding the PKI
    directory can backdate. Use :func:`http_tsa` with an independent TSA in production.
    """
    _log.warning(
        "using the built-in timestamp authority: timestamps are only as trustworthy as this "
        "host's clock and PKI directory; configure an independent RFC 3161 TSA for production"
    )
    return _Authority(
        label="local",
        trust_roots=pki.trust_roots,
        transport=lambda: _LocalTsa(pki, clock),
    )


def http_tsa(
    url: str,
    timeout: float = 10.0,
    *,
    trust_roots: Sequence[x509.Certificate],
    auth: tuple[str, str] | None = None,
) -> TimestampAuthority:
    """An RFC 3161 TSA over HTTP(S) (``application/timestamp-query``).

    ``trust_roots`` are the CA certificates the TSA's certificate chains to (published by the
    TSA operator): sealing validates the TSA's chain against them before embedding it, and
    verifiers need the same certificates in ``tsa_roots``.
    """
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError("timestamp authority URL must be http:// or https://")
    if timeout <= 0:
        raise ConfigurationError("timestamp authority timeout must be positive")
    return _Authority(
        label=url,
        trust_roots=tuple(trust_roots),
        transport=lambda: HTTPTimeStamper(url, timeout=timeout, auth=auth),
    )


class _GuardedTimeStamper(TimeStamper):
    """A timestamper that checks what comes back and speaks Sealwright's error tree.

    pyHanko only checks the status and the nonce of a reply; a token over some other digest
    would be embedded and only caught by a later validator, so the imprint is checked here.
    """

    def __init__(self, transport: TimeStamper, *, label: str) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]  # pyHanko
        self._transport = transport
        self._label = label

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return await self._transport.async_request_tsa_response(req)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        try:
            token = await super().async_timestamp(message_digest, md_algorithm)
            _check_imprint(token, message_digest, md_algorithm)
        except TimestampUnavailable:
            raise
        except Exception as exc:
            # Library and network errors of every kind (aiohttp, asn1crypto parse errors on a
            # garbage body, pyHanko's TimestampRequestError) mean the same thing to us.
            raise TimestampUnavailable(
                f"timestamp authority {self._label} failed ({type(exc).__name__})"
            ) from exc
        return token


def _check_imprint(token: cms.ContentInfo, digest: bytes, md_algorithm: str) -> None:
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    imprint = tst_info["message_imprint"]
    if (
        imprint["hash_algorithm"]["algorithm"].native != md_algorithm
        or imprint["hashed_message"].native != digest
    ):
        raise TimestampUnavailable("timestamp authority returned a token for another digest")


class _LocalTsa(TimeStamper):
    """Answers timestamp requests in-process (the transport half of :func:`local_tsa`)."""

    def __init__(self, pki: LocalPki, clock: Clock) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]  # pyHanko
        self._clock = clock
        self._certificate: Any = translate_pyca_cryptography_cert_to_asn1(pki.tsa.certificate)
        registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # certvalidator
        registry.register_multiple([translate_pyca_cryptography_cert_to_asn1(c) for c in pki.chain])
        self._signer = SimpleSigner(
            signing_cert=self._certificate,
            signing_key=translate_pyca_cryptography_key_to_asn1(pki.tsa.private_key),
            cert_registry=registry,
        )

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        imprint = req["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if _DIGEST_SIZES.get(algorithm) != len(imprint["hashed_message"].native):
            return _refusal("bad_alg", "unsupported or inconsistent message imprint")
        now = self._clock.now()
        tst_info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": LOCAL_TSA_POLICY,
                "message_imprint": imprint,
                "serial_number": int.from_bytes(secrets.token_bytes(16), "big"),
                "gen_time": now,
                "accuracy": {"seconds": 1},
                "ordering": False,
                "nonce": req["nonce"],
                "tsa": asn1_x509.GeneralName(
                    name="directory_name", value=self._certificate.subject
                ),
            }
        )
        if req["nonce"].native is None:
            del tst_info["nonce"]
        token = await self._signer.async_sign_general_data(
            cms.EncapsulatedContentInfo(
                {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_info.dump())}
            ),
            "sha256",
            detached=False,
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=now),
        )
        return tsp.TimeStampResp(
            {"status": tsp.PKIStatusInfo({"status": "granted"}), "time_stamp_token": token}
        )


def _refusal(fail_info: str, text: str) -> tsp.TimeStampResp:
    return tsp.TimeStampResp(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": "rejection",
                    "status_string": [text],
                    "fail_info": tsp.PKIFailureInfo({fail_info}),
                }
            )
        }
    )


__all__ = [
    "LOCAL_TSA_POLICY",
    "TimestampAuthority",
    "http_tsa",
    "local_tsa",
]
