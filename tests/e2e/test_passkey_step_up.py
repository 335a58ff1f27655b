"""Step-up with a passkey in a real browser (issue 4's acceptance: "A Playwright test in
Chromium registers a passkey (Chromium's virtual authenticator) and uses it for step-up
before signing"). Debian's Chromium, headless; the authenticator is the DevTools WebAuthn
domain's virtual one (CTAP2, internal, resident keys, user verification), driven by the
page's own static/passkey.js through ``navigator.credentials``.

The signer passes the emailed code, creates a passkey, consents, reviews; the server's
clock then moves past the envelope's maximum authentication age, so "sign" shows the
"verify again" page; the passkey renews the verification and the signature goes through,
recording the passkey's (post-move) verification time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sealwright.cli.demo_driver import CODE, LINK, DemoDriver
from sealwright.clock import OffsetClock, parse_rfc3339
from sealwright.config import Settings
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer, free_port
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import SIGNER, create_envelope

pytestmark = pytest.mark.e2e

MAX_AGE = 60


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """``localhost``, not 127.0.0.1: Chromium refuses an IP address as a WebAuthn RP id."""
    port = free_port()
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mail_mode="capture",
        port=port,
        public_url=f"http://localhost:{port}",
    )


def _press_passkey_button(page, button: str, then: str) -> None:  # type: ignore[no-untyped-def]
    page.click(button)
    try:
        page.wait_for_url(then, timeout=20_000)
    except Exception:
        shown = page.locator("#passkey-error").is_visible()
        raise AssertionError(f"passkey step failed (error shown: {shown}): {page.url}") from None


def test_passkey_registered_in_chromium_renews_a_stale_verification(
    runtime: Runtime,
    server: BackgroundServer,
    clock: OffsetClock,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    env = create_envelope(driver, auth={"auth_methods": ["email-otp", "passkey"]}, max_age=MAX_AGE)
    base = runtime.settings.public_url
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]

    link = driver.wait_mail(SIGNER, LINK)
    assert link.startswith(base)
    page.goto(link)
    page.click("#continue")
    page.wait_for_url(f"{base}/s/verify")  # two methods: the list
    page.click("#method-email-otp")
    page.wait_for_url(f"{base}/s/otp")
    page.fill("#code", driver.wait_mail(SIGNER, CODE))
    page.click("#verify")
    page.wait_for_url(f"{base}/s/passkey")  # the one left: create a passkey
    _press_passkey_button(page, "#passkey-create", f"{base}/s/consent")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    page.check("#agree")
    page.click("#consent")
    page.wait_for_url(f"{base}/s/review")
    page.fill("#signature_text", "Ada Lovelace")

    clock.advance(MAX_AGE + 60)  # every verification is now too old to sign with
    moved_at = clock.now()
    page.click("#sign")
    page.wait_for_load_state()
    assert "Verify again to sign" in page.content()
    assert events(runtime, "signer:recipient:signed") == []
    assert len(events(runtime, "signer:step-up:required")) == 1
    page.click("#step-up-passkey")
    page.wait_for_url(f"{base}/s/passkey")
    _press_passkey_button(page, "#passkey-use", f"{base}/s/review")
    page.fill("#signature_text", "Ada Lovelace")
    page.click("#sign")
    page.wait_for_url(f"{base}/s/done")
    assert "you have signed" in page.content()
    context.close()

    sealed = driver.wait_sealed(env["id"])
    assert sealed["status"] == "completed"
    signed = events(runtime, "signer:recipient:signed")[0]["data"]
    assert signed["max_auth_age_seconds"] == MAX_AGE
    listed = {a["method"]: a for a in signed["authentication"]}
    assert list(listed) == ["email-otp", "passkey"]
    # the passkey's is the step-up, after the clock moved; the email code's is the old one
    assert parse_rfc3339(listed["passkey"]["at"]) >= moved_at - timedelta(seconds=1)
    assert listed["passkey"]["age_seconds"] <= MAX_AGE
    assert parse_rfc3339(listed["email-otp"]["at"]) < moved_at - timedelta(seconds=MAX_AGE)
    passkey_passes = [
        p["data"] for p in events(runtime, "signer:auth:passed") if p["data"]["method"] == "passkey"
    ]
    assert [p.get("registered", False) for p in passkey_passes] == [True, False]
    assert all(p["user_verified"] for p in passkey_passes)
    assert len(events(runtime, "signer:passkey:registered")) == 1
    driver.close()
