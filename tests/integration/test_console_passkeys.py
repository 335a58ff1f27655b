"""A passkey as the console's second factor (B7), with the software FIDO2 authenticator of
tests/support: registration right after SSO, then authentication at the next sign-in; a
phishing origin, a cloned authenticator and a replayed response are refused with one answer
and an audit event."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from sealwright.identity.roles import Role
from sealwright.services.runtime import Runtime
from tests.integration.console_world import Browser, add, browsers, start_idp
from tests.integration.helpers import events, new_client
from tests.support.oidc import RunningProvider, oidc_provider_factory
from tests.support.soft_authenticator import SoftAuthenticator

__all__ = ["browsers", "oidc_provider_factory"]

Browsers = Callable[[], Browser]


@pytest.fixture
def idp(runtime: Runtime, oidc_provider_factory: Callable[..., RunningProvider]) -> RunningProvider:
    new_client(runtime, "acme")
    return start_idp(runtime, oidc_provider_factory)


def _register(b: Browser, key: SoftAuthenticator) -> None:
    assert b.sso("alice").status_code == 200
    page = b.get("/console/second-factor")
    assert "enrol-passkey" in page.text
    options = b.post_json("/console/factor/passkey/options")
    assert options.status_code == 200, options.text
    assert options.headers["cache-control"] == "no-store"
    credential = key.create(options.text, origin=b.server.url)
    done = b.post_json("/console/factor/passkey", credential)
    assert done.status_code == 200
    assert done.json() == {"ok": True, "next": "/console"}
    assert "sw_console=" in done.headers["set-cookie"]  # the rotated session token


def _authenticate(b: Browser, key: SoftAuthenticator, **kwargs: object) -> tuple[int, str]:
    assert b.sso("alice").status_code == 200
    page = b.get("/console/second-factor")
    assert "verify-passkey" in page.text
    assert "verify-totp" not in page.text
    options = b.post_json("/console/verify/passkey/options")
    answer = key.get(options.text, origin=kwargs.pop("origin", b.server.url), **kwargs)  # type: ignore[arg-type]
    r = b.post_json("/console/verify/passkey", answer)
    return r.status_code, answer


def test_passkey_registration_then_sign_in_with_it(
    runtime: Runtime, idp: RunningProvider, browsers: Browsers
) -> None:
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    key = SoftAuthenticator()
    first = browsers()
    _register(first, key)
    assert first.get("/console").status_code == 200
    enrolled = events(runtime, "console:factor:enrolled")
    assert [e["data"]["method"] for e in enrolled] == ["passkey"]

    second = browsers()
    status, _ = _authenticate(second, key)
    assert status == 200
    assert second.get("/console/operators").status_code == 200
    passed = events(runtime, "console:factor:passed")
    assert [e["data"]["method"] for e in passed] == ["passkey", "passkey"]


def test_phishing_origin_cloned_key_and_replay_are_refused(
    runtime: Runtime, idp: RunningProvider, browsers: Browsers
) -> None:
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    key = SoftAuthenticator()
    _register(browsers(), key)
    twin = key.clone()

    phished = browsers()
    status, _ = _authenticate(phished, key, origin="https://sealwright.example.net")
    assert status == 400
    assert phished.get("/console").headers["location"] == "/console/second-factor"

    genuine = browsers()
    status, answer = _authenticate(genuine, key)
    assert status == 200
    # The clone signs with the counter the original had before: not above the stored one.
    cloned = browsers()
    status, _ = _authenticate(cloned, twin)
    assert status == 400
    # A recorded response, replayed in a fresh sign-in: its challenge is not this one's.
    replay = browsers()
    assert replay.sso("alice").status_code == 200
    replay.get("/console/second-factor")
    replay.post_json("/console/verify/passkey/options")
    r = replay.post_json("/console/verify/passkey", answer)
    assert r.status_code == 400
    assert r.json() == {"ok": False, "error": r.json()["error"]}  # one answer for every case

    reasons = [e["data"]["reason"] for e in events(runtime, "console:factor:failed")]
    assert len(reasons) == 3
    assert "origin" in reasons[0].lower()
    assert "counter" in reasons[1]
    assert "challenge" in reasons[2].lower()
    # Nothing secret reaches the ledger: no credential JSON, no signature.
    for event in events(runtime):
        assert json.loads(answer)["response"]["signature"] not in json.dumps(event)


def test_a_passkey_cannot_be_added_with_sso_alone(
    runtime: Runtime, idp: RunningProvider, browsers: Browsers
) -> None:
    """Once a factor exists, enrolling another needs a session that passed it: a stolen
    SSO password must not be enough to add the thief's own authenticator."""
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    _register(browsers(), SoftAuthenticator())
    thief = browsers()
    assert thief.sso("alice").status_code == 200
    thief.get("/console/second-factor")
    r = thief.post_json("/console/factor/passkey/options")
    assert r.status_code == 400
    assert events(runtime, "console:factor:failed")[-1]["data"]["reason"] == (
        "enrolment before the factor"
    )
    assert len(events(runtime, "console:factor:enrolled")) == 1
