"""COSE_Sign1 (RFC 9052 section 4.2) with Ed25519 (``alg`` -8, EdDSA), just what QR codes need.

    COSE_Sign1 = #6.18([protected: bstr .cbor {1: -8, 4: kid}, unprotected: {},
                        payload: bstr, signature: bstr])
    signed bytes = CBOR(["Signature1", protected, h'', payload])   (Sig_structure, no AAD)

Both header parameters are protected, so the key id cannot be swapped without breaking the
signature. Parsing is strict about the shape and refuses any other algorithm (no "alg
none", no confusion with another curve).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sealwright.errors import VerificationFailed

__all__ = ["ALG_EDDSA", "CoseSign1", "parse_sign1", "sign1"]

ALG_EDDSA = -8
_ALG, _KID = 1, 4
_TAG = 18


@dataclass(frozen=True, slots=True)
class CoseSign1:
    protected: bytes
    kid: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)

    def verify(self, public_key: Ed25519PublicKey) -> None:
        try:
            public_key.verify(self.signature, self.to_be_signed())
        except InvalidSignature as exc:
            raise VerificationFailed("the COSE signature does not verify") from exc


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign1(payload: bytes, kid: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    """The tagged COSE_Sign1 of ``payload``; ``sign`` makes an Ed25519 signature."""
    protected = cbor2.dumps({_ALG: ALG_EDDSA, _KID: kid})
    signature = sign(sig_structure(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(_TAG, [protected, {}, payload, signature]))


def parse_sign1(data: bytes) -> CoseSign1:
    try:
        obj = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise VerificationFailed("not CBOR") from exc
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != _TAG:
            raise VerificationFailed(f"CBOR tag {obj.tag} is not COSE_Sign1 (18)")
        obj = obj.value
    if not (
        isinstance(obj, (list, tuple))
        and len(obj) == 4
        and isinstance(obj[0], bytes)
        and isinstance(obj[1], Mapping)
        and isinstance(obj[2], bytes)
        and isinstance(obj[3], bytes)
    ):
        raise VerificationFailed("not a COSE_Sign1 structure")
    protected, unprotected, payload, signature = obj
    try:
        header = cbor2.loads(protected)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise VerificationFailed("protected header is not CBOR") from exc
    if not isinstance(header, Mapping) or header.get(_ALG) != ALG_EDDSA:
        raise VerificationFailed("protected header must name alg -8 (EdDSA)")
    kid = header.get(_KID, unprotected.get(_KID))
    if _KID in unprotected or not isinstance(kid, bytes) or not kid:
        raise VerificationFailed("the key id must be a protected, non-empty bstr")
    if len(signature) != 64:
        raise VerificationFailed("an Ed25519 signature is 64 bytes")
    return CoseSign1(protected=protected, kid=kid, payload=payload, signature=signature)
