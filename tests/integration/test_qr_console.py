"""The console's QR page (C4): an auditor pastes a code; own and partner codes verify, an
unknown key is refused with its reason; each check is an `api:qr:*` event naming the
operator. A sender (no audit permission) is refused the page."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.channels.qr import QrClaims, encode_qr
from sealwright.config import Settings
from sealwright.evidence.manifest_jws import b64url_encode
from sealwright.identity.roles import Role
from sealwright.services.runtime import Runtime
from tests.integration.console_world import Browser, add, browsers, start_idp
from tests.integration.helpers import events, new_client
from tests.support.oidc import RunningProvider, oidc_provider_factory

__all__ = ["browsers", "oidc_provider_factory"]

DOC = bytes.fromhex("ab" * 32)
PARTNER = Ed25519PrivateKey.generate()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    x = b64url_encode(PARTNER.public_key().public_bytes_raw())
    path = tmp_path / "partners.json"
    path.write_text(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "p1"}]}))
    return settings.model_copy(update={"qr_partner_keys_file": path})


@pytest.fixture
def idp(runtime: Runtime, oidc_provider_factory: Callable[..., RunningProvider]) -> RunningProvider:
    return start_idp(runtime, oidc_provider_factory)


def code(rt: Runtime, key: Ed25519PrivateKey) -> str:
    now = int(rt.clock.now().timestamp())
    claims = QrClaims("issuer.example/log", DOC, b"\xcd" * 32, now, now + 600, os.urandom(16))
    return encode_qr(claims, key)


def test_an_auditor_verifies_codes_in_the_console(
    runtime: Runtime, idp: RunningProvider, browsers: Callable[[], Browser], server: object
) -> None:
    new_client(runtime, "acme")
    auditor = add(runtime, "acme", "audrey", Role.AUDITOR, issuer=idp.issuer)
    add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    b = browsers()
    b.sign_in("audrey")
    assert 'href="/console/qr"' in b.get("/console").text
    assert b.get("/console/qr").status_code == 200

    own = code(runtime, runtime.channel_keys.qr.private_key_for_current())
    ok = b.post("/console/qr", data={"code": own, "doc_hash": DOC.hex()})
    assert ok.status_code == 200, ok.text
    assert "Verified" in ok.text
    assert "this service" in ok.text
    theirs = b.post("/console/qr", data={"code": code(runtime, PARTNER)})
    assert theirs.status_code == 200
    assert "a partner" in theirs.text
    stranger = b.post("/console/qr", data={"code": code(runtime, Ed25519PrivateKey.generate())})
    assert stranger.status_code == 422
    assert '<code id="qr-reason">unknown-key</code>' in stranger.text

    verified, refused = events(runtime, "api:qr:verified"), events(runtime, "api:qr:refused")
    assert [e["data"]["key"] for e in verified] == ["own", "partner"]
    assert [e["data"]["reason"] for e in refused] == ["unknown-key"]
    for e in verified + refused:
        assert e["data"]["operator"] == auditor
        assert e["actor"].startswith("operator:")
    assert own not in repr(events(runtime))

    sender = browsers()
    sender.sign_in("sam")
    assert 'href="/console/qr"' not in sender.get("/console").text
    assert sender.get("/console/qr").status_code == 403
