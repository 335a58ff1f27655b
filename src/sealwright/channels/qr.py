"""Signed QR codes (C4): a CWT in COSE_Sign1, CBOR, zlib, base45, prefixed (docs/assertions.md).

In the manner of the EU Digital COVID Certificate::

    "SW1:" + base45(zlib(COSE_Sign1(CWT claims)))

CWT claims (RFC 8392; integer keys are the registered claims)::

    1  iss           text, the issuing service (its log origin)
    4  exp           seconds since the epoch
    6  iat           seconds since the epoch
    7  cti           the nonce, 16 random bytes
    "docHash"        32 bytes, SHA-256 of the document as received
    "signerIdHash"   32 bytes, the signer's pseudonymous id (channels/pseudonym.py)

The COSE ``kid`` is the first 8 bytes of the key's RFC 7638 thumbprint, so a verifier finds
the key among those it trusts -- the service's own and any partner's in the trust file's
``qr_keys`` -- by recomputing thumbprints, whatever a partner calls its keys.

Verification refuses, each with its own message: a wrong prefix, bad base45, bad zlib
(or a payload inflating past 4 KiB), bad CBOR/COSE, an unknown kid, a bad signature,
malformed claims, an ``iat`` in the future (beyond :data:`CLOCK_SKEW`), an ``exp`` past.
Each refusal is a :class:`QrRejected` whose ``reason`` is a stable short code (``malformed``,
``unknown-key``, ``bad-signature``, ``bad-claims``, ``not-yet-valid``, ``expired``,
``wrong-document``) for programs, such as the online verifier's problem answers.

Partner keys arrive as a JWKS of public Ed25519 keys (:func:`parse_partner_jwks`), checked
as strictly as the trust file's members.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import cbor2
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from sealwright.channels._b64 import b64url_decode
from sealwright.channels.base45 import b45decode, b45encode
from sealwright.channels.cose import parse_sign1, sign1
from sealwright.errors import ValidationError, VerificationFailed
from sealwright.evidence.trust import ManifestKey
from sealwright.keys.signing import jwk_thumbprint

__all__ = [
    "CLOCK_SKEW",
    "PREFIX",
    "QrClaims",
    "QrRejected",
    "VerifiedQr",
    "decode_qr",
    "encode_qr",
    "parse_partner_jwks",
    "qr_kid",
    "render_png",
    "render_svg",
    "svg_data_uri",
]

PREFIX = "SW1:"
CLOCK_SKEW = 60
_MAX_INFLATED = 4096
_ISS, _EXP, _IAT, _CTI = 1, 4, 6, 7
_DOC, _SIGNER = "docHash", "signerIdHash"
_MEMBERS = {_ISS, _EXP, _IAT, _CTI, _DOC, _SIGNER}


class QrRejected(VerificationFailed):
    """A QR code that does not verify; ``reason`` says which check refused it."""

    code = "qr-not-verified"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def qr_kid(public_key: Ed25519PublicKey) -> bytes:
    return b64url_decode(jwk_thumbprint(public_key))[:8]


@dataclass(frozen=True, slots=True)
class QrClaims:
    issuer: str
    doc_hash: bytes
    signer_id_hash: bytes
    iat: int
    exp: int
    nonce: bytes

    def __post_init__(self) -> None:
        if len(self.doc_hash) != 32 or len(self.signer_id_hash) != 32:
            raise ValidationError("docHash and signerIdHash are 32-byte SHA-256 values")
        if len(self.nonce) != 16:
            raise ValidationError("the QR nonce is 16 bytes")
        if not 0 <= self.iat < self.exp < 2**53:
            raise ValidationError("a QR code needs 0 <= iat < exp")
        if not self.issuer or len(self.issuer) > 200:
            raise ValidationError("a QR code needs a short issuer")

    def to_cbor(self) -> bytes:
        return cbor2.dumps(
            {
                _ISS: self.issuer,
                _EXP: self.exp,
                _IAT: self.iat,
                _CTI: self.nonce,
                _DOC: self.doc_hash,
                _SIGNER: self.signer_id_hash,
            }
        )


@dataclass(frozen=True, slots=True)
class VerifiedQr:
    claims: QrClaims
    kid: bytes


def encode_qr(claims: QrClaims, private_key: Ed25519PrivateKey) -> str:
    """The QR text for ``claims``, signed with ``private_key``."""
    cose = sign1(claims.to_cbor(), qr_kid(private_key.public_key()), private_key.sign)
    return PREFIX + b45encode(zlib.compress(cose, 9))


def decode_qr(
    text: str,
    trusted: Iterable[Ed25519PublicKey],
    *,
    now: datetime,
    doc_hash: bytes | None = None,
) -> VerifiedQr:
    """Verify ``text`` offline against ``trusted`` keys at ``now``; with ``doc_hash``, also
    that it vouches for that document. Raises :class:`VerificationFailed`."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise QrRejected(f"not a Sealwright QR code (no {PREFIX} prefix)", "malformed")
    try:
        compressed = b45decode(text[len(PREFIX) :])
    except ValueError as exc:
        raise QrRejected(f"QR payload: {exc}", "malformed") from exc
    try:
        inflater = zlib.decompressobj()
        cose = inflater.decompress(compressed, _MAX_INFLATED + 1)
        if len(cose) > _MAX_INFLATED or not inflater.eof or inflater.unused_data:
            raise QrRejected("QR payload: truncated, trailing or oversized zlib data", "malformed")
    except zlib.error as exc:
        raise QrRejected("QR payload: not zlib data", "malformed") from exc
    try:
        message = parse_sign1(cose)
    except VerificationFailed as exc:
        raise QrRejected(f"QR payload: {exc}", "malformed") from exc
    keys = {qr_kid(k): k for k in trusted}
    key = keys.get(message.kid)
    if key is None:
        raise QrRejected(f"QR signed by unknown key id {message.kid.hex()}", "unknown-key")
    try:
        message.verify(key)
    except VerificationFailed as exc:
        raise QrRejected(str(exc), "bad-signature") from exc
    claims = _claims(message.payload)
    moment = int(now.timestamp())
    if claims.iat > moment + CLOCK_SKEW:
        raise QrRejected("QR issued in the future (iat)", "not-yet-valid")
    if moment >= claims.exp:
        raise QrRejected("QR expired (exp)", "expired")
    if doc_hash is not None and doc_hash != claims.doc_hash:
        raise QrRejected("QR vouches for another document", "wrong-document")
    return VerifiedQr(claims=claims, kid=message.kid)


def _claims(payload: bytes) -> QrClaims:
    try:
        raw = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise QrRejected("QR claims are not CBOR", "bad-claims") from exc
    if not isinstance(raw, Mapping) or set(raw) != _MEMBERS:
        raise QrRejected(
            "QR claims must be exactly iss, exp, iat, cti, docHash, signerIdHash", "bad-claims"
        )
    types = {_ISS: str, _EXP: int, _IAT: int, _CTI: bytes, _DOC: bytes, _SIGNER: bytes}
    if any(not isinstance(raw[k], t) or isinstance(raw[k], bool) for k, t in types.items()):
        raise QrRejected("QR claims have the wrong types", "bad-claims")
    try:
        return QrClaims(
            issuer=raw[_ISS],
            doc_hash=raw[_DOC],
            signer_id_hash=raw[_SIGNER],
            iat=raw[_IAT],
            exp=raw[_EXP],
            nonce=raw[_CTI],
        )
    except ValidationError as exc:
        raise QrRejected(f"QR claims: {exc}", "bad-claims") from exc


def parse_partner_jwks(data: bytes) -> tuple[Ed25519PublicKey, ...]:
    """Partner organisations' QR keys: ``{"keys": [<public OKP Ed25519 JWK>, ...]}``.
    Strict (no private parts, no other key types, no repeated key); raises
    :class:`ValidationError` naming the problem."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("partner QR keys: not JSON") from exc
    if not isinstance(doc, dict) or set(doc) != {"keys"} or not isinstance(doc["keys"], list):
        raise ValidationError('partner QR keys: must be a JWKS {"keys": [...]}')
    keys = []
    for i, jwk in enumerate(doc["keys"]):
        try:
            keys.append(ManifestKey.from_jwk(jwk).public_key)
        except ValidationError as exc:
            raise ValidationError(f"partner QR keys: keys[{i}]: {exc}") from exc
    if len(set(keys)) != len(keys):
        raise ValidationError("partner QR keys: a key is listed twice")
    return tuple(Ed25519PublicKey.from_public_bytes(k) for k in keys)


def render_svg(text: str, *, scale: int = 4) -> bytes:
    """The QR code as SVG (alphanumeric mode: base45 is that mode's alphabet)."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="svg", scale=scale)
    return buffer.getvalue()


def svg_data_uri(text: str, *, scale: int = 4) -> str:
    """The QR code of any ``text`` (a URL, too) as an SVG ``data:`` URI for an ``<img>``."""
    return str(segno.make_qr(text, error="m").svg_data_uri(scale=scale))


def render_png(text: str, *, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=scale)
    return buffer.getvalue()
