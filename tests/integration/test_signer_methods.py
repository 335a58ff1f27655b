"""Signer authentication methods over real HTTP, on SQLite and PostgreSQL: access code,
TOTP (enrolment, use, replay refused), passkeys (the software authenticator), the methods
list, clear errors for bad configurations, one indistinguishable answer for wrong, expired
and unknown codes, and the brute-force and rate limits (B8)."""

from __future__ import annotations

import json
import re
from contextlib import closing

import httpx

from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock
from sealwright.identity import totp
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign
from tests.support.soft_authenticator import SoftAuthenticator

ACCESS_CODE = "blue-harbour-42"


def _driver(runtime: Runtime, server: BackgroundServer) -> DemoDriver:
    _, cid, secret = new_client(runtime, "acme")
    return DemoDriver(server.url, cid, secret, timeout=30)


def _consent_and_sign(browser: httpx.Client, base: str) -> None:
    browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
    r = sign(browser, base)
    assert "you have signed" in r.text, r.text[:300]


def test_access_code_after_email_otp(runtime: Runtime, server: BackgroundServer) -> None:
    driver = _driver(runtime, server)
    env = create_envelope(
        driver, auth={"auth_methods": ["email-otp", "access-code"], "access_code": ACCESS_CODE}
    )
    assert env["recipients"][0]["auth_methods"] == ["email-otp", "access-code"]
    assert ACCESS_CODE not in json.dumps(env)
    browser, r = open_link(driver)
    with closing(browser):
        assert r.url.path == "/s/verify"  # two methods to pass: the list
        assert 'id="method-access-code"' in r.text
        r = browser.post(f"{server.url}/s/otp", data={"code": email_code(driver)})
        assert r.url.path == "/s/access-code"
        wrong = browser.post(f"{server.url}/s/access-code", data={"code": "red-harbour-42"})
        assert wrong.status_code == 400
        assert browser.get(f"{server.url}/s/review").status_code == 403  # not yet
        r = browser.post(f"{server.url}/s/access-code", data={"code": ACCESS_CODE})
        assert r.url.path == "/s/consent"
        _consent_and_sign(browser, server.url)
    failed = events(runtime, "signer:auth:failed")
    assert [(f["data"]["method"], f["data"]["reason"]) for f in failed] == [
        ("access-code", "mismatch")
    ]
    signed = events(runtime, "signer:recipient:signed")[0]["data"]
    assert [a["method"] for a in signed["authentication"]] == ["email-otp", "access-code"]
    ledger = json.dumps(events(runtime))
    assert ACCESS_CODE not in ledger
    assert "red-harbour-42" not in ledger
    driver.close()


def test_totp_enrolment_use_and_replay(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"auth_methods": ["email-otp", "totp"]})
    browser, _ = open_link(driver)
    with closing(browser):
        # enrolment needs another method first: the list, not a QR code
        assert browser.get(f"{server.url}/s/totp/enrol").url.path == "/s/verify"
        r = browser.post(f"{server.url}/s/otp", data={"code": email_code(driver)})
        assert r.url.path == "/s/totp/enrol"
        assert "<svg" in r.text
        assert r.headers["cache-control"] == "no-store"
        match = re.search(r'id="totp-secret">([A-Z2-7]+)<', r.text)
        assert match
        secret = match.group(1)
        code = totp.code_at(secret, totp.current_step(clock.now()))
        r = browser.post(f"{server.url}/s/totp/enrol", data={"code": code})
        assert r.url.path == "/s/consent"
        # the same code again is a replay, refused with the ordinary answer
        again = browser.post(f"{server.url}/s/totp", data={"code": code})
        assert again.status_code == 400
        clock.advance(31)
        fresh = totp.code_at(secret, totp.current_step(clock.now()))
        assert browser.post(f"{server.url}/s/totp", data={"code": fresh}).status_code == 200
        _consent_and_sign(browser, server.url)
    assert len(events(runtime, "signer:totp:enrolled")) == 1
    reasons = [f["data"]["reason"] for f in events(runtime, "signer:auth:failed")]
    assert reasons == ["replayed code"]
    assert secret not in json.dumps(events(runtime))
    driver.close()


def _passkey(
    browser: httpx.Client, base: str, authenticator: SoftAuthenticator, purpose: str
) -> httpx.Response:
    options = browser.post(f"{base}/s/passkey/options", json={"purpose": purpose})
    assert options.status_code == 200, options.text
    opts = options.json()["options"]
    if purpose == "register":
        credential = authenticator.create(opts, origin=base)
        url = f"{base}/s/passkey/register"
    else:
        credential = authenticator.get(opts, origin=base)
        url = f"{base}/s/passkey/verify"
    return browser.post(url, json={"credential": json.loads(credential)})


def test_passkey_registration_and_use(runtime: Runtime, server: BackgroundServer) -> None:
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"auth_methods": ["email-otp", "passkey"]})
    authenticator = SoftAuthenticator()
    browser, _ = open_link(driver)
    with closing(browser):
        # registration before any other method is refused
        early = browser.post(f"{server.url}/s/passkey/options", json={"purpose": "register"})
        assert early.status_code == 401
        browser.post(f"{server.url}/s/otp", data={"code": email_code(driver)})
        r = _passkey(browser, server.url, authenticator, "register")
        assert r.status_code == 200, r.text
        assert r.json()["next"] == "/s/consent"
        # use it; a response replayed against the spent challenge is refused
        r = _passkey(browser, server.url, authenticator, "verify")
        assert r.status_code == 200, r.text
        opts = browser.post(f"{server.url}/s/passkey/options", json={}).json()["options"]
        answer = json.loads(authenticator.get(opts, origin=server.url))
        assert browser.post(
            f"{server.url}/s/passkey/verify", json={"credential": answer}
        ).is_success
        replay = browser.post(f"{server.url}/s/passkey/verify", json={"credential": answer})
        assert replay.status_code == 401
        assert replay.json() == {"error": "not valid"}
        # a phishing origin is refused too
        opts = browser.post(f"{server.url}/s/passkey/options", json={}).json()["options"]
        phished = json.loads(authenticator.get(opts, origin="https://evil.example"))
        r = browser.post(f"{server.url}/s/passkey/verify", json={"credential": phished})
        assert r.status_code == 401
        _consent_and_sign(browser, server.url)
    assert len(events(runtime, "signer:passkey:registered")) == 1
    methods = [p["data"]["method"] for p in events(runtime, "signer:auth:passed")]
    assert methods == ["email-otp", "passkey", "passkey", "passkey"]
    reasons = [f["data"]["reason"] for f in events(runtime, "signer:auth:failed")]
    assert reasons[0] == "passkey registration before any other method was passed"
    assert "no challenge outstanding" in reasons[1]  # the replay
    assert "origin" in reasons[2].lower()  # the phishing page
    driver.close()


def test_bad_method_configurations_are_refused_clearly(
    runtime: Runtime, server: BackgroundServer
) -> None:
    driver = _driver(runtime, server)
    headers = {"Authorization": f"Bearer {driver.token()}"}
    cases = [
        ({"auth_methods": ["carrier-pigeon"]}, "Input should be 'email-otp'"),
        ({"auth_methods": ["totp"]}, "add one of email-otp"),
        ({"auth_methods": ["sms-otp"]}, "needs a phone number"),
        ({"auth_methods": ["email-otp"], "phone": "+447700900123"}, "only used with sms-otp"),
        ({"auth_methods": ["access-code"], "access_code": "abc"}, "6 to 128 characters"),
        ({"auth_methods": ["access-code"]}, "needs the access_code"),
        ({"auth_methods": ["email-otp", "email-otp"]}, "named twice"),
        ({"auth_methods": ["oidc"]}, "oidc is not available"),
    ]
    for auth, message in cases:
        body = {"title": "x", "recipients": [{"name": "A", "email": "a@example.com", **auth}]}
        r = driver.api.post("/v1/envelopes", headers=headers, json=body)
        assert r.status_code == 422, (auth, r.text)
        assert message in json.dumps(r.json()), (auth, r.text)
    too_short = {"title": "x", "recipients": [{"name": "A", "email": "a@example.com"}]}
    r = driver.api.post(
        "/v1/envelopes", headers=headers, json={**too_short, "max_auth_age_seconds": 5}
    )
    assert r.status_code == 422
    assert events(runtime, "api:envelope:created") == []
    driver.close()


def test_wrong_expired_and_unknown_codes_look_the_same(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    driver = _driver(runtime, server)
    create_envelope(driver)
    browser, _ = open_link(driver)
    base = server.url
    with closing(browser):
        code = email_code(driver)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        a = browser.post(f"{base}/s/otp", data={"code": wrong})
        b = browser.post(f"{base}/s/otp", data={"code": "abc"})
        clock.advance(runtime.settings.otp_ttl + 1)
        c = browser.post(f"{base}/s/otp", data={"code": code})  # right, but expired
    assert a.status_code == b.status_code == c.status_code == 400
    assert a.text == b.text == c.text
    reasons = [f["data"]["reason"] for f in events(runtime, "signer:auth:failed")]
    assert reasons == ["mismatch", "mismatch", "expired"]
    driver.close()


def test_recipient_lockout_with_backoff(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    runtime.settings.auth_free_attempts = 2
    runtime.settings.otp_max_attempts = 10
    driver = _driver(runtime, server)
    create_envelope(
        driver, auth={"auth_methods": ["email-otp", "access-code"], "access_code": ACCESS_CODE}
    )
    browser, _ = open_link(driver)
    base = server.url
    with closing(browser):
        browser.post(f"{base}/s/otp", data={"code": email_code(driver)})
        statuses = [
            browser.post(f"{base}/s/access-code", data={"code": "wrong-code-1"}).status_code
            for _ in range(3)
        ]
        assert statuses == [400, 400, 429]  # the 2nd failure started a lock
        locked = browser.post(f"{base}/s/access-code", data={"code": ACCESS_CODE})
        assert locked.status_code == 429  # even the right code waits out the lock
        assert int(locked.headers["retry-after"]) <= runtime.settings.auth_backoff_base
        clock.advance(runtime.settings.auth_backoff_base + 1)
        # one more failure doubles the lock
        assert browser.post(f"{base}/s/access-code", data={"code": "x-wrong-x"}).status_code == 400
        again = browser.post(f"{base}/s/access-code", data={"code": ACCESS_CODE})
        assert again.status_code == 429
        assert int(again.headers["retry-after"]) > runtime.settings.auth_backoff_base
        clock.advance(2 * runtime.settings.auth_backoff_base + 1)
        ok = browser.post(f"{base}/s/access-code", data={"code": ACCESS_CODE})
        assert ok.url.path == "/s/consent"
    throttled = events(runtime, "signer:auth:throttled")
    assert len(throttled) == 2
    assert "wrong-code-1" not in json.dumps(events(runtime))
    driver.close()


def test_link_guessing_locks_the_address_out(runtime: Runtime, server: BackgroundServer) -> None:
    runtime.settings.link_guess_free_attempts = 3
    driver = _driver(runtime, server)
    create_envelope(driver)
    link = driver.wait_mail("ada@example.com", re.compile(r"https?://\S+/sign/[A-Za-z0-9_-]+"))
    with httpx.Client() as guesser:
        statuses = [guesser.post(f"{server.url}/sign/guess{n}").status_code for n in range(4)]
        assert statuses == [403, 403, 403, 429]
        # the real link from the same address waits too (guessing cannot be interleaved)
        assert guesser.post(link).status_code == 429
        forged = {"Cookie": "sw_signer=forged-session-token"}
        assert guesser.get(f"{server.url}/s/review", headers=forged).status_code == 429
    assert len(events(runtime, "signer:auth:throttled")) == 1
    driver.close()


def test_token_endpoint_rate_limit(runtime: Runtime, server: BackgroundServer) -> None:
    runtime.settings.token_rate_limit = 3
    _, cid, secret = new_client(runtime, "acme")
    with httpx.Client(base_url=server.url) as api:
        statuses = [
            api.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
            ).status_code
            for _ in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]
    limited = events(runtime, "api:rate:limited")
    assert len(limited) == 1  # only the first refusal of the window is recorded
    assert limited[0]["data"]["scope"] == "rate:token"


def test_console_sign_in_starts_share_the_per_ip_limit(
    runtime: Runtime, server: BackgroundServer
) -> None:
    """Each /console/login/start writes a pending sign-in; a flood of them is cut off."""
    runtime.settings.signer_rate_limit = 3
    with httpx.Client(base_url=server.url) as web:
        statuses = [web.get("/console/login/start").status_code for _ in range(5)]
    assert 429 not in statuses[:3]
    assert statuses[3:] == [429, 429]
    [limited] = events(runtime, "api:rate:limited")
    assert limited["data"]["path"] == "/console/login/start"


def test_behind_a_trusted_proxy_the_limit_is_per_forwarded_client(
    runtime: Runtime, server: BackgroundServer
) -> None:
    """Behind a configured proxy each client has its own allowance; anyone else's
    X-Forwarded-For is ignored (it cannot buy a fresh allowance per request)."""
    runtime.settings.signer_rate_limit = 2
    with httpx.Client(base_url=server.url) as web:

        def limited(forwarded: str) -> bool:
            r = web.get("/console/login/start", headers={"X-Forwarded-For": forwarded})
            return r.status_code == 429

        # not trusted yet: the header is ignored, every request is the peer's
        assert [limited(f"203.0.113.{n}") for n in range(3)] == [False, False, True]
        runtime.settings.trusted_proxies = ["127.0.0.1/32"]
        assert [limited("198.51.100.7") for _ in range(3)] == [False, False, True]
        assert not limited("198.51.100.8")  # another client behind the same proxy
