"""Helpers for the token tests: get tokens, exchange them, make DPoP proofs, forge tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import OKPKey

from sealwright.clock import FixedClock
from sealwright.identity.dpop import access_token_hash
from sealwright.identity.scopes import Scope
from sealwright.identity.tokens import ALG, TokenService
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_token(
    server: BackgroundServer, client_id: str, secret: str, **form: str
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client_id, secret),
    )


def access_token(server: BackgroundServer, client_id: str, secret: str, **form: str) -> str:
    r = client_token(server, client_id, secret, **form)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def exchange(
    server: BackgroundServer, subject: str, headers: dict[str, str] | None = None, **form: str
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/oauth/token",
        data={
            "grant_type": EXCHANGE,
            "subject_token": subject,
            "subject_token_type": ACCESS,
            **form,
        },
        headers=headers or {},
    )


def child_token(server: BackgroundServer, subject: str, **form: str) -> str:
    r = exchange(server, subject, **form)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def proof(
    rt: Runtime, key: OKPKey, method: str, url: str, token: str | None = None, **extra: Any
) -> str:
    claims: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": int(rt.clock.now().timestamp()),
    }
    if token is not None:
        claims["ath"] = access_token_hash(token)
    claims.update(extra)
    header = {"typ": "dpop+jwt", "alg": "Ed25519", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["Ed25519"])


def claims_of(rt: Runtime, token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, rt.token_keys.joserfc_keyset(), algorithms=[ALG]).claims)


def expired_token(rt: Runtime, client_id: str, tenant_id: str, scopes: frozenset[Scope]) -> str:
    """A token signed by the service's own key that expired a while ago."""
    past = FixedClock(rt.clock.now() - timedelta(seconds=2000))
    service = TokenService(keys=rt.token_keys, clock=past, issuer=rt.settings.public_url, ttl=600)
    return service.issue(client_id=client_id, tenant_id=tenant_id, scopes=scopes)[0]


def signed_by_foreign_key(rt: Runtime, claims: dict[str, Any]) -> str:
    """``claims`` signed by a key that is not in the JWKS (even claiming one of its kids)."""
    kid = rt.token_keys.current_jwk().kid
    key = OKPKey.generate_key("Ed25519", parameters={"kid": kid}, private=True)
    return jwt.encode({"alg": ALG, "kid": kid, "typ": "at+jwt"}, claims, key, algorithms=[ALG])
