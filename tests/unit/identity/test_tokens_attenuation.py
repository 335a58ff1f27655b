"""The rules of attenuation (B3), pure: a child never holds more than its parent -- scope,
audience, folders, envelopes, recipient, lifetime, single use, DPoP binding -- and the
restriction claims survive a round trip through a signed token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc.jwk import KeySet, OKPKey

from sealwright.clock import FixedClock
from sealwright.identity.attenuation import ExchangeRequest, Refused, attenuate
from sealwright.identity.scopes import (
    API_AUDIENCE,
    SIGNING_AUDIENCE,
    Scope,
    audiences_for,
    parse_envelope_ids,
    parse_folders,
    within,
)
from sealwright.identity.tokens import AccessToken, TokenService

NOW = 1_700_000_000
E1, E2, R1 = "a" * 32, "b" * 32, "c" * 32
READ, SIGN = Scope.ENVELOPES_READ, Scope.SIGNING_SIGN
PARENT = AccessToken(
    client_id="c",
    tenant_id="t",
    scopes=frozenset({READ, Scope.ENVELOPES_SEND, Scope.SIGNING_VIEW, SIGN}),
    jti="p" * 32,
    issued_at=NOW - 100,
    expires_at=NOW + 500,
    audiences=frozenset({API_AUDIENCE, SIGNING_AUDIENCE}),
    folders=frozenset({"general", "hr"}),
)


def child(parent: AccessToken = PARENT, **asked: Any) -> Any:
    return attenuate(parent, ExchangeRequest(**asked), now=NOW, max_ttl=900)


def refused(parent: AccessToken = PARENT, **asked: Any) -> Refused:
    with pytest.raises(Refused) as info:
        child(parent, **asked)
    return info.value


def test_defaults_inherit_everything_but_lifetime_is_capped_by_the_parent() -> None:
    c = child()
    assert c.scopes == PARENT.scopes
    assert c.folders == PARENT.folders
    assert c.expires_at == PARENT.expires_at
    assert not c.single_use


def test_default_audience_follows_the_scopes_asked() -> None:
    assert child(scopes=frozenset({READ})).audiences == {API_AUDIENCE}
    assert child(scopes=frozenset({SIGN})).audiences == {SIGNING_AUDIENCE}


@pytest.mark.parametrize(
    ("asked", "error", "reason"),
    [
        ({"scopes": frozenset({Scope.ENVELOPES_VOID})}, "invalid_scope", "envelopes:void"),
        ({"scopes": frozenset()}, "invalid_scope", "no scope"),
        ({"folders": frozenset({"general", "sales"})}, "invalid_request", "folders"),
        ({"lifetime": 501}, "invalid_request", "lifetime beyond"),
        ({"lifetime": 0}, "invalid_request", "positive"),
        ({"recipient": R1}, "invalid_request", "exactly one envelope"),
        ({"envelopes": frozenset({E1, E2}), "recipient": R1}, "invalid_request", "exactly one"),
    ],
)
def test_widening_is_refused(asked: dict[str, Any], error: str, reason: str) -> None:
    r = refused(**asked)
    assert r.error == error
    assert reason in r.reason


def test_narrower_parents_keep_their_children_narrow() -> None:
    narrow = child(scopes=frozenset({READ}), envelopes=frozenset({E1}), single_use=True)
    parent = AccessToken(
        client_id="c",
        tenant_id="t",
        scopes=narrow.scopes,
        jti="q" * 32,
        issued_at=NOW,
        expires_at=narrow.expires_at,
        audiences=narrow.audiences,
        folders=narrow.folders,
        envelopes=narrow.envelopes,
        single_use=True,
    )
    assert refused(parent, envelopes=frozenset({E2})).reason.startswith("widening: envelopes")
    assert refused(parent, folders=None, audiences=frozenset({SIGNING_AUDIENCE})).error == (
        "invalid_target"
    )
    assert refused(parent, single_use=False).reason == "widening: the subject token is single-use"
    assert child(parent).single_use is True
    unrestricted = AccessToken(**{**_fields(PARENT), "folders": None})
    assert child(unrestricted, folders=frozenset({"x"})).folders == {"x"}
    assert refused(parent, lifetime=narrow.expires_at - NOW + 1).error == "invalid_request"


def test_signing_links_live_at_most_ten_minutes_and_are_single_use() -> None:
    long_parent = AccessToken(**{**_fields(PARENT), "expires_at": NOW + 900})
    c = child(long_parent, envelopes=frozenset({E1}), recipient=R1)
    assert c.expires_at == NOW + 600
    assert c.single_use is True
    assert (
        "at most 600"
        in refused(long_parent, envelopes=frozenset({E1}), recipient=R1, lifetime=700).reason
    )
    one = {"envelopes": frozenset({E1}), "recipient": R1}
    with_recipient = AccessToken(**{**_fields(PARENT), **one})
    assert "another recipient" in refused(with_recipient, recipient="d" * 32).reason


def test_dpop_binding_is_kept_and_must_be_proven() -> None:
    bound = AccessToken(**{**_fields(PARENT), "jkt": "thumb"})
    assert refused(bound).error == "invalid_dpop_proof"
    assert refused(bound, proof_jkt="other").error == "invalid_dpop_proof"
    assert child(bound, proof_jkt="thumb").jkt == "thumb"
    assert child(proof_jkt="new").jkt == "new"  # binding an unbound parent's child narrows it


def _fields(token: AccessToken) -> dict[str, Any]:
    return {name: getattr(token, name) for name in token.__slots__}  # type: ignore[attr-defined]


def test_restrictions_round_trip_through_a_signed_token() -> None:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "k"}, private=True)

    class Keys:
        def current_jwk(self) -> OKPKey:
            return key

        def joserfc_keyset(self) -> KeySet:
            return KeySet([key])

    service = TokenService(
        keys=Keys(), clock=FixedClock(datetime.fromtimestamp(NOW, UTC)), issuer="i", ttl=600
    )
    compact, issued = service.issue(
        client_id="c",
        tenant_id="t",
        scopes=frozenset({Scope.SIGNING_VIEW, SIGN}),
        audiences=frozenset({SIGNING_AUDIENCE}),
        folders=frozenset({"general"}),
        envelopes=frozenset({E1}),
        recipient=R1,
        single_use=True,
        parent="p" * 32,
        expires_at=NOW + 300,
    )
    assert service.check(compact, audience=API_AUDIENCE) == (None, "wrong issuer or audience")
    checked, why = service.check(compact, audience=SIGNING_AUDIENCE)
    assert why == ""
    assert checked == issued
    assert checked is not None
    assert checked.payload_sha256 == issued.payload_sha256 != ""
    with pytest.raises(ValueError, match="15 minutes"):
        service.issue(client_id="c", tenant_id="t", scopes=frozenset(), expires_at=NOW + 901)


def test_scope_and_zone_helpers() -> None:
    assert audiences_for([]) == {API_AUDIENCE}
    assert audiences_for([READ, SIGN]) == {API_AUDIENCE, SIGNING_AUDIENCE}
    assert parse_folders("hr general hr") == {"hr", "general"}
    for bad in ["", "HR", "-x", "a" * 51]:
        with pytest.raises(ValueError):
            parse_folders(bad)
    with pytest.raises(ValueError):
        parse_envelope_ids("not-an-id")
    assert within(None, None)
    assert within(frozenset({"a"}), None)
    assert not within(None, frozenset({"a"}))
    assert not within(frozenset({"a", "b"}), frozenset({"a"}))
