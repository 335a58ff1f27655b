"""What an auditor pins: the trust file (trust.json, docs/evidence-bundle.md §Trust file).

    {"format": "sealwright-trust/1",
     "log_origin": "<origin>",
     "checkpoint_keys": ["<note verifier key>", ...],
     "jwks": {"keys": [<OKP Ed25519 public JWK with kid>, ...]},
     "pdf_roots": ["<PEM CA certificate>", ...],
     "tsa_roots": ["<PEM CA certificate>", ...]}

Optional members: ``witnesses`` and ``min_witnesses``; ``assertion_keys`` (a JWKS of the
keys that sign verification-channel assertions, docs/assertions.md) and ``qr_keys`` (a JWKS
of the keys whose signed QR codes are accepted: the service's own and any partner
organisation's, for cross-organisation verification).

Parsing is strict: unknown members, private key material, duplicate key ids or an
unparseable certificate are errors, each naming the offending member. A verifier's
trust anchors are the one input that must never be "roughly right".
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from sealwright.errors import ValidationError
from sealwright.evidence.manifest_jws import b64url_decode, b64url_encode
from sealwright.ledger.canonical import canonicalize
from sealwright.ledger.note import NoteVerifier
from sealwright.witness.cosignature import CosignatureVerifier

__all__ = ["TRUST_FORMAT", "ManifestKey", "TrustStore"]

TRUST_FORMAT = "sealwright-trust/1"
_MEMBERS = {"format", "log_origin", "checkpoint_keys", "jwks", "pdf_roots", "tsa_roots"}
#: Optional members: witnesses whose cosignatures the auditor requires, and how many.
_OPTIONAL = {"witnesses", "min_witnesses", "assertion_keys", "qr_keys"}
_JWK_MEMBERS = {"kty", "crv", "x", "kid", "alg", "use"}


@dataclass(frozen=True)
class ManifestKey:
    """A trusted manifest-signing key: Ed25519, named by its JWK ``kid``."""

    kid: str
    public_key: bytes

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> ManifestKey:
        """From a public OKP Ed25519 JWK (e.g. an entry of ``SigningKeys.public_jwks()``)."""
        return _jwk(jwk, "jwk")

    def to_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(self.public_key),
            "kid": self.kid,
        }


@dataclass(frozen=True)
class TrustStore:
    log_origin: str
    checkpoint_keys: tuple[NoteVerifier, ...]
    manifest_keys: tuple[ManifestKey, ...]
    pdf_roots: tuple[str, ...]
    tsa_roots: tuple[str, ...]
    #: Witness cosignature keys (C2SP tlog-cosignature) and the quorum required of them.
    witnesses: tuple[CosignatureVerifier, ...] = ()
    min_witnesses: int = 0
    #: Keys that sign verification-channel assertions (never used for anything else).
    assertion_keys: tuple[ManifestKey, ...] = ()
    #: Keys whose signed QR codes are accepted (own and partners').
    qr_keys: tuple[ManifestKey, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.min_witnesses <= len(self.witnesses):
            raise ValidationError(
                f"trust: min_witnesses must be between 0 and the {len(self.witnesses)} "
                "witnesses listed"
            )
        if not self.log_origin or "\n" in self.log_origin:
            raise ValidationError("trust: log_origin must be a non-empty single line")
        if not any(k.name == self.log_origin for k in self.checkpoint_keys):
            raise ValidationError(
                f"trust: checkpoint_keys has no key named like the log origin {self.log_origin!r}"
            )
        kids = [k.kid for k in self.manifest_keys]
        if not kids:
            raise ValidationError("trust: jwks.keys is empty")
        if len(set(kids)) != len(kids):
            raise ValidationError("trust: jwks.keys has a repeated kid")
        for member in ("assertion_keys", "qr_keys"):
            named = [k.kid for k in getattr(self, member)]
            if len(set(named)) != len(named):
                raise ValidationError(f"trust: {member}.keys has a repeated kid")
        for field in ("pdf_roots", "tsa_roots"):
            pems = getattr(self, field)
            if not pems:
                raise ValidationError(f"trust: {field} is empty")
            for i, pem in enumerate(pems):
                _load_certificate(pem, f"{field}[{i}]")

    @property
    def manifest_key_bytes(self) -> Mapping[str, bytes]:
        return {k.kid: k.public_key for k in self.manifest_keys}

    @property
    def assertion_key_bytes(self) -> Mapping[str, bytes]:
        return {k.kid: k.public_key for k in self.assertion_keys}

    def pdf_root_certificates(self) -> list[x509.Certificate]:
        return [_load_certificate(p, "pdf_roots") for p in self.pdf_roots]

    def tsa_root_certificates(self) -> list[x509.Certificate]:
        return [_load_certificate(p, "tsa_roots") for p in self.tsa_roots]

    @classmethod
    def from_json(cls, data: bytes) -> TrustStore:
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(f"trust: not a JSON document: {exc}") from exc
        if not isinstance(doc, dict):
            raise ValidationError("trust: top level must be an object")
        unknown = set(doc) - _MEMBERS - _OPTIONAL
        missing = _MEMBERS - set(doc)
        if unknown or missing:
            raise ValidationError(
                f"trust: unknown members {sorted(unknown)}, missing members {sorted(missing)}"
            )
        if doc["format"] != TRUST_FORMAT:
            raise ValidationError(f"trust: format must be {TRUST_FORMAT!r}")
        if not isinstance(doc["log_origin"], str):
            raise ValidationError("trust: log_origin must be a string")
        checkpoint_keys = []
        for i, vkey in enumerate(_strings(doc["checkpoint_keys"], "checkpoint_keys")):
            try:
                checkpoint_keys.append(NoteVerifier.from_vkey(vkey))
            except ValidationError as exc:
                raise ValidationError(f"trust: checkpoint_keys[{i}]: {exc}") from exc
        jwks = doc["jwks"]
        if (
            not isinstance(jwks, dict)
            or set(jwks) != {"keys"}
            or not isinstance(jwks["keys"], list)
        ):
            raise ValidationError('trust: jwks must be {"keys": [...]}')
        return cls(
            log_origin=doc["log_origin"],
            checkpoint_keys=tuple(checkpoint_keys),
            manifest_keys=tuple(
                _jwk(k, f"trust: jwks.keys[{i}]") for i, k in enumerate(jwks["keys"])
            ),
            pdf_roots=_strings(doc["pdf_roots"], "pdf_roots"),
            tsa_roots=_strings(doc["tsa_roots"], "tsa_roots"),
            witnesses=_witnesses(doc.get("witnesses", [])),
            min_witnesses=_count(doc.get("min_witnesses", 0)),
            assertion_keys=_jwks(doc.get("assertion_keys", {"keys": []}), "assertion_keys"),
            qr_keys=_jwks(doc.get("qr_keys", {"keys": []}), "qr_keys"),
        )

    def with_witnesses(self, vkeys: Sequence[str], min_witnesses: int | None) -> TrustStore:
        """This store plus witnesses named on a command line, and/or another quorum."""
        extra = _witnesses(list(vkeys))
        known = {w.vkey for w in self.witnesses}
        witnesses = self.witnesses + tuple(w for w in extra if w.vkey not in known)
        quorum = self.min_witnesses if min_witnesses is None else min_witnesses
        return dataclasses.replace(self, witnesses=witnesses, min_witnesses=quorum)

    def to_json(self) -> bytes:
        """RFC 8785 canonical JSON; ``from_json(to_json())`` gives an equal store."""
        return canonicalize(
            {
                "format": TRUST_FORMAT,
                "log_origin": self.log_origin,
                "checkpoint_keys": [k.vkey for k in self.checkpoint_keys],
                "jwks": {"keys": [k.to_jwk() for k in self.manifest_keys]},
                "pdf_roots": list(self.pdf_roots),
                "tsa_roots": list(self.tsa_roots),
                **(
                    {
                        "witnesses": [w.vkey for w in self.witnesses],
                        "min_witnesses": self.min_witnesses,
                    }
                    if self.witnesses
                    else {}
                ),
                **(
                    {"assertion_keys": {"keys": [k.to_jwk() for k in self.assertion_keys]}}
                    if self.assertion_keys
                    else {}
                ),
                **(
                    {"qr_keys": {"keys": [k.to_jwk() for k in self.qr_keys]}}
                    if self.qr_keys
                    else {}
                ),
            }
        )


def _witnesses(value: Any) -> tuple[CosignatureVerifier, ...]:
    out = []
    for i, vkey in enumerate(_strings(value, "witnesses")):
        try:
            out.append(CosignatureVerifier.from_vkey(vkey))
        except (ValidationError, ValueError) as exc:
            raise ValidationError(f"trust: witnesses[{i}]: {exc}") from exc
    return tuple(out)


def _jwks(value: Any, member: str) -> tuple[ManifestKey, ...]:
    if not isinstance(value, dict) or set(value) != {"keys"} or not isinstance(value["keys"], list):
        raise ValidationError(f'trust: {member} must be {{"keys": [...]}}')
    return tuple(_jwk(k, f"trust: {member}.keys[{i}]") for i, k in enumerate(value["keys"]))


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError("trust: min_witnesses must be a non-negative integer")
    return value


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"trust: {field} must be a list of strings")
    return tuple(value)


def _jwk(value: Any, where: str) -> ManifestKey:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where}: must be an object")
    if "d" in value:
        raise ValidationError(f"{where}: contains private key material ('d'); remove it")
    unknown = set(value) - _JWK_MEMBERS
    if unknown:
        raise ValidationError(f"{where}: unknown members {sorted(unknown)}")
    if value.get("kty") != "OKP" or value.get("crv") != "Ed25519":
        raise ValidationError(f"{where}: only OKP Ed25519 keys are accepted")
    if value.get("alg", "Ed25519") != "Ed25519" or value.get("use", "sig") != "sig":
        raise ValidationError(f"{where}: alg must be Ed25519 and use must be sig")
    kid, x = value.get("kid"), value.get("x")
    if not isinstance(kid, str) or not kid:
        raise ValidationError(f"{where}: needs a non-empty string kid")
    try:
        public_key = b64url_decode(x) if isinstance(x, str) else b""
    except ValueError as exc:
        raise ValidationError(f"{where}: x: {exc}") from exc
    if len(public_key) != 32:
        raise ValidationError(f"{where}: x must encode a 32-byte Ed25519 public key")
    return ManifestKey(kid=kid, public_key=public_key)


def _load_certificate(pem: str, where: str) -> x509.Certificate:
    try:
        certs = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (UnicodeEncodeError, ValueError) as exc:
        raise ValidationError(f"trust: {where}: not a PEM certificate") from exc
    if len(certs) != 1:
        raise ValidationError(f"trust: {where}: must hold exactly one certificate")
    return certs[0]
