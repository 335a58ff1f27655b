"""Attenuation (B3) against the real server: a token holder mints narrower, shorter-lived
tokens by RFC 8693 token exchange, the ledger traces each delegation, and the issue's
example -- a signing link for one recipient of one envelope, view + sign, at most ten
minutes, single use -- opens a signer session that still has to pass authentication."""

from __future__ import annotations

import re

import httpx
from joserfc.jwk import OKPKey

from sealwright.cli.demo_driver import DemoDriver
from sealwright.services.demo import DemoPeople
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client
from tests.integration.token_helpers import (
    access_token,
    bearer,
    child_token,
    claims_of,
    exchange,
    proof,
)

SIGNING = {"audience": "sealwright-signing", "scope": "signing:view signing:sign"}


def _sent(rt: Runtime, server: BackgroundServer) -> tuple[str, str, dict]:  # type: ignore[type-arg]
    _, cid, secret = new_client(rt, "t1")
    driver = DemoDriver(server.url, cid, secret, timeout=20)
    try:
        return cid, secret, driver.create_envelope(DemoPeople())
    finally:
        driver.close()


def test_child_is_narrower_shorter_and_traced(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "t1")
    parent = access_token(server, cid, secret)
    r = httpx.post(
        f"{server.url}/v1/envelopes",
        headers=bearer(parent),
        json={"title": "x", "folder": "sales", "recipients": [{"name": "A", "email": "a@x.io"}]},
    )
    assert r.status_code == 201, r.text
    env = r.json()
    assert env["folder"] == "sales"
    resp = exchange(server, parent, scope="envelopes:read", envelopes=env["id"], expires_in="120")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 120
    child = claims_of(runtime, body["access_token"])
    parent_claims = claims_of(runtime, parent)
    assert child["parent"] == parent_claims["jti"]
    assert child["exp"] <= parent_claims["exp"]
    assert child["envelopes"] == [env["id"]]
    assert child["aud"] == "sealwright-api"
    token = body["access_token"]
    assert httpx.get(f"{server.url}/v1/envelopes/{env['id']}", headers=bearer(token)).is_success
    # what the parent could do, the child cannot
    r = httpx.post(f"{server.url}/v1/envelopes/{env['id']}/send", headers=bearer(token))
    assert r.status_code == 403
    traced = events(runtime, "api:token:attenuated")[-1]["data"]
    assert traced["parent"] == parent_claims["jti"]
    assert traced["jti"] == child["jti"]
    granted = [e["data"]["action"] for e in events(runtime, "api:access:granted")]
    assert "token:attenuate" in granted
    # a grandchild may narrow further, never widen back
    assert exchange(server, token, scope="envelopes:read envelopes:write").status_code == 400
    assert exchange(server, token, envelopes="0" * 32).status_code == 400
    grandchild = child_token(server, token, expires_in="30")
    assert claims_of(runtime, grandchild)["parent"] == child["jti"]
    refused = events(runtime, "api:token:refused")
    assert [e["data"]["reason"] for e in refused][-2:] == [
        "widening: scope envelopes:write not held by the subject token",
        "widening: envelopes beyond the subject token's",
    ]
    assert all(token not in str(e) and parent not in str(e) for e in refused)


def test_single_use_child_is_refused_the_second_time(
    runtime: Runtime, server: BackgroundServer
) -> None:
    _, cid, secret = new_client(runtime, "t1")
    once = child_token(server, access_token(server, cid, secret), single_use="true")
    url = f"{server.url}/v1/envelopes"
    assert httpx.get(url, headers=bearer(once)).status_code == 200
    r = httpx.get(url, headers=bearer(once))
    assert r.status_code == 401
    assert events(runtime, "api:access:denied")[-1]["data"]["reason"] == (
        "replayed single-use token"
    )
    # a single-use token stays single-use when attenuated, and is spent by the exchange
    another = child_token(server, access_token(server, cid, secret), single_use="true")
    assert exchange(server, another, single_use="false").status_code == 400
    grandchild = child_token(server, another)
    assert claims_of(runtime, grandchild)["single_use"] is True
    assert exchange(server, another).status_code == 400  # spent by the first exchange


def test_dpop_bound_parent_gives_a_child_bound_to_the_same_key(
    runtime: Runtime, server: BackgroundServer
) -> None:
    _, cid, secret = new_client(runtime, "t1")
    key, other = (OKPKey.generate_key("Ed25519", private=True) for _ in range(2))
    token_url = f"{server.url}/oauth/token"
    r = httpx.post(
        token_url,
        data={"grant_type": "client_credentials"},
        auth=(cid, secret),
        headers={"DPoP": proof(runtime, key, "POST", token_url)},
    )
    parent = r.json()["access_token"]
    assert exchange(server, parent).json()["error"] == "invalid_dpop_proof"
    wrong = {"DPoP": proof(runtime, other, "POST", token_url)}
    assert exchange(server, parent, headers=wrong).json()["error"] == "invalid_dpop_proof"
    right = {"DPoP": proof(runtime, key, "POST", token_url)}
    resp = exchange(server, parent, headers=right, scope="envelopes:read")
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"] == "DPoP"
    child = resp.json()["access_token"]
    assert claims_of(runtime, child)["cnf"] == claims_of(runtime, parent)["cnf"]
    url = f"{server.url}/v1/envelopes"
    assert httpx.get(url, headers=bearer(child)).status_code == 401
    ok = httpx.get(
        url,
        headers={"Authorization": f"DPoP {child}", "DPoP": proof(runtime, key, "GET", url, child)},
    )
    assert ok.status_code == 200, ok.text


def test_signing_link_for_one_recipient(runtime: Runtime, server: BackgroundServer) -> None:
    cid, secret, env = _sent(runtime, server)
    first, second = env["recipients"]
    parent = access_token(server, cid, secret)
    # more than ten minutes is refused for a recipient-bound token
    too_long = exchange(
        server, parent, envelopes=env["id"], recipient=first["id"], expires_in="900", **SIGNING
    )
    assert too_long.status_code == 400
    link = child_token(server, parent, envelopes=env["id"], recipient=first["id"], **SIGNING)
    claims = claims_of(runtime, link)
    assert claims["aud"] == "sealwright-signing"
    assert claims["single_use"] is True
    assert claims["recipient"] == first["id"]
    assert claims["exp"] - claims["iat"] <= 600
    # it is no API token
    assert httpx.get(f"{server.url}/v1/envelopes", headers=bearer(link)).status_code == 401
    # only POST: a token never travels in a URL
    assert httpx.get(f"{server.url}/embedded/sign").status_code == 405
    with httpx.Client() as browser:
        r = browser.post(
            f"{server.url}/embedded/sign",
            data={"token": link},
            headers={"Origin": "https://integrator.example"},
        )
        assert r.status_code == 200, r.text
        assert "sw_signer" in browser.cookies
        assert link not in r.text
        next_url = re.search(r'id="continue" href="([^"]+)"', r.text)
        assert next_url is not None
        step = browser.get(server.url + next_url.group(1))
        assert step.status_code == 200, step.text
        # a signer session alone signs nothing: authentication comes first
        signed = browser.post(f"{server.url}/s/sign", data={"signature_text": "Ada"})
        assert signed.status_code in (303, 403, 409), signed.text
    assert events(runtime, "signer:recipient:signed") == []
    opened = events(runtime, "signer:link:opened")[-1]
    assert opened["data"]["via"] == "embedded"
    assert opened["data"]["jti"] == claims["jti"]
    # the same token again, and a token for a recipient whose turn has not come
    again = httpx.post(f"{server.url}/embedded/sign", data={"token": link})
    assert again.status_code == 403
    later = child_token(server, parent, envelopes=env["id"], recipient=second["id"], **SIGNING)
    assert httpx.post(f"{server.url}/embedded/sign", data={"token": later}).status_code == 403
    reasons = [e["data"]["reason"] for e in events(runtime, "api:access:denied")]
    assert reasons[-2:] == [
        "replayed single-use token",
        "the recipient's turn in the routing order has not come",
    ]
    assert all(link not in str(e) for e in events(runtime))


def test_revoked_client_cannot_attenuate(runtime: Runtime, server: BackgroundServer) -> None:
    from sealwright.services.admin import revoke_client

    _, cid, secret = new_client(runtime, "t1")
    parent = access_token(server, cid, secret)
    child = child_token(server, parent, scope="envelopes:read")
    with runtime.db.transaction() as session:
        revoke_client(runtime, session, cid)
    assert exchange(server, parent).status_code == 400
    assert httpx.get(f"{server.url}/v1/envelopes", headers=bearer(child)).status_code == 401
    assert events(runtime, "api:token:refused")[-1]["data"]["reason"] == (
        "subject token: client revoked"
    )
