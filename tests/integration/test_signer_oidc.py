"""The ``oidc`` signer method against a real OpenID Connect provider (panva/oidc-provider,
started on loopback by tests/support/oidc.py), over real HTTP on SQLite and PostgreSQL:
the signer goes through the provider's own login pages and comes back; only a *verified*
email claim equal to the recipient's address passes. Another account, an unverified
address, a replayed or crossed-over answer all get the one opaque page, with the reason
in the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from sealwright.cli.demo_driver import DemoDriver
from sealwright.config import Settings
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer, free_port
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import SIGNER, create_envelope, email_code, open_link, sign
from tests.support.oidc import RegisteredClient, RunningProvider, login_redirect, oidc_providers

CLIENT = "sealwright-signers"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada": {"email": SIGNER, "email_verified": True, "name": "Ada Lovelace"},
    "eve": {"email": "eve@example.com", "email_verified": True, "name": "Eve"},
    "ada-unverified": {"email": SIGNER, "email_verified": False, "name": "Ada?"},
}
MISMATCH = "verified email claim is not the recipient's"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def idp(port: int) -> Iterator[RunningProvider]:
    """The provider, with Sealwright registered as a client at this test's server."""
    redirect = f"http://127.0.0.1:{port}/s/oidc/callback"
    with oidc_providers() as start:
        yield start(
            clients=[RegisteredClient.new(CLIENT, redirect_uri=redirect)], accounts=ACCOUNTS
        )


@pytest.fixture
def settings(tmp_path: Path, database_url: str, port: int, idp: RunningProvider) -> Settings:
    client = idp.clients[CLIENT]
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mail_mode="capture",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        signer_oidc_issuer=idp.issuer,
        signer_oidc_client_id=client.client_id,
        signer_oidc_client_secret=client.client_secret,
    )


def _driver(runtime: Runtime, server: BackgroundServer) -> DemoDriver:
    _, cid, secret = new_client(runtime, "acme")
    return DemoDriver(server.url, cid, secret, timeout=30)


def _provider_answer(browser: httpx.Client, base: str, account: str) -> dict[str, str]:
    """Press "continue to sign in", log in at the provider as ``account`` (its own pages, a
    browser of its own), and return what the provider sends back to our callback."""
    r = browser.post(f"{base}/s/oidc/start", follow_redirects=False)
    assert r.status_code == 303, r.text
    auth_url = r.headers["location"]
    assert "prompt=login" in auth_url  # a fresh login, not a silent SSO
    with httpx.Client(timeout=30) as at_provider:
        return login_redirect(at_provider, auth_url, account)


def _come_back(browser: httpx.Client, base: str, answer: dict[str, str]) -> httpx.Response:
    """The redirect lands on our callback page, which posts the answer on from our origin."""
    page = browser.get(f"{base}/s/oidc/callback", params=answer)
    assert 'id="oidc-return"' in page.text
    fields = {k: answer.get(k, "") for k in ("code", "state", "iss")}
    return browser.post(f"{base}/s/oidc/finish", data=fields)


def _denied_page(base: str) -> str:
    with httpx.Client() as stranger:
        r = stranger.get(f"{base}/s/review", headers={"Cookie": "sw_signer=unknown"})
        assert r.status_code == 403
        return r.text


def test_verified_email_of_the_recipient_passes_and_signs(
    runtime: Runtime, server: BackgroundServer, idp: RunningProvider
) -> None:
    driver = _driver(runtime, server)
    env = create_envelope(driver, auth={"auth_methods": ["email-otp", "oidc"]})
    browser, r = open_link(driver)
    base = server.url
    with closing(browser):
        assert r.url.path == "/s/verify"
        r = browser.post(f"{base}/s/otp", data={"code": email_code(driver)})
        assert r.url.path == "/s/oidc"
        assert "a***@example.com" in r.text
        answer = _provider_answer(browser, base, "ada")
        assert answer["iss"] == idp.issuer
        r = _come_back(browser, base, answer)
        assert r.url.path == "/s/consent", r.text[:300]
        # the same answer again: the login it belonged to is spent
        again = browser.post(
            f"{base}/s/oidc/finish",
            data={k: answer[k] for k in ("code", "state", "iss")},
        )
        assert again.status_code == 403
        assert again.text == _denied_page(base)
        browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
        r = sign(browser, base)
        assert "you have signed" in r.text
    assert driver.wait_sealed(env["id"])["status"] == "completed"
    [passed] = [
        p["data"] for p in events(runtime, "signer:auth:passed") if p["data"]["method"] == "oidc"
    ]
    assert passed["issuer"] == idp.issuer
    assert len(passed["subject"]) == 32
    assert passed["subject"] != "ada"
    assert int(passed["auth_time"]) > 0
    signed = events(runtime, "signer:recipient:signed")[0]["data"]
    assert [a["method"] for a in signed["authentication"]] == ["email-otp", "oidc"]
    [failed] = events(runtime, "signer:auth:failed")
    assert failed["data"]["method"] == "oidc"
    assert failed["data"]["reason"] == "no login under way, or it expired"
    ledger = json.dumps(events(runtime))
    assert answer["code"] not in ledger
    assert answer["state"] not in ledger
    assert '"ada"' not in ledger
    driver.close()


@pytest.mark.parametrize("account", ["eve", "ada-unverified"])
def test_another_account_or_an_unverified_address_is_refused(
    runtime: Runtime, server: BackgroundServer, idp: RunningProvider, account: str
) -> None:
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"auth_methods": ["oidc"]})
    browser, r = open_link(driver)
    base = server.url
    with closing(browser):
        assert r.url.path == "/s/oidc"  # the only method: straight to it
        r = _come_back(browser, base, _provider_answer(browser, base, account))
        assert r.status_code == 403
        assert r.text == _denied_page(base)  # one opaque answer
        assert browser.get(f"{base}/s/review").status_code == 403
        assert browser.post(f"{base}/s/consent", data={"agree": "yes"}).status_code == 403
    assert [p["data"]["method"] for p in events(runtime, "signer:auth:passed")] == []
    [failed] = events(runtime, "signer:auth:failed")
    assert failed["data"]["method"] == "oidc"
    assert failed["data"]["reason"] == MISMATCH
    assert failed["data"]["issuer"] == idp.issuer
    ledger = json.dumps(events(runtime))
    assert "eve@example.com" not in ledger
    assert SIGNER not in ledger
    driver.close()


def test_an_answer_from_an_earlier_login_is_refused(
    runtime: Runtime, server: BackgroundServer, idp: RunningProvider
) -> None:
    """Two logins started; the answer to the first arrives after the second began: only the
    newest login can be finished, and its state is not the first one's."""
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"auth_methods": ["oidc"]})
    browser, _ = open_link(driver)
    base = server.url
    with closing(browser):
        first = _provider_answer(browser, base, "ada")
        second = _provider_answer(browser, base, "ada")
        r = _come_back(browser, base, first)
        assert r.status_code == 403
        # the refusal spent the second login too: it cannot be finished either
        r = _come_back(browser, base, second)
        assert r.status_code == 403
        # a fresh login still works
        r = _come_back(browser, base, _provider_answer(browser, base, "ada"))
        assert r.url.path == "/s/consent"
    reasons = [f["data"]["reason"] for f in events(runtime, "signer:auth:failed")]
    assert reasons == ["state mismatch", "no login under way, or it expired"]
    assert [p["data"]["method"] for p in events(runtime, "signer:auth:passed")] == ["oidc"]
    driver.close()
