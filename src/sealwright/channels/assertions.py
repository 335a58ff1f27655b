"""Signed assertions: what a verification channel's result becomes (docs/assertions.md).

An assertion is a compact JWS (RFC 7515) whose payload is a JWT claims set (RFC 7519) in
RFC 8785 canonical JSON, signed with Ed25519 (RFC 9864 ``alg`` ``"Ed25519"``). Protected
header, exactly::

    {"alg": "Ed25519", "kid": "<RFC 7638 thumbprint>", "typ": "sealwright-assertion+jwt"}

The keys are their own purpose (``assertions`` in ``keys/signing.py``), and the ``typ`` is
checked, so an assertion can never pass as an access token or a manifest signature, nor
the other way round. Claims, exactly these members (``consent`` optional)::

    jti        32 lowercase hex digits, the assertion id
    iat        seconds since the epoch
    envelope   the envelope id
    documents  SHA-256 hex of each document as received (sorted, at least one)
    sub        the pseudonymous recipient id (channels/pseudonym.py), 64 hex digits
    channel    e.g. "phone-callback", "sms-otp", "video", "qr", "manual-review"
    nonce      base64url (no padding) of at least 16 random bytes
    result     passed | failed | expired | locked | escalated
    details    {name: string | integer | boolean | null}, non-personal
    consent    {"text": "<consent text id>", "at": seconds}   (only where consent was given)

JWS rather than COSE_Sign1 because the service and its offline verifier already carry the
JWS stack (tokens, the manifest signature), the claims stay readable in an evidence bundle
with nothing but a base64 decoder, and size does not matter here as it does in a QR code
(which is why ``qr.py`` uses COSE).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from sealwright.channels._b64 import b64url_decode, b64url_encode
from sealwright.channels.port import DetailValue, Outcome
from sealwright.errors import ValidationError, VerificationFailed
from sealwright.ledger.canonical import canonicalize, parse_canonical

__all__ = [
    "ASSERTION_TYP",
    "AssertionClaims",
    "ConsentClaim",
    "sign_assertion",
    "verify_assertion",
]

ASSERTION_ALG = "Ed25519"
ASSERTION_TYP = "sealwright-assertion+jwt"
_REQUIRED = {"jti", "iat", "envelope", "documents", "sub", "channel", "nonce", "result", "details"}
_OPTIONAL = {"consent"}
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CHANNEL = re.compile(r"[a-z][a-z0-9-]{0,31}")
_DETAIL_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_MAX_DETAILS = 32
_MAX_TEXT = 200


class _Registry(jws.JWSRegistry):
    algorithms = {ASSERTION_ALG: jws.JWSRegistry.algorithms[ASSERTION_ALG]}
    recommended = [ASSERTION_ALG]


def _registry() -> jws.JWSRegistry:
    return _Registry(algorithms=[ASSERTION_ALG])


@dataclass(frozen=True, slots=True)
class ConsentClaim:
    text: str
    at: int


@dataclass(frozen=True, slots=True)
class AssertionClaims:
    jti: str
    iat: int
    envelope: str
    documents: tuple[str, ...]
    sub: str
    channel: str
    nonce: str
    result: Outcome
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    consent: ConsentClaim | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValidationError("assertion: " + "; ".join(problems))

    def to_json(self) -> bytes:
        claims: dict[str, Any] = {
            "jti": self.jti,
            "iat": self.iat,
            "envelope": self.envelope,
            "documents": list(self.documents),
            "sub": self.sub,
            "channel": self.channel,
            "nonce": self.nonce,
            "result": self.result.value,
            "details": dict(self.details),
        }
        if self.consent is not None:
            claims["consent"] = {"text": self.consent.text, "at": self.consent.at}
        return canonicalize(claims)

    @classmethod
    def parse(cls, data: bytes) -> AssertionClaims:
        """Strict: canonical JSON, exactly the documented members and types."""
        try:
            doc = parse_canonical(data)
        except ValidationError as exc:
            raise ValidationError(f"assertion claims: {exc}") from exc
        if not isinstance(doc, dict):
            raise ValidationError("assertion claims must be an object")
        unknown, missing = set(doc) - _REQUIRED - _OPTIONAL, _REQUIRED - set(doc)
        if unknown or missing:
            raise ValidationError(
                f"assertion claims: unknown members {sorted(unknown)}, missing {sorted(missing)}"
            )
        documents, details = doc["documents"], doc["details"]
        if not isinstance(documents, list) or not isinstance(details, dict):
            raise ValidationError("assertion claims: documents must be a list, details an object")
        try:
            result = Outcome(doc["result"])
        except ValueError as exc:
            raise ValidationError("assertion claims: unknown result") from exc
        consent = doc.get("consent")
        if consent is not None and (
            not isinstance(consent, dict) or set(consent) != {"text", "at"}
        ):
            raise ValidationError('assertion claims: consent must be {"text", "at"}')
        for name in ("jti", "envelope", "sub", "channel", "nonce"):
            if not isinstance(doc[name], str):
                raise ValidationError(f"assertion claims: {name} must be a string")
        return cls(
            jti=doc["jti"],
            iat=doc["iat"],
            envelope=doc["envelope"],
            documents=tuple(documents),
            sub=doc["sub"],
            channel=doc["channel"],
            nonce=doc["nonce"],
            result=result,
            details=details,
            consent=None if consent is None else ConsentClaim(consent["text"], consent["at"]),
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _problems(c: AssertionClaims) -> list[str]:
    problems = []
    if not isinstance(c.jti, str) or not _HEX32.fullmatch(c.jti):
        problems.append("jti must be 32 lowercase hex digits")
    if not _is_int(c.iat):
        problems.append("iat must be a non-negative integer")
    if not isinstance(c.envelope, str) or not c.envelope or len(c.envelope) > 64:
        problems.append("envelope must be a non-empty id")
    docs = c.documents
    if (
        not docs
        or not all(isinstance(d, str) and _HEX64.fullmatch(d) for d in docs)
        or list(docs) != sorted(set(docs))
    ):
        problems.append("documents must be sorted, distinct SHA-256 hex digests, at least one")
    if not isinstance(c.sub, str) or not _HEX64.fullmatch(c.sub):
        problems.append("sub must be 64 lowercase hex digits")
    if not isinstance(c.channel, str) or not _CHANNEL.fullmatch(c.channel):
        problems.append("channel must be a lowercase name")
    try:
        if len(b64url_decode(c.nonce)) < 16:
            problems.append("nonce must encode at least 16 bytes")
    except (ValueError, TypeError):
        problems.append("nonce must be unpadded base64url")
    if len(c.details) > _MAX_DETAILS:
        problems.append(f"details has more than {_MAX_DETAILS} members")
    for name, value in c.details.items():
        if not isinstance(name, str) or not _DETAIL_NAME.fullmatch(name):
            problems.append(f"detail name {str(name)[:40]!r} is not a lowercase identifier")
        elif not (
            value is None
            or isinstance(value, bool)
            or _is_int(value)
            or (isinstance(value, str) and len(value) <= _MAX_TEXT)
        ):
            problems.append(f"detail {name} must be a short string, an integer, a boolean or null")
    if c.consent is not None and (
        not isinstance(c.consent.text, str)
        or not c.consent.text
        or len(c.consent.text) > _MAX_TEXT
        or not _is_int(c.consent.at)
    ):
        problems.append("consent needs a text id and an integer time")
    return problems


def sign_assertion(claims: AssertionClaims, private_key: Ed25519PrivateKey, kid: str) -> str:
    """The compact JWS of ``claims``, signed by the assertion key ``kid``."""
    header = {"alg": ASSERTION_ALG, "kid": kid, "typ": ASSERTION_TYP}
    return jws.serialize_compact(
        header, claims.to_json(), OKPKey.import_key(private_key), registry=_registry()
    )


def verify_assertion(compact: str, keys: Mapping[str, bytes]) -> tuple[str, AssertionClaims]:
    """Check ``compact`` against the trusted assertion keys (kid -> 32-byte Ed25519 public
    key). Returns ``(kid, claims)``; raises :class:`VerificationFailed` saying what is wrong."""
    segments = compact.split(".")
    if len(segments) != 3:
        raise VerificationFailed("not a compact JWS (three segments)")
    try:
        header_raw, payload, _ = (b64url_decode(s) for s in segments)
        header = json.loads(header_raw)
    except ValueError as exc:
        raise VerificationFailed(f"malformed compact JWS: {exc}") from exc
    if not isinstance(header, dict) or set(header) != {"alg", "kid", "typ"}:
        raise VerificationFailed("protected header must be exactly alg, kid, typ")
    if header["alg"] != ASSERTION_ALG or header["typ"] != ASSERTION_TYP:
        raise VerificationFailed(f"header must have alg {ASSERTION_ALG}, typ {ASSERTION_TYP}")
    kid = header["kid"]
    if not isinstance(kid, str) or kid not in keys:
        raise VerificationFailed(f"key id {str(kid)[:60]!r} is not a trusted assertion key")
    public = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(keys[kid])})
    try:
        jws.deserialize_compact(compact, public, registry=_registry())
    except JoseError as exc:
        raise VerificationFailed(f"signature by {kid!r} does not verify") from exc
    try:
        return kid, AssertionClaims.parse(payload)
    except ValidationError as exc:
        raise VerificationFailed(str(exc)) from exc
