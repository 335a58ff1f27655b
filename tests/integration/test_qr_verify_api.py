"""`POST /v1/qr/verify` over real HTTP: codes signed by the service's own QR key and by a
configured partner's key verify; an unknown key, an expired code, a wrong document and a
garbled code are 422 problems naming the check. Every call is an `api:qr:*` event naming
the client, never carrying the code. A bad partner-keys file stops the app from starting.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sealwright.channels.base45 import b45encode
from sealwright.channels.cose import sign1
from sealwright.channels.qr import PREFIX, QrClaims, QrRejected, decode_qr, encode_qr, qr_kid
from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.errors import ConfigurationError
from sealwright.evidence.manifest_jws import b64url_encode
from sealwright.evidence.trust import TrustStore
from sealwright.identity.scopes import Scope
from sealwright.keys.signing import jwk_thumbprint
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime
from sealwright.web.app import create_app
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client
from tests.integration.token_helpers import access_token, bearer

DOC = bytes.fromhex("ab" * 32)
SIGNER = bytes.fromhex("cd" * 32)


def partner_jwks(*keys: Ed25519PrivateKey) -> dict[str, object]:
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64url_encode(k.public_key().public_bytes_raw()),
                "kid": f"partner-{jwk_thumbprint(k.public_key())[:8]}",
            }
            for k in keys
        ]
    }


@pytest.fixture
def partner() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, partner: Ed25519PrivateKey) -> Settings:
    path = tmp_path / "partners.json"
    path.write_text(json.dumps(partner_jwks(partner)))
    return settings.model_copy(update={"qr_partner_keys_file": path})


@pytest.fixture
def verifier(runtime: Runtime) -> Iterator[tuple[BackgroundServer, str, str]]:
    with BackgroundServer(create_app(runtime), port=runtime.settings.port) as srv:
        _tenant, client_id, secret = new_client(runtime, "acme", frozenset({Scope.QR_VERIFY}))
        yield srv, client_id, secret


def code(key: Ed25519PrivateKey, rt: Runtime, *, iat: int = 0, ttl: int = 600) -> str:
    now = int(rt.clock.now().timestamp()) + iat
    claims = QrClaims("issuer.example/log", DOC, SIGNER, now, now + ttl, os.urandom(16))
    return encode_qr(claims, key)


def forged(rt: Runtime) -> str:
    """Names the service's key but is signed by another."""
    now = int(rt.clock.now().timestamp())
    claims = QrClaims("issuer.example/log", DOC, SIGNER, now, now + 600, os.urandom(16))
    own_kid = qr_kid(rt.channel_keys.qr.current.public_key)
    cose = sign1(claims.to_cbor(), own_kid, Ed25519PrivateKey.generate().sign)
    return PREFIX + b45encode(zlib.compress(cose, 9))


def test_own_and_partner_codes_verify_and_every_call_is_logged(
    runtime: Runtime,
    clock: OffsetClock,
    partner: Ed25519PrivateKey,
    verifier: tuple[BackgroundServer, str, str],
) -> None:
    srv, client_id, secret = verifier
    token = access_token(srv, client_id, secret)
    url = f"{srv.url}/v1/qr/verify"
    own = code(runtime.channel_keys.qr.private_key_for_current(), runtime)

    ok = httpx.post(url, json={"code": own, "doc_hash": DOC.hex()}, headers=bearer(token))
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert (body["ok"], body["key"], body["docHash"], body["signerIdHash"]) == (
        True,
        "own",
        DOC.hex(),
        SIGNER.hex(),
    )
    assert body["exp"] - body["iat"] == 600

    theirs = httpx.post(url, json={"code": code(partner, runtime)}, headers=bearer(token))
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["key"] == "partner"
    assert theirs.json()["issuer"] == "issuer.example/log"

    stranger = code(Ed25519PrivateKey.generate(), runtime)
    expired = code(partner, runtime, iat=-700, ttl=600)
    cases = [
        ({"code": stranger}, "unknown-key"),
        ({"code": expired}, "expired"),
        ({"code": own, "doc_hash": "ef" * 32}, "wrong-document"),
        ({"code": forged(runtime)}, "bad-signature"),
        ({"code": "SW1:not base45!"}, "malformed"),
    ]
    for payload, reason in cases:
        refused = httpx.post(url, json=payload, headers=bearer(token))
        assert refused.status_code == 422, (reason, refused.text)
        problem = refused.json()
        assert problem["reason"] == reason
        assert problem["type"].endswith("/qr-not-verified")
        assert refused.headers["content-type"].startswith("application/problem+json")

    verified, refusals = events(runtime, "api:qr:verified"), events(runtime, "api:qr:refused")
    assert [e["data"]["key"] for e in verified] == ["own", "partner"]
    assert [e["data"]["reason"] for e in refusals] == [reason for _, reason in cases]
    for e in verified + refusals:
        assert e["actor"] == f"client:{client_id}"
        assert e["data"]["client"] == client_id
    ledger = json.dumps(events(runtime))
    assert own not in ledger
    assert stranger not in ledger

    # Time passes on the server: a code that verified a moment ago has now expired.
    fresh = code(partner, runtime)
    assert httpx.post(url, json={"code": fresh}, headers=bearer(token)).status_code == 200
    clock.advance(601)
    token = access_token(srv, client_id, secret)
    late = httpx.post(url, json={"code": fresh}, headers=bearer(token))
    assert late.json()["reason"] == "expired"


def test_a_token_without_the_scope_is_refused(
    runtime: Runtime, verifier: tuple[BackgroundServer, str, str]
) -> None:
    srv, _client, _secret = verifier
    _t, client_id, secret = new_client(runtime, "other", frozenset({Scope.ENVELOPES_READ}))
    token = access_token(srv, client_id, secret)
    own = code(runtime.channel_keys.qr.private_key_for_current(), runtime)
    r = httpx.post(f"{srv.url}/v1/qr/verify", json={"code": own}, headers=bearer(token))
    assert r.status_code == 403
    assert httpx.post(f"{srv.url}/v1/qr/verify", json={"code": own}).status_code == 401
    assert events(runtime, "api:qr:verified") == []


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "p"}]}),
        json.dumps({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB", "kid": "p"}]}),
    ],
)
def test_a_bad_partner_keys_file_stops_the_start(
    runtime: Runtime, tmp_path: Path, content: str
) -> None:
    bad = tmp_path / "bad-partners.json"
    bad.write_text(content)
    runtime.settings = runtime.settings.model_copy(update={"qr_partner_keys_file": bad})
    with pytest.raises(ConfigurationError, match="QR_PARTNER_KEYS_FILE"):
        create_app(runtime)
    runtime.settings = runtime.settings.model_copy(
        update={"qr_partner_keys_file": tmp_path / "missing.json"}
    )
    with pytest.raises(ConfigurationError, match="cannot read"):
        create_app(runtime)


def test_the_exported_trust_file_carries_the_partner_keys(
    runtime: Runtime, partner: Ed25519PrivateKey
) -> None:
    """What the online verifier accepts, an offline verifier with the trust file accepts."""
    trust = TrustStore.from_json(trust_store(runtime).to_json())
    keys = [Ed25519PublicKey.from_public_bytes(k.public_key) for k in trust.qr_keys]
    partner_code = code(partner, runtime)
    found = decode_qr(partner_code, keys, now=runtime.clock.now())
    assert found.kid == qr_kid(partner.public_key())
    assert len(trust.qr_keys) == len(runtime.channel_keys.qr.keys) + 1
    stranger = code(Ed25519PrivateKey.generate(), runtime)
    with pytest.raises(QrRejected, match="unknown key"):
        decode_qr(stranger, keys, now=runtime.clock.now())
