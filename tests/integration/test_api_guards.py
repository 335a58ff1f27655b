"""Every bad input gets a clear error and an audit event, and changes nothing else."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from sealwright.cli.demo_driver import CODE, LINK, DemoDriver
from sealwright.identity.scopes import Scope
from sealwright.services.demo import DemoPeople
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client


def _token(server: BackgroundServer, client_id: str, secret: str) -> dict[str, str]:
    r = httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _draft(server: BackgroundServer, headers: dict[str, str]) -> dict:
    r = httpx.post(
        f"{server.url}/v1/envelopes",
        headers=headers,
        json={"title": "Guarded", "recipients": [{"name": "A", "email": "a@example.com"}]},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_malformed_pdf_is_rejected_with_problem_and_event(
    runtime: Runtime, server: BackgroundServer
) -> None:
    _, cid, secret = new_client(runtime, "t1")
    headers = _token(server, cid, secret)
    env = _draft(server, headers)
    for body, reason in [
        (b"%PDF-1.7\n garbage that is no pdf", "malformed"),
        (b"hello", "not-pdf"),
        (b"", "empty"),
    ]:
        r = httpx.post(
            f"{server.url}/v1/envelopes/{env['id']}/documents",
            params={"name": "x.pdf"},
            content=body,
            headers={**headers, "Content-Type": "application/pdf"},
        )
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["reason"] == reason
        assert "garbage" not in r.text  # content never echoed
    rejected = events(runtime, "api:document:rejected")
    assert [e["data"]["reason"] for e in rejected] == ["malformed", "not-pdf", "empty"]
    after = httpx.get(f"{server.url}/v1/envelopes/{env['id']}", headers=headers).json()
    assert after["documents"] == []


def test_oversized_pdf_is_rejected(runtime: Runtime, server: BackgroundServer) -> None:
    runtime.settings.max_document_bytes = 2048
    _, cid, secret = new_client(runtime, "t1")
    headers = _token(server, cid, secret)
    env = _draft(server, headers)
    r = httpx.post(
        f"{server.url}/v1/envelopes/{env['id']}/documents",
        params={"name": "x"},
        content=b"%PDF-1.7\n" + b"0" * 5000,
        headers={**headers, "Content-Type": "application/pdf"},
    )
    assert r.status_code == 422
    assert r.json()["reason"] == "too-large"
    assert [e["data"]["reason"] for e in events(runtime, "api:document:rejected")] == ["too-large"]


def test_other_tenants_token_sees_nothing(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid_a, sec_a = new_client(runtime, "tenant-a")
    tenant_b, cid_b, sec_b = new_client(runtime, "tenant-b")
    env = _draft(server, _token(server, cid_a, sec_a))
    foreign = _token(server, cid_b, sec_b)
    for method, path in [("GET", ""), ("POST", "/send"), ("GET", "/evidence")]:
        r = httpx.request(method, f"{server.url}/v1/envelopes/{env['id']}{path}", headers=foreign)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["title"] == "Not found"
    denied = events(runtime, "api:access:denied")
    assert len(denied) == 3
    assert all(e["tenant"] == tenant_b and e["data"]["target"] == env["id"] for e in denied)
    mine = httpx.get(
        f"{server.url}/v1/envelopes/{env['id']}", headers=_token(server, cid_a, sec_a)
    ).json()
    assert mine["status"] == "draft"


def test_token_missing_scope_is_refused(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "t1", frozenset({Scope.ENVELOPES_READ}))
    headers = _token(server, cid, secret)
    r = httpx.post(
        f"{server.url}/v1/envelopes",
        headers=headers,
        json={"title": "x", "recipients": [{"name": "A", "email": "a@example.com"}]},
    )
    assert r.status_code == 403
    assert "envelopes:write" in r.json()["detail"]
    assert events(runtime, "api:access:denied")[-1]["data"]["reason"] == (
        "missing scope envelopes:write"
    )
    assert events(runtime, "api:envelope:created") == []
    # asking the token endpoint for a scope the client lacks is refused too
    r = httpx.post(
        f"{server.url}/oauth/token",
        auth=(cid, secret),
        data={"grant_type": "client_credentials", "scope": "envelopes:send"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_scope"


def test_bad_credentials_and_tokens_are_opaque(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, _secret = new_client(runtime, "t1")
    for auth in [(cid, "wrong"), ("swc_unknown", "wrong")]:
        r = httpx.post(
            f"{server.url}/oauth/token", auth=auth, data={"grant_type": "client_credentials"}
        )
        assert r.status_code == 401
        assert r.json() == {
            "error": "invalid_client",
            "error_description": "client authentication failed",
        }
    for header in ["Bearer nonsense", "Basic abc", ""]:
        r = httpx.get(f"{server.url}/v1/envelopes", headers={"Authorization": header})
        assert r.status_code == 401
        assert r.json()["detail"] == "authentication failed"
    assert len(events(runtime, "api:token:refused")) == 2
    assert len(events(runtime, "api:access:denied")) == 3


def test_idempotency_key_replays_and_refuses_mismatch(
    runtime: Runtime, server: BackgroundServer
) -> None:
    _, cid, secret = new_client(runtime, "t1")
    headers = {**_token(server, cid, secret), "Idempotency-Key": "order-42"}
    body = {"title": "Once", "recipients": [{"name": "A", "email": "a@example.com"}]}
    first = httpx.post(f"{server.url}/v1/envelopes", headers=headers, json=body)
    again = httpx.post(f"{server.url}/v1/envelopes", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = httpx.post(
        f"{server.url}/v1/envelopes", headers=headers, json={**body, "title": "Twice"}
    )
    assert other.status_code == 409
    assert len(events(runtime, "api:envelope:created")) == 1


def _email_otp(runtime: Runtime, tag: str) -> list[dict]:  # type: ignore[type-arg]
    """Signer authentication events of the email OTP method (B5 records every method so)."""
    return [e for e in events(runtime, tag) if e["data"].get("method") == "email-otp"]


def _sent_envelope(runtime: Runtime, server: BackgroundServer) -> tuple[DemoDriver, dict]:
    _, cid, secret = new_client(runtime, "t1")
    driver = DemoDriver(server.url, cid, secret, timeout=20)
    return driver, driver.create_envelope(DemoPeople())


def test_wrong_otp_past_the_limit_locks_the_session(
    runtime: Runtime, server: BackgroundServer
) -> None:
    driver, env = _sent_envelope(runtime, server)
    people = DemoPeople()
    link = driver.wait_mail(people.first_email, LINK)
    with httpx.Client(follow_redirects=True) as browser:
        browser.post(link)
        code = driver.wait_mail(people.first_email, CODE)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        limit = runtime.settings.otp_max_attempts
        for attempt in range(1, limit + 1):
            r = browser.post(f"{server.url}/s/otp", data={"code": wrong})
            expected = 400 if attempt < limit else 403
            assert r.status_code == expected, attempt
        # the right code no longer helps, and nothing can be signed
        r = browser.post(f"{server.url}/s/otp", data={"code": code})
        assert r.status_code == 403
        assert "not valid" in r.text
        assert code not in r.text
        r = browser.post(f"{server.url}/s/sign", data={"signature_text": "Ada"})
        assert r.status_code == 403
    assert len(_email_otp(runtime, "signer:auth:failed")) == limit
    assert len(events(runtime, "signer:otp:locked")) == 1
    assert _email_otp(runtime, "signer:auth:passed") == []
    assert events(runtime, "signer:session:refused")
    state = driver.api.get(
        f"/v1/envelopes/{env['id']}", headers={"Authorization": f"Bearer {driver.token()}"}
    ).json()
    assert [r["status"] for r in state["recipients"]] == ["notified", "created"]
    driver.close()


def test_reused_and_expired_links_are_refused(
    runtime: Runtime, server: BackgroundServer, clock
) -> None:  # type: ignore[no-untyped-def]
    driver, env = _sent_envelope(runtime, server)
    link = driver.wait_mail(DemoPeople().first_email, LINK)
    with httpx.Client(follow_redirects=True) as browser:
        assert browser.post(link).status_code == 200
    with httpx.Client(follow_redirects=True) as other:
        r = other.post(link)
        assert r.status_code == 403
        assert re.search("not valid", r.text)
        assert other.get(link).status_code == 403
    reasons = [e["data"]["reason"] for e in events(runtime, "signer:link:refused")]
    assert reasons == ["link already used", "link already used"]

    driver2, env2 = (
        driver,
        driver.create_envelope(
            DemoPeople(first_email="x@example.com", second_email="y@example.com")
        ),
    )
    link2 = driver2.wait_mail("x@example.com", LINK)
    clock.advance(runtime.settings.signing_link_ttl + 1)
    with httpx.Client(follow_redirects=True) as browser:
        assert browser.post(link2).status_code == 403
    reasons = [e["data"]["reason"] for e in events(runtime, "signer:link:refused")]
    assert reasons[-1] == "link expired"
    assert events(runtime, "signer:link:opened")[-1]["envelope"] == env["id"]
    assert env2["id"] != env["id"]
    driver.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_openapi_and_public_documents(runtime: Runtime, server: BackgroundServer) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/v1/envelopes/{envelope_id}/evidence" in spec["paths"]
    assert "/oauth/token" in spec["paths"]
    jwks = httpx.get(f"{server.url}/.well-known/jwks.json").json()
    assert {k["alg"] for k in jwks["keys"]} == {"Ed25519"}
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    trust = httpx.get(f"{server.url}/.well-known/sealwright-trust.json").json()
    assert trust["format"] == "sealwright-trust/1"
    assert "PRIVATE" not in json.dumps(trust)
    note = httpx.get(f"{server.url}/v1/log/checkpoint").text
    assert note.startswith(runtime.settings.log_origin + "\n")
    assert "\n\n\u2014 " in note
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cross_origin_posts_to_signer_pages_are_refused(
    runtime: Runtime, server: BackgroundServer
) -> None:
    driver, _env = _sent_envelope(runtime, server)
    link = driver.wait_mail(DemoPeople().first_email, LINK)
    evil = {"Origin": "https://attacker.example"}
    r = httpx.post(link, headers=evil)
    assert r.status_code == 403
    # the link was not used up by the forged request: the real signer can still open it
    with httpx.Client(follow_redirects=True) as browser:
        assert browser.post(link, headers={"Origin": server.url}).status_code == 200
        code = driver.wait_mail(DemoPeople().first_email, CODE)
        forged = browser.post(f"{server.url}/s/otp", data={"code": code}, headers=evil)
        assert forged.status_code == 403
        assert _email_otp(runtime, "signer:auth:passed") == []
        assert browser.post(f"{server.url}/s/otp", data={"code": code}).status_code == 200
    assert len(_email_otp(runtime, "signer:auth:passed")) == 1
    denied = [e["data"] for e in events(runtime, "api:access:denied")]
    assert [d["path"] for d in denied] == ["/sign/<redacted>", "/s/otp"]
    assert all("attacker.example" in d["reason"] for d in denied)
    driver.close()
