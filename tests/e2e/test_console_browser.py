"""The operator console in a real browser (Debian's Chromium through Playwright): SSO at the
local OIDC provider's own pages, a passkey registered with Chromium's virtual authenticator
(DevTools WebAuthn domain) through /static/console.js, then a second sign-in with it.

This is also the check that the cookie design holds in a browser: the provider's redirect
back is cross-site, the sign-in binding cookie is SameSite=Lax and the session cookie
Strict, and the session still arrives at the second-factor page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sealwright.config import Settings
from sealwright.identity.roles import Role
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer, free_port
from tests.integration.console_world import add, start_idp
from tests.integration.helpers import events, new_client
from tests.support.oidc import RunningProvider, oidc_provider_factory

__all__ = ["oidc_provider_factory"]

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """``localhost``, not 127.0.0.1: browsers refuse WebAuthn for an IP address."""
    port = free_port()
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mail_mode="capture",
        port=port,
        public_url=f"http://localhost:{port}",
    )


def _sso(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in at the provider's own pages; a second time the provider remembers the user
    and sends the browser straight back."""
    page.goto(f"{base}/console/login")
    page.click("#sso")
    for _ in range(3):
        page.wait_for_load_state()
        if page.url.startswith(base):
            break
        if page.locator("input[name=login]").count():
            page.fill("input[name=login]", "alice")
            page.fill("input[name=password]", "any")
        page.click("button[type=submit]")  # the login form, then the consent form
    page.wait_for_url(f"{base}/console/second-factor")


def test_sso_and_a_passkey_in_chromium(
    runtime: Runtime,
    server: BackgroundServer,
    browser,  # type: ignore[no-untyped-def]
    oidc_provider_factory: Callable[..., RunningProvider],
) -> None:
    idp = start_idp(runtime, oidc_provider_factory)
    new_client(runtime, "acme")
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    base = runtime.settings.public_url
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
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
    )

    _sso(page, base)
    page.click("#enrol-passkey")
    page.wait_for_url(f"{base}/console")
    assert "Welcome" in page.content()
    page.click("#sign-out")
    page.wait_for_url(f"{base}/console/login")

    _sso(page, base)
    page.click("#verify-passkey")
    page.wait_for_url(f"{base}/console")
    page.goto(f"{base}/console/operators")
    assert page.locator("#operators").count() == 1
    assert [e["data"]["method"] for e in events(runtime, "console:factor:passed")] == [
        "passkey",
        "passkey",
    ]
    context.close()
