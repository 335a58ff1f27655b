"""Signed QR codes (channels/qr.py, cose.py): round trip and every refusal."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.channels.base45 import b45decode, b45encode
from sealwright.channels.cose import parse_sign1, sig_structure, sign1
from sealwright.channels.qr import (
    CLOCK_SKEW,
    PREFIX,
    QrClaims,
    decode_qr,
    encode_qr,
    qr_kid,
    render_png,
    render_svg,
)
from sealwright.errors import ValidationError, VerificationFailed

COSE_WG = Path(__file__).parents[2] / "vectors" / "cose-wg" / "eddsa-sig-02.json"
IAT = 1_767_268_800
NOW = datetime.fromtimestamp(IAT + 30, UTC)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PARTNER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def claims(**changes: object) -> QrClaims:
    base: dict[str, object] = {
        "issuer": "sealwright.test/log",
        "doc_hash": b"\x11" * 32,
        "signer_id_hash": b"\x22" * 32,
        "iat": IAT,
        "exp": IAT + 600,
        "nonce": b"\x33" * 16,
    }
    base.update(changes)
    return QrClaims(**base)  # type: ignore[arg-type]


def refused(text: str, message: str, **kwargs: object) -> None:
    with pytest.raises(VerificationFailed, match=message):
        decode_qr(text, [KEY.public_key()], now=kwargs.pop("now", NOW), **kwargs)  # type: ignore[arg-type]


def test_round_trip_and_alphanumeric_rendering() -> None:
    text = encode_qr(claims(), KEY)
    assert text.startswith(PREFIX)
    found = decode_qr(text, [PARTNER.public_key(), KEY.public_key()], now=NOW)
    assert found.claims == claims()
    assert found.kid == qr_kid(KEY.public_key())
    assert decode_qr(text, [KEY.public_key()], now=NOW, doc_hash=b"\x11" * 32)
    svg, png = render_svg(text), render_png(text)
    assert svg.startswith(b"<?xml")
    assert b"<svg" in svg
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_cose_structure_is_the_documented_one() -> None:
    cose = zlib.decompress(b45decode(encode_qr(claims(), KEY)[len(PREFIX) :]))
    tag = cbor2.loads(cose)
    assert tag.tag == 18
    protected, unprotected, payload, signature = tag.value
    assert cbor2.loads(protected) == {1: -8, 4: qr_kid(KEY.public_key())}
    assert dict(unprotected) == {}
    assert set(cbor2.loads(payload)) == {1, 4, 6, 7, "docHash", "signerIdHash"}
    KEY.public_key().verify(signature, sig_structure(protected, payload))


def test_a_partner_key_is_accepted_when_trusted() -> None:
    text = encode_qr(claims(issuer="partner.example/log"), PARTNER)
    found = decode_qr(text, [KEY.public_key(), PARTNER.public_key()], now=NOW)
    assert found.claims.issuer == "partner.example/log"
    refused(text, "unknown key id")


def test_expired_and_future_codes_are_refused() -> None:
    refused(encode_qr(claims(exp=IAT + 30), KEY), "expired")
    refused(encode_qr(claims(iat=IAT + 30 + CLOCK_SKEW + 1, exp=IAT + 9999), KEY), "future")
    # Within the clock skew, a code issued "a moment from now" is fine.
    decode_qr(
        encode_qr(claims(iat=IAT + 30 + CLOCK_SKEW, exp=IAT + 9999), KEY),
        [KEY.public_key()],
        now=NOW,
    )


def test_another_document_is_refused() -> None:
    refused(encode_qr(claims(), KEY), "another document", doc_hash=b"\x12" * 32)


def test_a_wrong_signature_is_refused() -> None:
    cose = zlib.decompress(b45decode(encode_qr(claims(), KEY)[len(PREFIX) :]))
    tag = cbor2.loads(cose)
    protected, _, payload, signature = tag.value
    # The payload of another code under this code's signature.
    other = cbor2.loads(zlib.decompress(b45decode(encode_qr(claims(exp=IAT + 700), KEY)[4:])))
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, other.value[2], signature]))
    refused(PREFIX + b45encode(zlib.compress(forged)), "does not verify")
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, flipped]))
    refused(PREFIX + b45encode(zlib.compress(forged)), "does not verify")


def test_truncated_garbled_and_unprefixed_codes_are_refused() -> None:
    text = encode_qr(claims(), KEY)
    refused("HC1:" + text[4:], "prefix")
    refused(text[4:], "prefix")
    refused(text[:-1], "base45")  # a dangling character
    compressed = b45decode(text[len(PREFIX) :])
    refused(PREFIX + b45encode(compressed[:-4]), "zlib")  # cut short: the stream ends early
    refused(PREFIX + b45encode(compressed + b"\x00"), "zlib")  # trailing bytes
    refused(text[:20] + "a" + text[21:], "base45")  # lower case is not in the alphabet
    refused(PREFIX + b45encode(b"not zlib at all"), "zlib")
    refused(PREFIX + b45encode(zlib.compress(b"\xff\xff")), "CBOR|COSE")
    refused(PREFIX + b45encode(zlib.compress(b"\x00" * 10_000)), "oversized|COSE")


def test_other_algorithms_and_unprotected_kids_are_refused() -> None:
    payload = claims().to_cbor()
    es256 = cbor2.dumps({1: -7, 4: qr_kid(KEY.public_key())})
    forged = cbor2.dumps(cbor2.CBORTag(18, [es256, {}, payload, b"\x00" * 64]))
    refused(PREFIX + b45encode(zlib.compress(forged)), "alg -8")
    signed = sign1(payload, b"\x01" * 8, KEY.sign)
    refused(PREFIX + b45encode(zlib.compress(signed)), "unknown key id")


def test_malformed_claims_are_refused_even_when_signed() -> None:
    bad = cbor2.dumps({1: "x", 4: IAT + 600, 6: IAT, 7: b"\x00" * 16, "docHash": b"\x00" * 32})
    signed = sign1(bad, qr_kid(KEY.public_key()), KEY.sign)
    refused(PREFIX + b45encode(zlib.compress(signed)), "exactly")


def test_claims_are_validated_when_made() -> None:
    for bad in ({"doc_hash": b"x"}, {"nonce": b"x"}, {"exp": IAT}, {"issuer": ""}):
        with pytest.raises(ValidationError):
            claims(**bad)


def test_cose_wg_sig_structure_and_strict_parsing() -> None:
    vector = json.loads(COSE_WG.read_text())
    to_be_signed = bytes.fromhex(vector["intermediates"]["ToBeSign_hex"])
    message = bytes.fromhex(vector["output"]["cbor"])
    tag = cbor2.loads(message)
    protected, _, payload, signature = tag.value
    assert payload == vector["input"]["plaintext"].encode()
    assert sig_structure(protected, payload) == to_be_signed
    public = Ed448PublicKey.from_public_bytes(
        bytes.fromhex(vector["input"]["sign0"]["key"]["x_hex"])
    )
    public.verify(signature, to_be_signed)  # the reference signs exactly these bytes
    with pytest.raises(VerificationFailed, match="protected"):
        parse_sign1(message)  # its kid is unprotected
