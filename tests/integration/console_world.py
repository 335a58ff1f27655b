"""What the console tests share: a real OIDC provider registered for the console, operators
added through the service, and a browser (an httpx client with a cookie jar) that signs
in through SSO and a second factor exactly as a person would."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from sealwright.identity import totp
from sealwright.identity.roles import Role
from sealwright.services.admin import create_client, tenant_by_name
from sealwright.services.operators import add_operator
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Envelope
from sealwright.web.server import BackgroundServer
from tests.support.oidc import RegisteredClient, RunningProvider, login_redirect

CLIENT_ID = "sealwright-console"
ACCOUNTS = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Owner"},
    "sam": {"email": "sam@example.com", "email_verified": True, "name": "Sam Sender"},
    "rita": {"email": "rita@example.com", "email_verified": True, "name": "Rita Reviewer"},
    "audrey": {"email": "audrey@example.com", "email_verified": True, "name": "Audrey Auditor"},
    "mallory": {"email": "alice@example.com", "email_verified": True, "name": "Not Alice"},
}
ROLE_ACCOUNT = {
    Role.OWNER: "alice",
    Role.SENDER: "sam",
    Role.REVIEWER: "rita",
    Role.AUDITOR: "audrey",
}

_CSRF = re.compile(r'data-csrf="([^"]*)"')
_SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def start_idp(rt: Runtime, factory: Callable[..., RunningProvider]) -> RunningProvider:
    """A provider that knows the console as a client, and the console configured for it."""
    redirect = rt.settings.public_url + "/console/callback"
    idp = factory(
        clients=[RegisteredClient.new(CLIENT_ID, redirect_uri=redirect)], accounts=ACCOUNTS
    )
    client = idp.clients[CLIENT_ID]
    rt.settings.console_oidc_issuer = idp.issuer
    rt.settings.console_oidc_client_id = client.client_id
    rt.settings.console_oidc_client_secret = SecretStr(client.client_secret)
    return idp


def add(rt: Runtime, tenant: str, account: str, *roles: Role, issuer: str) -> str:
    with rt.db.transaction() as db:
        operator = add_operator(
            rt,
            db,
            tenant_by_name(db, tenant),
            email=str(ACCOUNTS[account]["email"]),
            issuer=issuer,
            subject=account,
            roles=frozenset(roles),
            display_name=str(ACCOUNTS[account]["name"]),
        )
        return operator.id


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "page carries no CSRF token"
    assert found.group(1), "page carries an empty CSRF token"
    return unescape(found.group(1))


@dataclass
class Browser:
    """One person's browser: a cookie jar shared by the console and the provider."""

    server: BackgroundServer
    rt: Runtime
    http: httpx.Client = field(init=False)
    totp_secret: str | None = None
    #: The TOTP step of the last code this browser's owner typed.
    used_step: int | None = None
    last_page: str = ""

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.server.url, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kw: Any) -> httpx.Response:
        r = self.http.get(path, **kw)
        if r.status_code == 200 and "text/html" in r.headers.get("content-type", ""):
            self.last_page = r.text
        return r

    def post(self, path: str, *, csrf: bool = True, **kw: Any) -> httpx.Response:
        data = dict(kw.pop("data", {}))
        if csrf:
            data["csrf"] = csrf_of(self.last_page)
        r = self.http.post(path, data=data, **kw)
        if r.status_code in (200, 400) and "text/html" in r.headers.get("content-type", ""):
            self.last_page = r.text
        return r

    def post_json(self, path: str, body: str = "{}") -> httpx.Response:
        """What /static/console.js sends: JSON, the CSRF token in a header."""
        return self.http.post(
            path,
            content=body.encode(),
            headers={"Content-Type": "application/json", "X-CSRF-Token": csrf_of(self.last_page)},
        )

    def sso(self, account: str) -> httpx.Response:
        """Sign in at the provider; returns the console's answer to the callback."""
        start = self.get("/console/login/start")
        assert start.status_code == 303, start.text
        params = login_redirect(self.http, start.headers["location"], account)
        return self.get("/console/callback", params=params)

    def enrol_totp(self) -> httpx.Response:
        page = self.get("/console/second-factor")
        assert page.status_code == 200, page.text
        assert "enrol-totp" in page.text, page.text
        shown = self.post("/console/factor/totp")
        assert shown.status_code == 200, shown.text
        found = _SECRET.search(shown.text)
        assert found is not None
        self.totp_secret = found.group(1)
        return self.post("/console/factor/totp/confirm", data={"code": self.next_code()})

    def next_code(self) -> str:
        """A code the server has not seen: the current step's, or the one after the last
        used (still inside the server's one-step window)."""
        assert self.totp_secret is not None
        step = totp.current_step(self.rt.clock.now())
        if self.used_step is not None and step <= self.used_step:
            step = self.used_step + 1
        self.used_step = step
        return totp.code_at(self.totp_secret, step)

    def sign_in(self, account: str) -> None:
        """SSO, then a TOTP enrolment (first time) or a TOTP code; ends on the home page."""
        assert self.sso(account).status_code == 200
        page = self.get("/console/second-factor")
        if "enrol-totp" in page.text:
            done = self.enrol_totp()
        else:
            done = self.post("/console/verify/totp", data={"code": self.next_code()})
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/console"
        home = self.get("/console")
        assert home.status_code == 200, home.text


@pytest.fixture
def browsers(server: BackgroundServer, runtime: Runtime) -> Iterator[Callable[[], Browser]]:
    made: list[Browser] = []

    def new() -> Browser:
        made.append(Browser(server, runtime))
        return made[-1]

    yield new
    for b in made:
        b.close()


def draft(rt: Runtime, base_url: str, tenant: str) -> str:
    """A draft envelope in ``tenant``, made through the REST API by a client of its own."""
    with rt.db.transaction() as db:
        client, secret = create_client(rt, db, tenant_by_name(db, tenant), "drafts")
    token = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.id, secret),
    ).json()["access_token"]
    r = httpx.post(
        f"{base_url}/v1/envelopes",
        headers={"Authorization": f"Bearer {token}"},
        json={"title": "Console draft", "recipients": [{"name": "A", "email": "a@example.com"}]},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def status_of(rt: Runtime, envelope: str) -> str:
    with rt.db.transaction() as db:
        env = db.get(Envelope, envelope)
        assert env is not None
        return env.status
