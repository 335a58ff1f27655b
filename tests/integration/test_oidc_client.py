"""The OIDC relying party against a real provider (panva/oidc-provider on loopback), logging
in through the provider's own pages over HTTP. Attacks are played the way they happen: a
token endpoint answer rewritten in flight, a code or token meant for another client."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from sealwright.clock import OffsetClock
from sealwright.errors import AuthenticationFailed, ConfigurationError
from sealwright.identity.oidc import (
    OidcClient,
    OidcProvider,
    OidcRejected,
    claims_match_recipient,
)
from tests.support.oidc import (
    RegisteredClient,
    RunningProvider,
    login,
    login_redirect,
    oidc_provider,
    oidc_providers,
)

REDIRECT = "http://127.0.0.1:9/oidc/callback"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice"},
    "bob": {"email": "bob@example.com", "email_verified": False, "name": "Bob"},
    "carol": {"email": "carol@example.com", "email_verified": "true", "name": "Carol"},
}
TTL = 300
Factory = Callable[..., RunningProvider]


@pytest.fixture(scope="module")
def idp() -> Iterator[RunningProvider]:
    clients = [
        RegisteredClient.new("rp", redirect_uri=REDIRECT),
        RegisteredClient.new(
            "other",
            redirect_uri=REDIRECT,
            token_endpoint_auth_method="client_secret_post",
            id_token_signed_response_alg="ES256",
        ),
    ]
    with oidc_provider(clients=clients, accounts=ACCOUNTS, id_token_ttl=TTL) as running:
        yield running


@pytest.fixture
def idp_factory() -> Iterator[Factory]:
    with oidc_providers() as start:
        yield start


class Rewriting(httpx.BaseTransport):
    """Real HTTP, with the token endpoint's JSON answer passed through ``rewrite`` (a
    network attacker or a confused provider) and the last one kept for inspection."""

    def __init__(self, rewrite: Any = None) -> None:
        self._inner = httpx.HTTPTransport()
        self.rewrite = rewrite
        self.last_tokens: dict[str, Any] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method != "POST" or not request.url.path.endswith("/token"):
            return response
        response.read()
        body = response.json()
        self.last_tokens = dict(body)
        if self.rewrite is not None and response.status_code == 200:
            body = self.rewrite(body)
        return httpx.Response(response.status_code, json=body)

    def close(self) -> None:
        self._inner.close()


_OPEN: list[OidcClient] = []


@pytest.fixture(autouse=True)
def _close_relying_parties() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def rp_for(idp: RunningProvider, client_id: str = "rp", **kwargs: Any) -> OidcClient:
    rp = OidcClient(idp.provider_for(client_id), **kwargs)
    _OPEN.append(rp)
    return rp


def browser_login(rp: OidcClient, account: str, **begin: Any) -> tuple[Any, str, str]:
    request = rp.begin(**begin)
    with httpx.Client() as browser:
        code, state = login(browser, request.url, account)
    return request, code, state


def expect_rejected(fn: Any, reason: str) -> OidcRejected:
    with pytest.raises(OidcRejected) as info:
        fn()
    assert isinstance(info.value, AuthenticationFailed)
    assert str(info.value) == "authentication failed"  # opaque to the user
    assert info.value.reason == reason
    return info.value


def test_happy_path_returns_verified_claims(idp: RunningProvider, clock: OffsetClock) -> None:
    rp = rp_for(idp, clock=clock)
    request, code, state = browser_login(rp, "alice", login_hint="alice@example.com")
    assert request.url.startswith(f"{idp.issuer}/auth?")
    assert "code_challenge_method=S256" in request.url
    claims = rp.finish(request, code=code, state=state)
    assert claims["sub"] == "alice"
    assert claims["iss"] == idp.issuer
    assert claims["aud"] == "rp"
    assert claims["email"] == "alice@example.com"
    assert claims_match_recipient(claims, email="alice@example.com")
    assert claims_match_recipient(claims, email="alice@EXAMPLE.com")
    # The code is single use at the provider: a replay of the same redirect fails.
    expect_rejected(
        lambda: rp.finish(request, code=code, state=state),
        "token endpoint refused the code: invalid_grant",
    )


def test_client_secret_post_es256_and_rfc9207_iss(idp: RunningProvider) -> None:
    rp = rp_for(idp, "other")
    request = rp.begin()
    with httpx.Client() as browser:
        back = login_redirect(browser, request.url, "alice")
    assert back["iss"] == idp.issuer
    claims = rp.finish(request, code=back["code"], state=back["state"], iss=back["iss"])
    assert claims["aud"] == "other"
    assert claims_match_recipient(claims, email="alice@example.com")


def test_authorization_response_from_another_issuer_is_refused(idp: RunningProvider) -> None:
    rp = rp_for(idp)
    request, code, state = browser_login(rp, "alice")
    expect_rejected(
        lambda: rp.finish(request, code=code, state=state, iss="http://127.0.0.1:1"),
        "authorization response from another issuer",
    )


def test_wrong_state_is_refused_before_the_code_is_spent(idp: RunningProvider) -> None:
    rp = rp_for(idp)
    request, code, state = browser_login(rp, "alice")
    expect_rejected(lambda: rp.finish(request, code=code, state=state + "x"), "state mismatch")
    expect_rejected(lambda: rp.finish(request, code=code, state=""), "state mismatch")
    # Nothing was exchanged: the genuine redirect still completes.
    assert rp.finish(request, code=code, state=state)["sub"] == "alice"


def test_wrong_nonce_is_refused(idp: RunningProvider) -> None:
    rp = rp_for(idp)
    request, code, state = browser_login(rp, "alice")
    other = dataclasses.replace(request, nonce=rp.begin().nonce)
    expect_rejected(lambda: rp.finish(other, code=code, state=state), "id_token nonce mismatch")


def test_code_from_another_login_session_fails_pkce(idp: RunningProvider) -> None:
    """An attacker injecting their own code into the victim's session (the victim's
    request holds a different PKCE verifier): the provider refuses the exchange."""
    rp = rp_for(idp)
    _, attacker_code, _ = browser_login(rp, "bob")
    victim = rp.begin()
    expect_rejected(
        lambda: rp.finish(victim, code=attacker_code, state=victim.state),
        "token endpoint refused the code: invalid_grant",
    )


def test_expired_id_token_is_refused(idp: RunningProvider, clock: OffsetClock) -> None:
    rp = rp_for(idp, clock=clock)
    request, code, state = browser_login(rp, "alice")
    clock.advance(TTL + 31)  # past exp plus the 30 s leeway
    expect_rejected(lambda: rp.finish(request, code=code, state=state), "id_token expired")


def test_id_token_from_the_future_is_refused(idp: RunningProvider, clock: OffsetClock) -> None:
    rp = rp_for(idp, clock=clock)
    request, code, state = browser_login(rp, "alice")
    clock.advance(-120)
    expect_rejected(
        lambda: rp.finish(request, code=code, state=state), "id_token issued in the future"
    )


def test_id_token_for_another_client_is_refused(idp: RunningProvider) -> None:
    # A genuine ID token, issued to client "other" ...
    recorder = Rewriting()
    with httpx.Client(transport=recorder) as http:
        other = rp_for(idp, "other", http=http)
        o_request, o_code, o_state = browser_login(other, "alice")
        other.finish(o_request, code=o_code, state=o_state)
    assert recorder.last_tokens is not None
    foreign = recorder.last_tokens["id_token"]

    # ... substituted into client "rp"'s token response, even with rp's nonce in hand.
    swap = Rewriting(lambda body: {**body, "id_token": foreign})
    with httpx.Client(transport=swap) as http:
        rp = rp_for(idp, http=http)
        request, code, state = browser_login(rp, "alice")
        request = dataclasses.replace(request, nonce=o_request.nonce)
        expect_rejected(
            lambda: rp.finish(request, code=code, state=state),
            "id_token audience is another client",
        )
    # Presented directly, the same token fails the same way.
    expect_rejected(
        lambda: rp_for(idp).verify_id_token(foreign, nonce=o_request.nonce),
        "id_token audience is another client",
    )


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


def test_tampered_id_token_is_refused(idp: RunningProvider) -> None:
    def tamper(body: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = _segments(body["id_token"])
        claims = _unb64(payload)
        claims["email"] = "mallory@example.com"
        return {**body, "id_token": ".".join([header, _b64(claims), signature])}

    with httpx.Client(transport=Rewriting(tamper)) as http:
        rp = rp_for(idp, http=http)
        request, code, state = browser_login(rp, "alice")
        expect_rejected(
            lambda: rp.finish(request, code=code, state=state),
            "id_token signature invalid: BadSignatureError",
        )


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_mac_id_tokens_are_refused(idp: RunningProvider, alg: str) -> None:
    """A token "signed" with nothing, or with the client secret, proves nothing about the
    provider: both are refused whatever they claim."""
    secret = idp.clients["rp"].client_secret

    def forge(body: dict[str, Any]) -> dict[str, Any]:
        claims = _unb64(_segments(body["id_token"])[1])
        if alg == "none":
            forged = f"{_b64({'alg': 'none'})}.{_b64(claims)}."
        else:
            forged = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))
        return {**body, "id_token": forged}

    with httpx.Client(transport=Rewriting(forge)) as http:
        rp = rp_for(idp, http=http)
        request, code, state = browser_login(rp, "alice")
        expect_rejected(
            lambda: rp.finish(request, code=code, state=state), "id_token alg not allowed"
        )


def test_email_mismatch_does_not_match_recipient(idp: RunningProvider) -> None:
    rp = rp_for(idp)
    request, code, state = browser_login(rp, "alice")
    claims = rp.finish(request, code=code, state=state)
    assert not claims_match_recipient(claims, email="alice@example.org")
    assert not claims_match_recipient(claims, email="bob@example.com")
    # The local part is compared exactly (RFC 5321 leaves its case to the mailbox host).
    assert not claims_match_recipient(claims, email="Alice@example.com")
    assert not claims_match_recipient(claims, email="alice@example.com ")
    assert not claims_match_recipient(claims, email="not-an-address")


@pytest.mark.parametrize("account", ["bob", "carol"])
def test_unverified_email_does_not_match(idp: RunningProvider, account: str) -> None:
    """bob: email_verified false; carol: the string "true", which is not the boolean."""
    rp = rp_for(idp)
    request, code, state = browser_login(rp, account)
    claims = rp.finish(request, code=code, state=state)
    assert claims["email"] == ACCOUNTS[account]["email"]
    assert not claims_match_recipient(claims, email=ACCOUNTS[account]["email"])


def test_claims_match_compares_idna_domains() -> None:
    claims = {"email": "anna@xn--bcher-kva.example", "email_verified": True}
    assert claims_match_recipient(claims, email="anna@Bücher.example")
    assert not claims_match_recipient({**claims, "email_verified": 1}, email=claims["email"])
    assert not claims_match_recipient({"email_verified": True}, email="anna@example.com")


def test_max_age_demands_a_recent_login(idp: RunningProvider, clock: OffsetClock) -> None:
    rp = rp_for(idp, clock=clock)
    request, code, state = browser_login(rp, "alice", max_age=60, prompt="login")
    assert isinstance(rp.finish(request, code=code, state=state)["auth_time"], int)

    request, code, state = browser_login(rp, "alice", max_age=60, prompt="login")
    clock.advance(120)
    expect_rejected(
        lambda: rp.finish(request, code=code, state=state),
        "authentication at the provider is older than max_age",
    )


def test_claims_only_at_userinfo_are_fetched_there(idp_factory: Factory) -> None:
    strict = idp_factory(
        clients=[RegisteredClient.new("rp", redirect_uri=REDIRECT)],
        accounts=ACCOUNTS,
        conform_id_token_claims=True,
    )
    rp = rp_for(strict)
    request, code, state = browser_login(rp, "alice")
    claims = rp.finish(request, code=code, state=state)
    assert claims["email"] == "alice@example.com"
    assert claims_match_recipient(claims, email="alice@example.com")


def test_rotated_provider_keys_are_refetched_once(idp_factory: Factory) -> None:
    client = RegisteredClient.new("rp", redirect_uri=REDIRECT)
    first = idp_factory(clients=[client], accounts=ACCOUNTS)
    rp = rp_for(first)
    request, code, state = browser_login(rp, "alice")
    rp.finish(request, code=code, state=state)  # caches discovery and the first JWKS
    port = httpx.URL(first.issuer).port
    first.stop()

    # Same issuer, new signing keys: the cached JWKS no longer has the token's kid.
    idp_factory(clients=[client], accounts=ACCOUNTS, port=port)
    request, code, state = browser_login(rp, "alice")
    assert rp.finish(request, code=code, state=state)["sub"] == "alice"


def test_discovery_for_another_issuer_is_refused(idp: RunningProvider) -> None:
    provider = dataclasses.replace(idp.provider_for("rp"), issuer=idp.issuer + "/")
    with OidcClient(provider) as rp:
        expect_rejected(rp.begin, "discovery issuer mismatch")


def test_unreachable_provider_is_refused() -> None:
    provider = OidcProvider("http://127.0.0.1:1", "rp", "secret", REDIRECT)
    with OidcClient(provider) as rp:
        expect_rejected(rp.begin, "discovery unreachable: ConnectError")


@pytest.mark.parametrize(
    ("issuer", "redirect"),
    [
        ("http://idp.example.com", REDIRECT),
        ("https://idp.example.com", "http://sealwright.example.com/cb"),
        ("ftp://idp.example.com", REDIRECT),
    ],
)
def test_plain_http_only_on_loopback(issuer: str, redirect: str) -> None:
    with pytest.raises(ConfigurationError):
        OidcClient(OidcProvider(issuer, "rp", "secret", redirect))


def test_secrets_stay_out_of_reprs(idp: RunningProvider) -> None:
    rp = rp_for(idp)
    request = rp.begin()
    assert idp.clients["rp"].client_secret not in repr(rp.provider)
    assert request.state not in repr(request)
    assert request.code_verifier not in repr(request)
