"""OAuth 2.0 client-credentials token endpoint (RFC 6749 §4.4), JWKS, trust file.

The public log head moved to ``web/ledger_api.py`` with the rest of the ledger API."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from sealwright.domain.events import EventTag
from sealwright.identity.scopes import parse_scopes
from sealwright.identity.secrets import dummy_hash, verify_secret
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ApiClient
from sealwright.web.auth import UNATTRIBUTED, request_htu, runtime
from sealwright.web.schemas import TokenResponse

router = APIRouter(tags=["auth"])


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="sealwright"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


@router.post("/oauth/token", response_model=TokenResponse)
def token(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    grant_type: Annotated[str, Form()],
    scope: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    basic = _basic_credentials(request)
    if basic is not None:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        return _oauth_error(401, "invalid_client", "client authentication failed")
    issued_body: TokenResponse | None = None
    with rt.db.transaction() as session:
        client = session.get(ApiClient, client_id)
        # Always run the KDF, so timing does not reveal which client ids exist.
        ok = verify_secret(client_secret, client.secret_hash if client else dummy_hash())
        if client is None or not ok or client.revoked_at is not None:
            reason = (
                "unknown client"
                if client is None
                else "revoked client"
                if client.revoked_at
                else "wrong secret"
            )
            rt.audit.append(
                session,
                EventTag.TOKEN_REFUSED,
                tenant=client.tenant_id if client else UNATTRIBUTED,
                actor="anonymous",
                data={"client": client_id[:64], "reason": reason},
            )
        else:
            allowed = parse_scopes(client.scopes)
            try:
                wanted = parse_scopes(scope) if scope else allowed
            except ValueError:
                wanted = frozenset()
            if not wanted or not wanted <= allowed:
                rt.audit.append(
                    session,
                    EventTag.TOKEN_REFUSED,
                    tenant=client.tenant_id,
                    actor=f"client:{client.id}",
                    data={"client": client.id, "reason": "scope not granted"},
                )
                return _oauth_error(400, "invalid_scope", "requested scope is not granted")
            jkt: str | None = None
            proofs = request.headers.getlist("dpop")
            if proofs:  # RFC 9449 §5: the client opts in by sending a proof
                proof, reason = (
                    rt.dpop.check(proofs[0], method=request.method, url=request_htu(rt, request))
                    if len(proofs) == 1
                    else (None, "several dpop proofs")
                )
                if proof is None:
                    rt.audit.append(
                        session,
                        EventTag.TOKEN_REFUSED,
                        tenant=client.tenant_id,
                        actor=f"client:{client.id}",
                        data={"client": client.id, "reason": reason},
                    )
                    return _oauth_error(400, "invalid_dpop_proof", "the DPoP proof is invalid")
                jkt = proof.jkt
            compact, issued = rt.tokens.issue(
                client_id=client.id, tenant_id=client.tenant_id, scopes=wanted, jkt=jkt
            )
            client.last_used_at = rt.clock.now()
            scope_names = sorted(s.value for s in wanted)
            rt.audit.append(
                session,
                EventTag.TOKEN_ISSUED,
                tenant=client.tenant_id,
                actor=f"client:{client.id}",
                data={
                    "client": client.id,
                    "jti": issued.jti,
                    "scope": scope_names,
                    "expires_at": issued.expires_at,
                    **({"jkt": jkt} if jkt else {}),
                },
            )
            issued_body = TokenResponse(
                access_token=compact,
                expires_in=issued.expires_at - issued.issued_at,
                scope=" ".join(scope_names),
                token_type="DPoP" if jkt else "Bearer",
            )
    if issued_body is None:
        return _oauth_error(401, "invalid_client", "client authentication failed")
    return JSONResponse(issued_body.model_dump(), headers={"Cache-Control": "no-store"})


@router.get("/.well-known/sealwright-trust.json")
def trust(rt: Annotated[Runtime, Depends(runtime)]) -> Response:
    """The public keys and roots an auditor pins (the same as ``sealwright trust export``).
    Fetching it over the network is a convenience: pin it through a channel you trust."""
    from sealwright.services.evidence_export import trust_store

    return Response(trust_store(rt).to_json(), media_type="application/json")


@router.get("/.well-known/jwks.json")
def jwks(rt: Annotated[Runtime, Depends(runtime)]) -> JSONResponse:
    keys = rt.token_keys.public_jwks()["keys"] + rt.evidence_keys.public_jwks()["keys"]
    return JSONResponse({"keys": keys}, headers={"Cache-Control": "public, max-age=300"})
