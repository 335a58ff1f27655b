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
"""

from __future__ import annotations

import io
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
from sealwright.keys.signing import jwk_thumbprint

__all__ = [
    "CLOCK_SKEW",
    "PREFIX",
    "QrClaims",
    "decode_qr",
    "encode_qr",
    "qr_kid",
    "render_png",
    "render_svg",
]

PREFIX = "SW1:"
CLOCK_SKEW = 60
_MAX_INFLATED = 4096
_ISS, _EXP, _IAT, _CTI = 1, 4, 6, 7
_DOC, _SIGNER = "docHash", "signerIdHash"
_MEMBERS = {_ISS, _EXP, _IAT, _CTI, _DOC, _SIGNER}


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
        raise VerificationFailed(f"not a Sealwright QR code (no {PREFIX} prefix)")
    try:
        compressed = b45decode(text[len(PREFIX) :])
    except ValueError as exc:
        raise VerificationFailed(f"QR payload: {exc}") from exc
    try:
        inflater = zlib.decompressobj()
        cose = inflater.decompress(compressed, _MAX_INFLATED + 1)
        if len(cose) > _MAX_INFLATED or not inflater.eof or inflater.unused_data:
            raise VerificationFailed("QR payload: truncated, trailing or oversized zlib data")
    except zlib.error as exc:
        raise VerificationFailed("QR payload: not zlib data") from exc
    message = parse_sign1(cose)
    keys = {qr_kid(k): k for k in trusted}
    key = keys.get(message.kid)
    if key is None:
        raise VerificationFailed(f"QR signed by unknown key id {message.kid.hex()}")
    message.verify(key)
    claims = _claims(message.payload)
    moment = int(now.timestamp())
    if claims.iat > moment + CLOCK_SKEW:
        raise VerificationFailed("QR issued in the future (iat)")
    if moment >= claims.exp:
        raise VerificationFailed("QR expired (exp)")
    if doc_hash is not None and doc_hash != claims.doc_hash:
        raise VerificationFailed("QR vouches for another document")
    return VerifiedQr(claims=claims, kid=message.kid)


def _claims(payload: bytes) -> QrClaims:
    try:
        raw = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise VerificationFailed("QR claims are not CBOR") from exc
    if not isinstance(raw, Mapping) or set(raw) != _MEMBERS:
        raise VerificationFailed(
            "QR claims must be exactly iss, exp, iat, cti, docHash, signerIdHash"
        )
    types = {_ISS: str, _EXP: int, _IAT: int, _CTI: bytes, _DOC: bytes, _SIGNER: bytes}
    if any(not isinstance(raw[k], t) or isinstance(raw[k], bool) for k, t in types.items()):
        raise VerificationFailed("QR claims have the wrong types")
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
        raise VerificationFailed(f"QR claims: {exc}") from exc


def render_svg(text: str, *, scale: int = 4) -> bytes:
    """The QR code as SVG (alphanumeric mode: base45 is that mode's alphabet)."""
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="svg", scale=scale)
    return buffer.getvalue()


def render_png(text: str, *, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=scale)
    return buffer.getvalue()
