"""DPoP proofs (RFC 9449): each check refuses with its own reason (for the audit log) while
``verify`` raises the one opaque ``AuthenticationFailed``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, thumbprint

from sealwright.clock import FixedClock
from sealwright.errors import AuthenticationFailed
from sealwright.identity.dpop import (
    DPoPVerifier,
    access_token_hash,
    normalise_htu,
)

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class SeenJtis:
    """The replay-cache port in memory (the service's adapter is the database's)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def claim(self, key: str, until: int) -> str:
        if key in self.seen:
            return "replayed proof (jti seen before)"
        self.seen.add(key)
        return ""


T0 = int(START.timestamp())
URL = "https://sealwright.test/v1/envelopes"
TOKEN = "header.payload.signature"
KEY = OKPKey.generate_key("Ed25519", private=True)
JKT = thumbprint(KEY.as_dict(private=False))


def proof(
    key: OKPKey | ECKey = KEY,
    *,
    alg: str = "Ed25519",
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    drop_header: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    h: dict[str, Any] = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    h.update(header or {})
    for name in drop_header:
        h.pop(name)
    c: dict[str, Any] = {
        "jti": "jti-1",
        "htm": "GET",
        "htu": URL,
        "iat": T0,
        "ath": access_token_hash(TOKEN),
    }
    c.update(claims)
    for name in drop:
        c.pop(name)
    return jwt.encode(h, c, key, algorithms=[alg])


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def verifier(clock: FixedClock) -> DPoPVerifier:
    return DPoPVerifier(clock=clock, replay=SeenJtis())


def check(v: DPoPVerifier, compact: str, **kw: Any) -> str:
    """The refusal reason (and ``verify`` raises the opaque error for the same proof)."""
    args: dict[str, Any] = {"method": "GET", "url": URL, "access_token": TOKEN, "jkt": JKT}
    args.update(kw)
    result, reason = v.check(compact, **args)
    assert result is None
    assert reason
    with pytest.raises(AuthenticationFailed) as info:
        v.verify(compact, **args)
    assert str(info.value) == "authentication failed"
    return reason


def test_valid_proof(verifier: DPoPVerifier) -> None:
    result, reason = verifier.check(
        proof(), method="GET", url=URL + "?limit=5#x", access_token=TOKEN, jkt=JKT
    )
    assert reason == ""
    assert result is not None
    assert (result.jkt, result.jti, result.htm, result.iat) == (JKT, "jti-1", "GET", T0)


def test_es256_proof_and_token_endpoint_without_ath(verifier: DPoPVerifier) -> None:
    key = ECKey.generate_key("P-256", private=True)
    result, reason = verifier.check(proof(key, alg="ES256", drop=("ath",)), method="GET", url=URL)
    assert reason == ""
    assert result is not None
    assert result.jkt == thumbprint(key.as_dict(private=False))


@pytest.mark.parametrize(
    ("claims", "drop", "reason"),
    [
        ({"htm": "POST"}, (), "htm does not match"),
        ({"htm": "get"}, (), "htm does not match"),
        ({"htu": "https://sealwright.test/v1/envelopes/x"}, (), "htu does not match"),
        ({"htu": "https://evil.test/v1/envelopes"}, (), "htu does not match"),
        ({"htu": "not a url"}, (), "htu does not match"),
        ({"ath": access_token_hash("another.token.x")}, (), "ath does not match"),
        ({}, ("ath",), "ath does not match"),
        ({}, ("jti",), "jti missing"),
        ({"jti": ""}, (), "jti missing"),
        ({"jti": 7}, (), "jti missing"),
        ({}, ("iat",), "iat missing"),
        ({"iat": "now"}, (), "iat missing"),
        ({"iat": T0 - 61}, (), "iat outside"),
        ({"iat": T0 + 61}, (), "iat outside"),
        ({}, ("htm",), "htm does not match"),
        ({}, ("htu",), "htu does not match"),
    ],
)
def test_each_wrong_claim_is_refused(
    verifier: DPoPVerifier, claims: dict[str, Any], drop: tuple[str, ...], reason: str
) -> None:
    assert reason in check(verifier, proof(drop=drop, **claims))


def test_iat_within_skew_is_accepted(verifier: DPoPVerifier) -> None:
    for i, iat in enumerate([T0 - 60, T0 + 60]):
        assert check_ok(verifier, proof(iat=iat, jti=f"j{i}"))


def check_ok(v: DPoPVerifier, compact: str) -> bool:
    result, reason = v.check(compact, method="GET", url=URL, access_token=TOKEN, jkt=JKT)
    return result is not None and reason == ""


def test_wrong_key_for_the_token_binding(verifier: DPoPVerifier) -> None:
    other = OKPKey.generate_key("Ed25519", private=True)
    assert "key does not match the token binding" in check(verifier, proof(other))


def test_signature_by_another_key_than_the_header_jwk(verifier: DPoPVerifier) -> None:
    other = OKPKey.generate_key("Ed25519", private=True)
    forged = proof(other, header={"jwk": KEY.as_dict(private=False)})
    assert "signature invalid" in check(verifier, forged)


def test_private_jwk_in_header_is_refused(verifier: DPoPVerifier) -> None:
    leaked = proof(header={"jwk": KEY.as_dict(private=True)})
    assert "private key material" in check(verifier, leaked)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"typ": "JWT"}, "wrong typ"),
        ({"typ": "at+jwt"}, "wrong typ"),
        ({"jwk": {"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}}, "does not fit its alg"),
        ({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "!!"}}, "jwk unusable"),
    ],
)
def test_bad_header_is_refused(verifier: DPoPVerifier, header: dict[str, Any], reason: str) -> None:
    assert reason in check(verifier, proof(header=header))


@pytest.mark.parametrize(("name", "reason"), [("typ", "wrong typ"), ("jwk", "no jwk")])
def test_missing_header_is_refused(verifier: DPoPVerifier, name: str, reason: str) -> None:
    assert reason in check(verifier, proof(drop_header=(name,)))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(verifier: DPoPVerifier) -> None:
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": KEY.as_dict(private=False)}
    claims = {"jti": "n", "htm": "GET", "htu": URL, "iat": T0, "ath": access_token_hash(TOKEN)}
    unsigned = f"{_b64(header)}.{_b64(claims)}."
    assert "alg not allowed" in check(verifier, unsigned)


def test_hs256_is_refused(verifier: DPoPVerifier) -> None:
    secret = OctKey.generate_key(256)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict(private=False)}
    claims = {"jti": "h", "htm": "GET", "htu": URL, "iat": T0, "ath": access_token_hash(TOKEN)}
    mac = jwt.encode(header, claims, secret, algorithms=["HS256"])
    assert "alg not allowed" in check(verifier, mac)


def test_garbage_is_refused(verifier: DPoPVerifier) -> None:
    for junk in ["", "a.b", "x" * 10_000, "ü.ü.ü"]:
        assert check(verifier, junk)


def test_replay_is_refused_within_window_only(verifier: DPoPVerifier, clock: FixedClock) -> None:
    compact = proof()
    assert check_ok(verifier, compact)
    assert "replayed" in check(verifier, compact)
    # the same jti from another key is a different proof
    other = OKPKey.generate_key("Ed25519", private=True)
    result, _ = verifier.check(proof(other), method="GET", url=URL, access_token=TOKEN)
    assert result is not None
    # once the window is over, the old proof is refused for its age, not remembered forever
    clock.advance(61)
    assert "iat outside" in check(verifier, compact)


def test_refused_proof_does_not_spend_its_jti(verifier: DPoPVerifier) -> None:
    assert check(verifier, proof(htm="POST"))
    assert check_ok(verifier, proof())


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTPS://Sealwright.Test:443/v1/envelopes?q=1#f", "https://sealwright.test/v1/envelopes"),
        ("http://h:80", "http://h/"),
        ("http://h:8080/a/./b/../c", "http://h:8080/a/c"),
        ("http://h/%7Euser/%2f", "http://h/~user/%2F"),
        ("ftp://h/x", None),
        ("/relative", None),
        ("http://u:p@h/x", None),
    ],
)
def test_htu_normalisation(url: str, normal: str | None) -> None:
    assert normalise_htu(url) == normal


def test_unsupported_algorithm_configuration(clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        DPoPVerifier(clock=clock, replay=SeenJtis(), algorithms=frozenset({"HS256"}))
