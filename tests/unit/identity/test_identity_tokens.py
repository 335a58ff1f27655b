"""Access tokens: Ed25519-signed JWTs with a short life.

``check`` says why a token was refused (for the audit log); ``verify`` raises the one opaque
``AuthenticationFailed`` whatever the reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet, OKPKey

from sealwright.clock import FixedClock
from sealwright.errors import AuthenticationFailed
from sealwright.identity.scopes import ALL_SCOPES, Scope
from sealwright.identity.tokens import ALG, AUDIENCE, AccessToken, TokenService, expires_in

ISSUER = "https://sealwright.test"
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T0 = int(START.timestamp())
TTL = 300
SCOPES = frozenset({Scope.ENVELOPES_READ, Scope.ENVELOPES_SEND})


class KeyHolder:
    """The two methods of the TokenKeys port, over in-memory keys: the first is current,
    all of them verify (as during a key rotation)."""

    def __init__(self, *keys: OKPKey) -> None:
        self._keys = keys

    def current_jwk(self) -> OKPKey:
        return self._keys[0]

    def joserfc_keyset(self) -> KeySet:
        return KeySet(list(self._keys))


def new_key(kid: str) -> OKPKey:
    return OKPKey.generate_key("Ed25519", parameters={"kid": kid}, private=True)


KEY = new_key("key-1")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def service(clock: FixedClock) -> TokenService:
    return TokenService(keys=KeyHolder(KEY), clock=clock, issuer=ISSUER, ttl=TTL)


def issue(service: TokenService, scopes: frozenset[Scope] = SCOPES) -> str:
    compact, _ = service.issue(client_id="client-1", tenant_id="tenant-1", scopes=scopes)
    return compact


def good_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "client-1",
        "aud": AUDIENCE,
        "tenant": "tenant-1",
        "scope": "envelopes:read",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + TTL,
        "jti": "j" * 32,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: OKPKey = KEY, **header: Any) -> str:
    """A token signed by ``key`` with whatever claims and header a test needs."""
    hdr: dict[str, Any] = {"alg": ALG, "kid": key.kid, "typ": "at+jwt"}
    hdr.update(header)
    hdr = {k: v for k, v in hdr.items() if v is not None}
    return jwt.encode(hdr, claims, key, algorithms=[ALG])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segments(compact: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    h, p, s = compact.split(".")
    return json.loads(unb64(h)), json.loads(unb64(p)), s


def assert_refused(service: TokenService, compact: str, reason: str) -> None:
    """Refused by both doors: ``check`` with the reason, ``verify`` opaquely."""
    token, why = service.check(compact)
    assert token is None
    assert why == reason
    with pytest.raises(AuthenticationFailed) as info:
        service.verify(compact)
    assert str(info.value) == "authentication failed"
    assert info.value.args == ("authentication failed",)


# -- issue and verify ------------------------------------------------------------------------


def test_issue_then_verify_round_trip(service: TokenService) -> None:
    compact, issued = service.issue(client_id="client-1", tenant_id="tenant-1", scopes=SCOPES)
    assert issued == AccessToken(
        client_id="client-1",
        tenant_id="tenant-1",
        scopes=SCOPES,
        jti=issued.jti,
        issued_at=T0,
        expires_at=T0 + TTL,
    )
    assert service.verify(compact) == issued
    assert service.check(compact) == (issued, "")


def test_issued_token_layout(service: TokenService) -> None:
    compact, issued = service.issue(client_id="c", tenant_id="t", scopes=ALL_SCOPES)
    header, claims, _ = segments(compact)
    assert header == {"alg": "Ed25519", "kid": "key-1", "typ": "at+jwt"}
    assert claims == {
        "iss": ISSUER,
        "sub": "c",
        "aud": "sealwright-api",
        "tenant": "t",
        "scope": "envelopes:read envelopes:send envelopes:void envelopes:write evidence:read "
        "qr:verify signing:sign signing:view webhooks:read webhooks:write",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + TTL,
        "jti": issued.jti,
    }


def test_every_token_gets_its_own_id(service: TokenService) -> None:
    ids = {service.issue(client_id="c", tenant_id="t", scopes=SCOPES)[1].jti for _ in range(20)}
    assert len(ids) == 20


def test_token_with_no_scopes_verifies_with_no_scopes(service: TokenService) -> None:
    assert service.verify(issue(service, frozenset())).scopes == frozenset()


def test_token_from_a_previous_key_still_verifies_after_rotation(clock: FixedClock) -> None:
    old = TokenService(keys=KeyHolder(KEY), clock=clock, issuer=ISSUER, ttl=TTL)
    compact = issue(old)
    rotated = TokenService(
        keys=KeyHolder(new_key("key-2"), KEY), clock=clock, issuer=ISSUER, ttl=TTL
    )
    assert rotated.verify(compact).client_id == "client-1"
    assert segments(issue(rotated))[0]["kid"] == "key-2"


# -- lifetime --------------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [901, 3600, 0, -1])
def test_lifetime_outside_1_to_900_seconds_is_refused_at_construction(
    clock: FixedClock, ttl: int
) -> None:
    with pytest.raises(ValueError, match="at most 15 minutes"):
        TokenService(keys=KeyHolder(KEY), clock=clock, issuer=ISSUER, ttl=ttl)


@pytest.mark.parametrize("ttl", [1, 900])
def test_lifetime_bounds_are_accepted(clock: FixedClock, ttl: int) -> None:
    svc = TokenService(keys=KeyHolder(KEY), clock=clock, issuer=ISSUER, ttl=ttl)
    assert svc.verify(issue(svc)).expires_at == T0 + ttl


def test_token_living_longer_than_900_seconds_is_refused(service: TokenService) -> None:
    assert_refused(service, sign(good_claims(exp=T0 + 901)), "implausible lifetime")


def test_token_living_exactly_900_seconds_is_accepted(service: TokenService) -> None:
    assert service.verify(sign(good_claims(exp=T0 + 900))).expires_at == T0 + 900


def test_valid_until_its_last_second(service: TokenService, clock: FixedClock) -> None:
    compact = issue(service)
    clock.advance(TTL - 1)
    assert service.verify(compact).expires_at == T0 + TTL


@pytest.mark.parametrize("after", [TTL, TTL + 1, 86_400])
def test_expired(service: TokenService, clock: FixedClock, after: int) -> None:
    compact = issue(service)
    clock.advance(after)
    assert_refused(service, compact, "expired")


def test_issued_in_the_future_beyond_30_seconds_of_skew_is_refused(clock: FixedClock) -> None:
    issuer_clock = FixedClock(START)
    issuer = TokenService(keys=KeyHolder(KEY), clock=issuer_clock, issuer=ISSUER, ttl=TTL)
    verifier = TokenService(keys=KeyHolder(KEY), clock=clock, issuer=ISSUER, ttl=TTL)
    compact = issue(issuer)
    clock.advance(-30)
    assert verifier.verify(compact).issued_at == T0, "30 s of clock skew is tolerated"
    clock.advance(-1)
    assert_refused(verifier, compact, "implausible lifetime")


def test_not_yet_valid_token_far_in_the_future_is_refused(service: TokenService) -> None:
    later = T0 + 3600
    assert_refused(
        service, sign(good_claims(iat=later, nbf=later, exp=later + 60)), "implausible lifetime"
    )


def test_nbf_in_the_future_is_refused(service: TokenService) -> None:
    assert_refused(service, sign(good_claims(nbf=T0 + 31)), "not yet valid")
    assert service.verify(sign(good_claims(nbf=T0 + 30))).issued_at == T0  # skew tolerated


def test_absurd_expiry_is_refused_not_crashing(service: TokenService) -> None:
    assert_refused(service, sign(good_claims(exp=10**400)), "implausible lifetime")


def test_expires_in(service: TokenService) -> None:
    _, token = service.issue(client_id="c", tenant_id="t", scopes=SCOPES)
    assert expires_in(token, START) == TTL
    assert expires_in(token, datetime.fromtimestamp(T0 + 100, UTC)) == TTL - 100
    assert expires_in(token, datetime.fromtimestamp(T0 + TTL + 5, UTC)) == 0


# -- issuer, audience, type, claims ----------------------------------------------------------


def test_wrong_issuer(service: TokenService, clock: FixedClock) -> None:
    other = TokenService(keys=KeyHolder(KEY), clock=clock, issuer="https://elsewhere", ttl=TTL)
    assert_refused(service, issue(other), "wrong issuer or audience")


@pytest.mark.parametrize("aud", ["other-api", "", ["other-api"]])
def test_wrong_audience(service: TokenService, aud: object) -> None:
    assert_refused(service, sign(good_claims(aud=aud)), "wrong issuer or audience")


@pytest.mark.parametrize("typ", ["JWT", "at+JWT", "dpop+jwt", None])
def test_wrong_or_missing_token_type(service: TokenService, typ: str | None) -> None:
    assert_refused(service, sign(good_claims(), typ=typ), "wrong token type")


@pytest.mark.parametrize("missing", ["iss", "aud", "exp", "iat", "sub", "tenant", "scope", "jti"])
def test_missing_claim(service: TokenService, missing: str) -> None:
    claims = good_claims()
    del claims[missing]
    _, why = service.check(sign(claims))
    assert why in {"missing or malformed claims", "wrong issuer or audience"}
    with pytest.raises(AuthenticationFailed):
        service.verify(sign(claims))


@pytest.mark.parametrize(
    "override",
    [{"scope": "envelopes:read admin"}, {"exp": "soon"}, {"iat": None}, {"exp": [1]}],
    ids=["unknown-scope", "text-exp", "no-iat", "list-exp"],
)
def test_malformed_claims(service: TokenService, override: dict[str, Any]) -> None:
    assert_refused(service, sign(good_claims(**override)), "missing or malformed claims")


# -- signatures ------------------------------------------------------------------------------


def test_tampered_signature(service: TokenService) -> None:
    h, p, s = issue(service).split(".")
    raw = bytearray(unb64(s))
    raw[10] ^= 0x01
    assert_refused(
        service, f"{h}.{p}.{b64(bytes(raw))}", "undecodable or bad signature: BadSignatureError"
    )


def test_tampered_claims_break_the_signature(service: TokenService) -> None:
    # Widen the scopes without re-signing.
    h, _, s = issue(service, frozenset({Scope.ENVELOPES_READ})).split(".")
    forged = b64(json.dumps(good_claims(scope="envelopes:read envelopes:void")).encode())
    assert_refused(service, f"{h}.{forged}.{s}", "undecodable or bad signature: BadSignatureError")


def test_tampered_header_breaks_the_signature(service: TokenService) -> None:
    _, p, s = issue(service).split(".")
    # Same meaning, different bytes: the signature covers the bytes.
    header = b64(json.dumps({"typ": "at+jwt", "kid": "key-1", "alg": ALG}, indent=1).encode())
    assert_refused(service, f"{header}.{p}.{s}", "undecodable or bad signature: BadSignatureError")


def test_token_signed_by_another_key_with_an_unknown_kid(service: TokenService) -> None:
    assert_refused(
        service,
        sign(good_claims(), key=new_key("intruder")),
        "undecodable or bad signature: InvalidKeyIdError",
    )


def test_token_signed_by_another_key_claiming_our_kid(service: TokenService) -> None:
    impostor = new_key("key-1")
    assert_refused(
        service,
        sign(good_claims(), key=impostor),
        "undecodable or bad signature: BadSignatureError",
    )


def test_unsigned_token_is_refused(service: TokenService) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    payload = b64(json.dumps(good_claims()).encode())
    compact = f"{header}.{payload}."
    assert service.check(compact)[0] is None
    with pytest.raises(AuthenticationFailed):
        service.verify(compact)


def test_other_algorithms_are_refused(service: TokenService) -> None:
    # The classic confusion: HMAC keyed with the (public) verification key.
    header = b64(json.dumps({"alg": "HS256", "kid": "key-1", "typ": "at+jwt"}).encode())
    payload = b64(json.dumps(good_claims()).encode())
    compact = f"{header}.{payload}.{b64(b'x' * 32)}"
    assert service.check(compact)[0] is None
    with pytest.raises(AuthenticationFailed):
        service.verify(compact)


@pytest.mark.parametrize(
    "garbage", ["", "abc", "a.b.c", "...", "a.b", "Bearer x", "ey.ey.ey", "\x00\xff"]
)
def test_garbage_is_refused(service: TokenService, garbage: str) -> None:
    assert service.check(garbage)[0] is None
    with pytest.raises(AuthenticationFailed):
        service.verify(garbage)


@pytest.mark.parametrize("crit", [None, 1, True, [None], [[]], [{}], "b64"])
def test_ill_typed_crit_header_is_refused_not_crashing(service: TokenService, crit: object) -> None:
    # Regression: joserfc's header checks raised TypeError on these, before any signature
    # was checked, so an anonymous caller could turn a 401 into a 500.
    header = b64(json.dumps({"alg": ALG, "kid": "key-1", "typ": "at+jwt", "crit": crit}).encode())
    payload = b64(json.dumps(good_claims()).encode())
    compact = f"{header}.{payload}.{b64(b'x' * 64)}"
    token, why = service.check(compact)
    assert token is None
    assert why.startswith("undecodable or bad signature: ")
    with pytest.raises(AuthenticationFailed):
        service.verify(compact)


# -- opacity ---------------------------------------------------------------------------------


def test_verify_hides_the_reason_check_gives(service: TokenService, clock: FixedClock) -> None:
    refused = {
        "expired": issue(service),
        "audience": sign(good_claims(aud="x")),
        "typ": sign(good_claims(), typ="JWT"),
        "signature": sign(good_claims(), key=new_key("key-1")),
    }
    clock.advance(TTL)  # expires the first; the others are refused for their own reasons
    reasons = set()
    for compact in refused.values():
        _, why = service.check(compact)
        reasons.add(why)
        with pytest.raises(AuthenticationFailed) as info:
            service.verify(compact)
        assert str(info.value) == "authentication failed"
        assert why not in str(info.value)
        # Nothing chained that a careless handler could render.
        assert info.value.__cause__ is None
        assert info.value.__context__ is None
    assert len(reasons) == 4


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_header = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from([ALG, "EdDSA", "none", "HS256", "RS256"]) | _json,
        "kid": st.just("key-1") | _json,
        "typ": st.just("at+jwt") | _json,
        "crit": _json,
        "b64": _json,
        "jwk": _json,
        "zip": _json,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=_header | _json, payload=_json, signature=st.binary(max_size=80))
def test_no_forged_token_gets_past_or_crashes_the_check(
    service: TokenService, header: object, payload: object, signature: bytes
) -> None:
    compact = ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )
    token, why = service.check(compact)
    assert token is None
    assert why
    with pytest.raises(AuthenticationFailed):
        service.verify(compact)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_check(service: TokenService, text: str) -> None:
    assert service.check(text)[0] is None
