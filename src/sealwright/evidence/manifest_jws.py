"""The manifest signature: a compact JWS (RFC 7515) over the exact manifest.json bytes.

Protected header, exactly: ``{"alg": "Ed25519", "kid": <kid>, "typ": "sealwright-manifest+jws"}``.
The payload is attached (not detached, not ``b64: false``).

``alg`` is RFC 9864's fully-specified ``Ed25519`` (which deprecates RFC 8037's polymorphic
``EdDSA``); the signature bytes are the same Ed25519 signature either way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from sealwright.errors import VerificationFailed

__all__ = [
    "MANIFEST_JWS_TYP",
    "Ed25519ManifestSigner",
    "ManifestSigner",
    "b64url_decode",
    "b64url_encode",
    "verify_manifest_jws",
]

MANIFEST_JWS_ALG = "Ed25519"
MANIFEST_JWS_TYP = "sealwright-manifest+jws"


class _ManifestRegistry(jws.JWSRegistry):
    algorithms = {MANIFEST_JWS_ALG: jws.JWSRegistry.algorithms[MANIFEST_JWS_ALG]}
    recommended = [MANIFEST_JWS_ALG]
    # joserfc's default cap is 128 kB; a manifest lists every file and document.
    max_payload_length = 64 * 1024 * 1024


def _registry() -> jws.JWSRegistry:
    return _ManifestRegistry(algorithms=[MANIFEST_JWS_ALG])


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Unpadded base64url in its one canonical spelling (RFC 7515 §2)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64url") from exc
    if b64url_encode(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


class ManifestSigner(Protocol):
    """Signs manifest bytes; ``sign`` returns the compact JWS. A KMS/HSM-backed signer
    only has to produce the same header and an Ed25519 signature."""

    @property
    def kid(self) -> str: ...

    def sign(self, payload: bytes) -> str: ...


@dataclass(frozen=True)
class Ed25519ManifestSigner:
    """A ManifestSigner over an in-memory Ed25519 key."""

    private_key: Ed25519PrivateKey
    kid: str

    def sign(self, payload: bytes) -> str:
        header = {"alg": MANIFEST_JWS_ALG, "kid": self.kid, "typ": MANIFEST_JWS_TYP}
        key = OKPKey.import_key(self.private_key)
        return jws.serialize_compact(header, payload, key, registry=_registry())

    def public_jwk(self) -> dict[str, str]:
        """The public JWK to publish in jwks.json and pin in trust.json."""
        x = b64url_encode(self.private_key.public_key().public_bytes_raw())
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid}


def verify_manifest_jws(token: bytes, manifest: bytes, keys: Mapping[str, bytes]) -> str:
    """Check that ``token`` is our compact JWS over exactly ``manifest``, signed by the
    trusted Ed25519 key (32 raw bytes) its ``kid`` names in ``keys``. Returns the kid;
    raises :class:`VerificationFailed` saying what is wrong."""
    try:
        text = token.decode("ascii")
    except UnicodeDecodeError as exc:
        raise VerificationFailed("manifest.jws is not ASCII") from exc
    segments = text.split(".")
    if len(segments) != 3:
        raise VerificationFailed("manifest.jws is not a compact JWS (three segments)")
    try:
        header_raw, payload, _signature = (b64url_decode(s) for s in segments)
    except ValueError as exc:
        raise VerificationFailed(f"manifest.jws: {exc}") from exc
    try:
        header = json.loads(header_raw)
    except ValueError as exc:
        raise VerificationFailed("manifest.jws: protected header is not JSON") from exc
    if not isinstance(header, dict) or set(header) != {"alg", "kid", "typ"}:
        raise VerificationFailed("manifest.jws: protected header must be exactly alg, kid, typ")
    if header["alg"] != MANIFEST_JWS_ALG or header["typ"] != MANIFEST_JWS_TYP:
        raise VerificationFailed(
            f"manifest.jws: header must have alg {MANIFEST_JWS_ALG}, typ {MANIFEST_JWS_TYP}"
        )
    kid = header["kid"]
    if not isinstance(kid, str) or kid not in keys:
        raise VerificationFailed(f"manifest.jws: key id {kid!r} is not in the trusted JWKS")
    if payload != manifest:
        raise VerificationFailed("manifest.jws: payload is not the manifest.json bytes")
    public = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(keys[kid])})
    try:
        jws.deserialize_compact(text, public, registry=_registry())
    except JoseError as exc:
        raise VerificationFailed(f"manifest.jws: signature by {kid!r} does not verify") from exc
    return kid
