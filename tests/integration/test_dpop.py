"""DPoP (RFC 9449) against the real server: a client that opts in gets a token bound to its
key, and that token is useless without a fresh proof from the same key."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import OKPKey, thumbprint

from sealwright.identity.dpop import access_token_hash
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client


def _proof(
    rt: Runtime, key: OKPKey, method: str, url: str, token: str | None = None, **extra: Any
) -> str:
    claims: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": int(rt.clock.now().timestamp()),
    }
    if token is not None:
        claims["ath"] = access_token_hash(token)
    claims.update(extra)
    header = {"typ": "dpop+jwt", "alg": "Ed25519", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["Ed25519"])


def _bound_token(rt: Runtime, server: BackgroundServer, key: OKPKey) -> str:
    _, cid, secret = new_client(rt, "t1")
    url = f"{server.url}/oauth/token"
    r = httpx.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(cid, secret),
        headers={"DPoP": _proof(rt, key, "POST", url)},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    claims = jwt.decode(
        body["access_token"], rt.token_keys.joserfc_keyset(), algorithms=["Ed25519"]
    ).claims
    assert claims["cnf"] == {"jkt": thumbprint(key.as_dict(private=False))}
    return str(body["access_token"])


def test_dpop_bound_token_with_proofs(runtime: Runtime, server: BackgroundServer) -> None:
    key = OKPKey.generate_key("Ed25519", private=True)
    token = _bound_token(runtime, server, key)
    url = f"{server.url}/v1/envelopes"
    issued = events(runtime, "api:token:issued")[-1]
    assert issued["data"]["jkt"] == thumbprint(key.as_dict(private=False))

    for _ in range(2):  # a fresh proof per request
        r = httpx.get(
            url,
            params={"limit": 5},
            headers={
                "Authorization": f"DPoP {token}",
                "DPoP": _proof(runtime, key, "GET", url, token),
            },
        )
        assert r.status_code == 200, r.text
    assert events(runtime, "api:access:denied") == []


def test_dpop_misuse_is_refused_and_audited(runtime: Runtime, server: BackgroundServer) -> None:
    key = OKPKey.generate_key("Ed25519", private=True)
    token = _bound_token(runtime, server, key)
    url = f"{server.url}/v1/envelopes"
    other_key = OKPKey.generate_key("Ed25519", private=True)
    replayed = _proof(runtime, key, "GET", url, token)
    assert (
        httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": replayed}).status_code
        == 200
    )
    attempts: list[tuple[dict[str, str], str]] = [
        ({"Authorization": f"Bearer {token}"}, "DPoP-bound token presented as Bearer"),
        (
            {"Authorization": f"Bearer {token}", "DPoP": _proof(runtime, key, "GET", url, token)},
            "DPoP-bound token presented as Bearer",
        ),
        ({"Authorization": f"DPoP {token}"}, "missing dpop proof"),
        ({"Authorization": f"DPoP {token}", "DPoP": replayed}, "replayed proof"),
        (
            {
                "Authorization": f"DPoP {token}",
                "DPoP": _proof(runtime, key, "GET", url + "/x", token),
            },
            "htu does not match",
        ),
        (
            {"Authorization": f"DPoP {token}", "DPoP": _proof(runtime, key, "POST", url, token)},
            "htm does not match",
        ),
        (
            {"Authorization": f"DPoP {token}", "DPoP": _proof(runtime, key, "GET", url, "other")},
            "ath does not match",
        ),
        (
            {
                "Authorization": f"DPoP {token}",
                "DPoP": _proof(runtime, other_key, "GET", url, token),
            },
            "key does not match the token binding",
        ),
    ]
    for headers, _reason in attempts:
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["detail"] == "authentication failed"
        assert "WWW-Authenticate" in r.headers
    denied = events(runtime, "api:access:denied")
    assert len(denied) == len(attempts)
    for event, (_, reason) in zip(denied, attempts, strict=True):
        assert reason in event["data"]["reason"]
        assert event["actor"].startswith("client:")
        assert event["data"]["path"] == "/v1/envelopes"


def test_bad_proof_at_token_endpoint(runtime: Runtime, server: BackgroundServer) -> None:
    key = OKPKey.generate_key("Ed25519", private=True)
    _, cid, secret = new_client(runtime, "t1")
    url = f"{server.url}/oauth/token"
    r = httpx.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(cid, secret),
        headers={"DPoP": _proof(runtime, key, "POST", f"{server.url}/v1/envelopes")},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_dpop_proof"
    refused = events(runtime, "api:token:refused")
    assert "htu does not match" in refused[-1]["data"]["reason"]
    assert events(runtime, "api:token:issued") == []


def test_unbound_tokens_keep_working_as_bearer(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "t1")
    r = httpx.post(
        f"{server.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
    )
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert (
        "cnf"
        not in jwt.decode(
            body["access_token"], runtime.token_keys.joserfc_keyset(), algorithms=["Ed25519"]
        ).claims
    )
    token = body["access_token"]
    ok = httpx.get(f"{server.url}/v1/envelopes", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    as_dpop = httpx.get(f"{server.url}/v1/envelopes", headers={"Authorization": f"DPoP {token}"})
    assert as_dpop.status_code == 401
    assert events(runtime, "api:access:denied")[-1]["data"]["reason"] == (
        "unbound token presented with the DPoP scheme"
    )
