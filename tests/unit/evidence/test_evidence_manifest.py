"""manifest.json parsing, the manifest JWS, and build_bundle's refusals."""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from evidence_world import EXPORTED_AT, World
from joserfc import jws
from joserfc.jwk import OKPKey

from sealwright.errors import ProofError, ValidationError, VerificationFailed
from sealwright.evidence import build_bundle
from sealwright.evidence.container import read_container
from sealwright.evidence.manifest import Manifest
from sealwright.evidence.manifest_jws import (
    Ed25519ManifestSigner,
    b64url_encode,
    verify_manifest_jws,
)
from sealwright.ledger.canonical import canonicalize, parse_canonical

SIGNER = Ed25519ManifestSigner(Ed25519PrivateKey.generate(), "k1")
KEYS = {"k1": SIGNER.private_key.public_key().public_bytes_raw()}
PAYLOAD = b'{"hello":"world"}'


def manifest_doc(world: World) -> dict[str, Any]:
    return dict(parse_canonical(read_container(world.bundle)["manifest.json"]))


# -- manifest.json ------------------------------------------------------------------------


def test_manifest_round_trip(world: World) -> None:
    data = read_container(world.bundle)["manifest.json"]
    assert Manifest.parse(data).to_json() == data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format="sealwright-evidence/2"), "format"),
        (lambda m: m.update(extra=True), "top level must have exactly"),
        (lambda m: m["envelope"].pop("title"), "envelope must have exactly"),
        (lambda m: m["envelope"].update(id=""), "envelope.id"),
        (lambda m: m["envelope"].update(created_at="2025-03-01T09:00:00Z"), "created_at"),
        (lambda m: m["envelope"].update(completed_at="2025-13-01T09:00:00.000000Z"), "completed"),
        (lambda m: m.update(documents=[]), "non-empty"),
        (lambda m: m["documents"].append(m["documents"][0]), "repeated document id"),
        (lambda m: m["documents"][0].update(sha256="ABC"), r"documents\[0\]\.sha256"),
        (lambda m: m["documents"][0].update(size=-1), r"documents\[0\]\.size"),
        (lambda m: m["documents"][0].update(size=True), r"documents\[0\]\.size"),
        (lambda m: m["documents"][0].update(sealed_path="x.pdf"), "sealed_path"),
        (lambda m: m["documents"][0].update(id="../x"), r"documents\[0\]\.id"),
        (lambda m: m["files"].update({"a": "zz"}), r"files\['a'\]"),
        (lambda m: m["ledger"].update(tree_size=0), "tree_size"),
        (lambda m: m["ledger"].update(extra=1), "ledger must have exactly"),
        (lambda m: m.update(exported_at=None), "exported_at"),
    ],
)
def test_manifest_is_strict(world: World, edit: Any, message: str) -> None:
    m = manifest_doc(world)
    edit(m)
    with pytest.raises(VerificationFailed, match=message):
        Manifest.parse(canonicalize(m))


def test_manifest_must_be_canonical(world: World) -> None:
    pretty = json.dumps(manifest_doc(world), indent=1).encode()
    with pytest.raises(VerificationFailed, match="canonical"):
        Manifest.parse(pretty)


# -- manifest.jws ---------------------------------------------------------------------------


def _token(header: dict[str, Any], payload: bytes = PAYLOAD) -> bytes:
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(payload)
    signature = SIGNER.private_key.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{b64url_encode(signature)}".encode()


def test_sign_and_verify() -> None:
    token = SIGNER.sign(PAYLOAD).encode()
    assert verify_manifest_jws(token, PAYLOAD, KEYS) == "k1"


def test_signing_emits_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SIGNER.sign(PAYLOAD)


def test_interoperates_with_plain_joserfc() -> None:
    # Anyone with joserfc (or any JOSE library) and the public JWK can check the token.
    token = SIGNER.sign(PAYLOAD)
    jwk: dict[str, str | list[str]] = dict(SIGNER.public_jwk())
    key = OKPKey.import_key(jwk)
    obj = jws.deserialize_compact(token, key, algorithms=["Ed25519"])
    assert obj.payload == PAYLOAD
    assert obj.protected == {"alg": "Ed25519", "kid": "k1", "typ": "sealwright-manifest+jws"}


def test_hand_made_token_with_the_right_header_verifies() -> None:
    header = {"alg": "Ed25519", "kid": "k1", "typ": "sealwright-manifest+jws"}
    assert verify_manifest_jws(_token(header), PAYLOAD, KEYS) == "k1"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "Ed25519", "kid": "k1"}, "exactly alg, kid, typ"),
        ({"alg": "Ed25519", "kid": "k1", "typ": "JWT"}, "typ"),
        # RFC 8037's polymorphic name is not accepted: the format says "Ed25519" only.
        ({"alg": "EdDSA", "kid": "k1", "typ": "sealwright-manifest+jws"}, "alg"),
        ({"alg": "none", "kid": "k1", "typ": "sealwright-manifest+jws"}, "alg"),
        ({"alg": "Ed25519", "kid": "k2", "typ": "sealwright-manifest+jws"}, "not in the trusted"),
        ({"alg": "Ed25519", "kid": 1, "typ": "sealwright-manifest+jws"}, "not in the trusted"),
        (
            {"alg": "Ed25519", "kid": "k1", "typ": "sealwright-manifest+jws", "b64": False},
            "exactly alg, kid, typ",
        ),
    ],
)
def test_header_must_be_exactly_ours(header: dict[str, Any], message: str) -> None:
    with pytest.raises(VerificationFailed, match=message):
        verify_manifest_jws(_token(header), PAYLOAD, KEYS)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + b"=",
        lambda t: t.replace(b".", b"..", 1),
        lambda t: t.rsplit(b".", 1)[0],
        lambda t: t + b".x",
        lambda t: t[:-1] + (b"B" if t[-1:] != b"B" else b"C"),  # last char: maybe unused bits
        lambda t: b" " + t,
        lambda t: t.replace(b"e", b"\xc3\xa9", 1),
    ],
)
def test_token_must_be_canonical_compact(mangle: Any) -> None:
    token = SIGNER.sign(PAYLOAD).encode()
    with pytest.raises(VerificationFailed):
        verify_manifest_jws(mangle(token), PAYLOAD, KEYS)


def test_payload_must_be_the_manifest() -> None:
    with pytest.raises(VerificationFailed, match=r"payload is not the manifest\.json bytes"):
        verify_manifest_jws(SIGNER.sign(PAYLOAD).encode(), PAYLOAD + b" ", KEYS)


def test_public_jwk() -> None:
    jwk = SIGNER.public_jwk()
    assert set(jwk) == {"kty", "crv", "x", "kid"}
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("OKP", "Ed25519", "k1")


# -- build_bundle ---------------------------------------------------------------------------


def test_builder_refuses_a_proof_that_does_not_verify(world: World) -> None:
    first = world.contents.events[0]
    broken = dataclasses.replace(first, inclusion_proof=first.inclusion_proof[:-1])
    contents = dataclasses.replace(world.contents, events=(broken, *world.contents.events[1:]))
    with pytest.raises(ProofError):
        build_bundle(contents, world.manifest_signer, EXPORTED_AT)


def test_builder_refuses_unordered_events(world: World) -> None:
    contents = dataclasses.replace(world.contents, events=tuple(reversed(world.contents.events)))
    with pytest.raises(ValidationError, match="ledger order"):
        build_bundle(contents, world.manifest_signer, EXPORTED_AT)


def test_builder_refuses_no_documents(world: World) -> None:
    contents = dataclasses.replace(world.contents, documents=())
    with pytest.raises(ValidationError, match="at least one document"):
        build_bundle(contents, world.manifest_signer, EXPORTED_AT)


def test_builder_refuses_bad_document_ids_and_hashes(world: World) -> None:
    doc = world.contents.documents[0]
    for bad in (dataclasses.replace(doc, id="a/b"), dataclasses.replace(doc, sha256="AB")):
        with pytest.raises(ValidationError):
            build_bundle(
                dataclasses.replace(world.contents, documents=(bad,)),
                world.manifest_signer,
                EXPORTED_AT,
            )
    with pytest.raises(ValidationError, match="twice"):
        build_bundle(
            dataclasses.replace(world.contents, documents=(doc, doc)),
            world.manifest_signer,
            EXPORTED_AT,
        )


def test_builder_refuses_an_unparseable_checkpoint(world: World) -> None:
    contents = dataclasses.replace(world.contents, checkpoint="not a note")
    with pytest.raises(ProofError):
        build_bundle(contents, world.manifest_signer, EXPORTED_AT)
