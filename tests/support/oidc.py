"""A real OpenID Connect provider for tests: panva/oidc-provider (OpenID Certified, from the
npm registry, pinned in ``oidc_provider/package-lock.json``) run by Node.js on loopback.

Use the context manager or the fixture factory::

    from tests.support.oidc import RegisteredClient, login, oidc_provider_factory

    def test_x(oidc_provider_factory):
        idp = oidc_provider_factory(
            clients=[RegisteredClient.new("console", redirect_uri=f"{server.url}/console/oidc")],
            accounts={"alice": {"email": "alice@example.com", "email_verified": True}},
        )
        rp = OidcClient(idp.provider_for("console"))
        request = rp.begin()
        code, state = login(httpx.Client(), request.url, "alice")
        claims = rp.finish(request, code=code, state=state)

``login`` drives the provider's own (development) login and consent forms over HTTP, like a
browser would, and stops at the redirect back to the relying party: nothing is forged.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest

from sealwright.identity.oidc import OidcProvider

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
_STAMP = PROVIDER_DIR / "node_modules" / ".package-lock.json"


@dataclass(frozen=True)
class RegisteredClient:
    """A client registration at the test provider."""

    client_id: str
    client_secret: str
    redirect_uri: str
    token_endpoint_auth_method: str = "client_secret_basic"
    id_token_signed_response_alg: str = "RS256"

    @classmethod
    def new(cls, client_id: str, *, redirect_uri: str, **kwargs: str) -> RegisteredClient:
        return cls(client_id, secrets.token_urlsafe(24), redirect_uri, **kwargs)


class LoginFailed(Exception):
    """The provider sent the browser back with an OAuth error, or its pages were not the
    ones expected."""


@dataclass
class RunningProvider:
    issuer: str
    clients: dict[str, RegisteredClient]
    process: subprocess.Popen[bytes]
    log: Path

    def provider_for(self, client_id: str, **kwargs: Any) -> OidcProvider:
        """The relying-party settings Sealwright needs for one of this provider's clients."""
        c = self.clients[client_id]
        return OidcProvider(
            issuer=self.issuer,
            client_id=c.client_id,
            client_secret=c.client_secret,
            redirect_uri=c.redirect_uri,
            **kwargs,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the provider exits when stdin closes
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("Node.js is needed for the OIDC provider tests: run scripts/test.sh once")
    return path


def ensure_installed() -> None:
    """``npm ci`` when node_modules is missing or older than the lock file (scripts/test.sh
    does the same up front; this keeps a plain ``pytest`` run working on a dev machine)."""
    lock = PROVIDER_DIR / "package-lock.json"
    if _STAMP.exists() and _STAMP.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to install the test OIDC provider: run scripts/test.sh once")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=PROVIDER_DIR,
        check=True,
        timeout=600,
    )


@contextmanager
def oidc_provider(
    *,
    clients: Sequence[RegisteredClient],
    accounts: Mapping[str, Mapping[str, Any]],
    id_token_ttl: int = 600,
    conform_id_token_claims: bool = False,
    port: int = 0,
    timeout: float = 30.0,
) -> Iterator[RunningProvider]:
    """Start the provider on 127.0.0.1 (``port`` 0: any free one), wait until its discovery
    document answers, yield it, then stop it and remove its files."""
    ensure_installed()
    config = {
        "port": port,
        "clients": [
            {
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "redirect_uris": [c.redirect_uri],
                "token_endpoint_auth_method": c.token_endpoint_auth_method,
                "id_token_signed_response_alg": c.id_token_signed_response_alg,
            }
            for c in clients
        ],
        "accounts": {k: dict(v) for k, v in accounts.items()},
        "id_token_ttl": id_token_ttl,
        "conform_id_token_claims": conform_id_token_claims,
    }
    with tempfile.TemporaryDirectory(prefix="sw-oidc-") as tmp:
        cfg = Path(tmp) / "config.json"
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        log = Path(tmp) / "provider.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [node(), str(PROVIDER_DIR / "provider.mjs"), str(cfg)],
                cwd=PROVIDER_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
            )
        running = RunningProvider(
            issuer=_read_issuer(proc, log, timeout),
            clients={c.client_id: c for c in clients},
            process=proc,
            log=log,
        )
        try:
            _wait_for_discovery(running, timeout)
            yield running
        finally:
            running.stop()


def _read_issuer(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            proc.kill()
            raise RuntimeError(f"OIDC provider did not start: {log.read_text()}")
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=5)
        raise RuntimeError(f"OIDC provider exited: {log.read_text()}")
    issuer: str = json.loads(line)["issuer"]
    return issuer


def _wait_for_discovery(running: RunningProvider, timeout: float) -> None:
    url = f"{running.issuer}/.well-known/openid-configuration"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or running.process.poll() is not None:
            raise RuntimeError(f"OIDC discovery never answered: {running.log.read_text()}")
        time.sleep(0.1)


@contextmanager
def oidc_providers() -> Iterator[Callable[..., RunningProvider]]:
    """A factory taking ``oidc_provider``'s arguments; every provider it started is stopped
    when the block ends."""
    with ExitStack() as stack:

        def start(**kwargs: Any) -> RunningProvider:
            return stack.enter_context(oidc_provider(**kwargs))

        yield start


@pytest.fixture
def oidc_provider_factory() -> Iterator[Callable[..., RunningProvider]]:
    """``oidc_providers`` as a fixture: import it into a test module (or a conftest)."""
    with oidc_providers() as start:
        yield start


_FORM = re.compile(r'<form[^>]*\baction="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.S)


def login_redirect(
    http: httpx.Client, auth_url: str, account_id: str, *, password: str = "any"
) -> dict[str, str]:
    """Follow the authorization URL through the provider's login and consent pages (a
    fresh ``http`` client is a fresh browser) until the provider redirects away from
    itself; return the query parameters of that redirect (``code``, ``state``, ``iss``)."""
    origin = _origin(auth_url)
    url, steps = auth_url, 0
    response = http.get(url, follow_redirects=False)
    while True:
        steps += 1
        if steps > 20:
            raise LoginFailed("too many steps")
        if response.is_redirect:
            url = urljoin(url, response.headers["location"])
            if _origin(url) != origin:
                params = dict(parse_qsl(urlsplit(url).query))
                if "error" in params:
                    raise LoginFailed(params["error"])
                return params
            response = http.get(url, follow_redirects=False)
            continue
        if response.status_code != 200:
            raise LoginFailed(f"provider answered HTTP {response.status_code}")
        form = _FORM.search(response.text)
        if form is None:
            raise LoginFailed("provider page has no form")
        fields = {name: unescape(value) for name, value in _HIDDEN.findall(form.group(2))}
        if fields.get("prompt") == "login":
            fields.update(login=account_id, password=password)
        url = urljoin(url, unescape(form.group(1)))
        response = http.post(url, data=fields, follow_redirects=False)


def login(http: httpx.Client, auth_url: str, account_id: str) -> tuple[str, str]:
    """(code, state) as they come back to the redirect URI."""
    params = login_redirect(http, auth_url, account_id)
    return params["code"], params["state"]


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
