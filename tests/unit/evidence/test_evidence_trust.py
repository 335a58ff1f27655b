"""trust.json: round trip and strict validation with errors that name the member."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_world import ORIGIN, World

from sealwright.errors import ValidationError
from sealwright.evidence.trust import ManifestKey, TrustStore
from sealwright.ledger.canonical import parse_canonical
from sealwright.ledger.note import NoteSigner


def doc(world: World) -> dict[str, Any]:
    return dict(parse_canonical(world.trust.to_json()))


def load(value: dict[str, Any]) -> TrustStore:
    return TrustStore.from_json(json.dumps(value).encode())


def test_round_trip(world: World) -> None:
    data = world.trust.to_json()
    assert TrustStore.from_json(data) == world.trust
    assert TrustStore.from_json(data).to_json() == data
    parsed = parse_canonical(data)
    assert parsed["format"] == "sealwright-trust/1"
    assert parsed["checkpoint_keys"] == [world.log_signer.vkey]
    assert parsed["jwks"] == {"keys": [world.manifest_signer.public_jwk()]}


def test_pretty_printed_json_is_fine(world: World) -> None:
    pretty = json.dumps(doc(world), indent=2).encode()
    assert TrustStore.from_json(pretty) == world.trust


def test_jwk_may_say_alg_and_use(world: World) -> None:
    d = doc(world)
    d["jwks"]["keys"][0].update(alg="Ed25519", use="sig")
    assert load(d) == world.trust


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="sealwright-trust/2"), "format"),
        (lambda d: d.update(extra=1), "unknown members"),
        (lambda d: d.pop("tsa_roots"), "missing members"),
        (lambda d: d.update(log_origin=""), "log_origin"),
        (lambda d: d.update(log_origin=7), "log_origin"),
        (lambda d: d.update(checkpoint_keys=["nope"]), r"checkpoint_keys\[0\]"),
        (lambda d: d.update(checkpoint_keys="x"), "checkpoint_keys must be a list"),
        (lambda d: d.update(log_origin="other.test/log"), "no key named like the log origin"),
        (lambda d: d.update(jwks=[]), "jwks must be"),
        (lambda d: d.update(jwks={"keys": []}), "jwks.keys is empty"),
        (lambda d: d["jwks"]["keys"].append(d["jwks"]["keys"][0]), "repeated kid"),
        (lambda d: d["jwks"]["keys"][0].update(d="secret"), "private key material"),
        (lambda d: d["jwks"]["keys"][0].update(kty="EC"), "only OKP Ed25519"),
        (lambda d: d["jwks"]["keys"][0].update(crv="Ed448"), "only OKP Ed25519"),
        (lambda d: d["jwks"]["keys"][0].update(alg="RS256"), "alg must be Ed25519"),
        (lambda d: d["jwks"]["keys"][0].update(alg="EdDSA"), "alg must be Ed25519"),
        (lambda d: d["jwks"]["keys"][0].update(use="enc"), "use must be sig"),
        (lambda d: d["jwks"]["keys"][0].update(x="AAAA"), "32-byte"),
        (lambda d: d["jwks"]["keys"][0].update(x="not base64url!"), r"keys\[0\]: x"),
        (lambda d: d["jwks"]["keys"][0].update(kid=""), "kid"),
        (lambda d: d["jwks"]["keys"][0].update(x5c=[]), "unknown members"),
        (lambda d: d.update(pdf_roots=[]), "pdf_roots is empty"),
        (lambda d: d.update(pdf_roots=["-----BEGIN CERTIFICATE-----\nxx\n"]), r"pdf_roots\[0\]"),
        (lambda d: d.update(tsa_roots=[d["tsa_roots"][0] * 2]), "exactly one certificate"),
    ],
)
def test_invalid_trust_files(world: World, edit: Any, message: str) -> None:
    d = doc(world)
    edit(d)
    with pytest.raises(ValidationError, match=message):
        load(d)


@pytest.mark.parametrize("data", [b"", b"[]", b"\xff", b"{"])
def test_not_a_trust_document(data: bytes) -> None:
    with pytest.raises(ValidationError, match="trust"):
        TrustStore.from_json(data)


def test_witness_keys_may_be_listed_alongside_the_log_key(world: World) -> None:
    witness = NoteSigner("witness.test/w1", Ed25519PrivateKey.generate())
    d = doc(world)
    d["checkpoint_keys"].append(witness.vkey)
    store = load(d)
    assert [k.name for k in store.checkpoint_keys] == [ORIGIN, "witness.test/w1"]


def test_manifest_key_from_a_published_jwk(world: World) -> None:
    jwk = {**world.manifest_signer.public_jwk(), "use": "sig", "alg": "Ed25519"}
    key = ManifestKey.from_jwk(jwk)
    assert key == world.trust.manifest_keys[0]
    with pytest.raises(ValidationError, match="private key material"):
        ManifestKey.from_jwk({**jwk, "d": "x"})
