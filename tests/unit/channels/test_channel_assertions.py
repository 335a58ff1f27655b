"""Signed assertions (channels/assertions.py): format, strict parsing, key separation."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.channels.assertions import (
    ASSERTION_TYP,
    AssertionClaims,
    ConsentClaim,
    sign_assertion,
    verify_assertion,
)
from sealwright.channels.port import Outcome
from sealwright.channels.pseudonym import recipient_pseudonym
from sealwright.errors import ValidationError, VerificationFailed
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEYS = {"k1": KEY.public_key().public_bytes_raw()}


def claims(**changes: object) -> AssertionClaims:
    base: dict[str, object] = {
        "jti": "0" * 32,
        "iat": 1_767_268_800,
        "envelope": "env_1",
        "documents": ("a" * 64, "b" * 64),
        "sub": "c" * 64,
        "channel": "phone-callback",
        "nonce": "AAAAAAAAAAAAAAAAAAAAAA",
        "result": Outcome.PASSED,
        "details": {"attestation": "A", "attempts": 1, "dtmf": True, "provider": None},
        "consent": ConsentClaim("recording-v1", 1_767_268_790),
    }
    base.update(changes)
    return AssertionClaims(**base)  # type: ignore[arg-type]


def segments(token: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)) for s in token.split(".")]


def test_round_trip_and_exact_header() -> None:
    token = sign_assertion(claims(), KEY, "k1")
    header, payload, signature = segments(token)
    assert json.loads(header) == {"alg": "Ed25519", "kid": "k1", "typ": ASSERTION_TYP}
    assert payload == claims().to_json()
    assert len(signature) == 64
    assert verify_assertion(token, KEYS) == ("k1", claims())
    assert (
        verify_assertion(sign_assertion(claims(consent=None), KEY, "k1"), KEYS)[1].consent is None
    )


def test_every_changed_byte_is_refused() -> None:
    token = sign_assertion(claims(), KEY, "k1")
    for position in range(0, len(token), 7):
        if token[position] == ".":
            continue
        replacement = "A" if token[position] != "A" else "B"
        tampered = token[:position] + replacement + token[position + 1 :]
        with pytest.raises(VerificationFailed):
            verify_assertion(tampered, KEYS)


def test_unknown_key_and_foreign_typ_are_refused() -> None:
    token = sign_assertion(claims(), KEY, "k1")
    with pytest.raises(VerificationFailed, match="not a trusted assertion key"):
        verify_assertion(token, {"k2": KEYS["k1"]})
    other = Ed25519PrivateKey.generate()
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_assertion(sign_assertion(claims(), other, "k1"), KEYS)
    # A manifest signature by the same key is not an assertion.
    manifest = Ed25519ManifestSigner(KEY, "k1").sign(claims().to_json())
    with pytest.raises(VerificationFailed, match="typ"):
        verify_assertion(manifest, KEYS)


@pytest.mark.parametrize(
    "bad",
    [
        {"jti": "XYZ"},
        {"documents": ()},
        {"documents": ("b" * 64, "a" * 64)},
        {"sub": "someone@example.com"},
        {"channel": "Phone"},
        {"nonce": "short"},
        {"details": {"phone": {"nested": 1}}},
        {"details": {"Phone Number": "+4420"}},
        {"consent": ConsentClaim("", 1)},
        {"iat": True},
    ],
)
def test_malformed_claims_cannot_be_made(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        claims(**bad)


def test_claims_parse_strictly() -> None:
    good = json.loads(claims().to_json())
    changes: list[dict[str, object]] = [
        {"extra": 1},
        {"nonce": None},
        {"result": "maybe"},
        {"documents": "a" * 64},
    ]
    for change in changes:
        doc = {**good, **change}
        doc = {k: v for k, v in doc.items() if v is not None}
        with pytest.raises(ValidationError):
            AssertionClaims.parse(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(ValidationError, match="canonical"):
        AssertionClaims.parse(json.dumps(good, indent=1).encode())


def test_pseudonyms_are_per_tenant_and_hide_the_recipient() -> None:
    root = bytes(range(32))
    a = recipient_pseudonym(root, "acme", "rcp_1")
    assert a == recipient_pseudonym(root, "acme", "rcp_1")
    assert len(a) == 64
    assert "rcp_1" not in a
    assert a != recipient_pseudonym(root, "other", "rcp_1")
    assert a != recipient_pseudonym(root, "acme", "rcp_2")
    assert a != recipient_pseudonym(bytes(32), "acme", "rcp_1")
    with pytest.raises(ValueError):
        recipient_pseudonym(b"short", "acme", "rcp_1")
