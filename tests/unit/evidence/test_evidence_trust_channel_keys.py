"""trust.json's optional assertion_keys and qr_keys: round trip, strictness, absence."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_world import World

from sealwright.errors import ValidationError
from sealwright.evidence.manifest_jws import b64url_encode
from sealwright.evidence.trust import ManifestKey, TrustStore
from sealwright.ledger.canonical import parse_canonical


def jwk(kid: str) -> dict[str, str]:
    x = b64url_encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid}


def with_keys(world: World, **members: Any) -> dict[str, Any]:
    return {**dict(parse_canonical(world.trust.to_json())), **members}


def test_channel_keys_round_trip_and_stay_apart(world: World) -> None:
    a, q, partner = jwk("a1"), jwk("q1"), jwk("partner-2026")
    store = TrustStore.from_json(
        json.dumps(
            with_keys(world, assertion_keys={"keys": [a]}, qr_keys={"keys": [q, partner]})
        ).encode()
    )
    assert store.assertion_keys == (ManifestKey.from_jwk(a),)
    assert [k.kid for k in store.qr_keys] == ["q1", "partner-2026"]
    assert set(store.assertion_key_bytes) == {"a1"}
    assert not set(store.assertion_key_bytes) & set(store.manifest_key_bytes)
    assert TrustStore.from_json(store.to_json()) == store


def test_absent_channel_keys_keep_older_trust_files_valid(world: World) -> None:
    data = world.trust.to_json()
    store = TrustStore.from_json(data)
    assert store.assertion_keys == ()
    assert store.qr_keys == ()
    assert store.to_json() == data  # nothing new is written for them


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"assertion_keys": [jwk("a")]}, "assertion_keys must be"),
        ({"qr_keys": {"keys": [jwk("q"), jwk("q")]}}, "qr_keys.keys has a repeated kid"),
        ({"assertion_keys": {"keys": [{**jwk("a"), "d": "secret"}]}}, "private key material"),
        ({"qr_keys": {"keys": [{**jwk("q"), "crv": "P-256"}]}}, r"qr_keys.keys\[0\]"),
    ],
)
def test_malformed_channel_keys_are_refused(
    world: World, members: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        TrustStore.from_json(json.dumps(with_keys(world, **members)).encode())


def test_repeated_kids_are_refused_when_built(world: World) -> None:
    key = ManifestKey.from_jwk(jwk("same"))
    with pytest.raises(ValidationError, match="assertion_keys"):
        dataclasses.replace(world.trust, assertion_keys=(key, key))
