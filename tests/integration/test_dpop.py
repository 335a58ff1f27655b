"""DPoP (RFC 9449) against the real server: a client that opts in gets a token bound to its
key, and that token is useless without a fresh proof from the same key."""

from __future__ import annotations

import httpx
from joserfc import jwt
from joserfc.jwk import OKPKey, thumbprint

from sealwright.services.runtime import Runtime
from sealwright.services.token_state import DatabaseReplayCache
from sealwright.web.app import create_app
from sealwright.web.server import BackgroundServer, free_port
from tests.integration.helpers import events, new_client
from tests.integration.token_helpers import proof


def _bound_token(rt: Runtime, server: BackgroundServer, key: OKPKey) -> str:
    _, cid, secret = new_client(rt, "t1")
    url = f"{server.url}/oauth/token"
    r = httpx.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(cid, secret),
        headers={"DPoP": proof(rt, key, "POST", url)},
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
                "DPoP": proof(runtime, key, "GET", url, token),
            },
        )
        assert r.status_code == 200, r.text
    assert events(runtime, "api:access:denied") == []


def test_dpop_misuse_is_refused_and_audited(runtime: Runtime, server: BackgroundServer) -> None:
    key = OKPKey.generate_key("Ed25519", private=True)
    token = _bound_token(runtime, server, key)
    url = f"{server.url}/v1/envelopes"
    other_key = OKPKey.generate_key("Ed25519", private=True)
    replayed = proof(runtime, key, "GET", url, token)
    assert (
        httpx.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": replayed}).status_code
        == 200
    )
    attempts: list[tuple[dict[str, str], str]] = [
        ({"Authorization": f"Bearer {token}"}, "DPoP-bound token presented as Bearer"),
        (
            {"Authorization": f"Bearer {token}", "DPoP": proof(runtime, key, "GET", url, token)},
            "DPoP-bound token presented as Bearer",
        ),
        ({"Authorization": f"DPoP {token}"}, "missing dpop proof"),
        ({"Authorization": f"DPoP {token}", "DPoP": replayed}, "replayed proof"),
        (
            {
                "Authorization": f"DPoP {token}",
                "DPoP": proof(runtime, key, "GET", url + "/x", token),
            },
            "htu does not match",
        ),
        (
            {"Authorization": f"DPoP {token}", "DPoP": proof(runtime, key, "POST", url, token)},
            "htm does not match",
        ),
        (
            {"Authorization": f"DPoP {token}", "DPoP": proof(runtime, key, "GET", url, "other")},
            "ath does not match",
        ),
        (
            {
                "Authorization": f"DPoP {token}",
                "DPoP": proof(runtime, other_key, "GET", url, token),
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
        headers={"DPoP": proof(runtime, key, "POST", f"{server.url}/v1/envelopes")},
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


def test_a_proof_replayed_to_another_api_process_is_refused(
    runtime: Runtime, server: BackgroundServer
) -> None:
    """Two API processes behind one public URL share the replay state (the database): a
    proof used at one is refused at the other."""
    key = OKPKey.generate_key("Ed25519", private=True)
    token = _bound_token(runtime, server, key)
    url = f"{server.url}/v1/envelopes"
    used = proof(runtime, key, "GET", url, token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": used}
    second = Runtime.build(runtime.settings, clock=runtime.clock)
    try:
        with BackgroundServer(create_app(second, start_worker=False), port=free_port()) as other:
            assert httpx.get(url, headers=headers).status_code == 200
            replay = httpx.get(f"{other.url}/v1/envelopes", headers=headers)
            assert replay.status_code == 401
    finally:
        second.close()
    refused = events(runtime, "api:access:denied")
    assert refused[-1]["data"]["reason"] == "replayed proof (jti seen before)"


def test_the_database_replay_cache_refuses_a_key_seen_before(runtime: Runtime) -> None:
    cache = DatabaseReplayCache(runtime.db)
    until = int(runtime.clock.now().timestamp()) + 60
    assert cache.claim("jkt:jti-1", until) == ""
    assert cache.claim("jkt:jti-2", until) == ""
    assert cache.claim("jkt:jti-1", until) == "replayed proof (jti seen before)"
