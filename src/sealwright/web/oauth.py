"""OAuth 2.0 token endpoint: client credentials (RFC 6749 §4.4) and token exchange for
attenuation (RFC 8693, ``web/token_exchange.py``); JWKS and the trust file.

The public log head moved to ``web/ledger_api.py`` with the rest of the ledger API."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.identity.scopes import AUDIENCES, audiences_for, parse_folders, parse_scopes
from sealwright.identity.secrets import dummy_hash, verify_secret
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ApiClient
from sealwright.web.auth import UNATTRIBUTED, client_usage, request_htu, runtime
from sealwright.web.schemas import TokenResponse
from sealwright.web.token_exchange import EXCHANGE_GRANT, ExchangeForm, exchange

router = APIRouter(tags=["auth"])


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
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
async def token(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    grant_type: Annotated[str, Form()],
    scope: Annotated[str | None, Form()] = None,
    audience: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    subject_token: Annotated[str | None, Form()] = None,
    subject_token_type: Annotated[str | None, Form()] = None,
    folders: Annotated[str | None, Form()] = None,
    envelopes: Annotated[str | None, Form()] = None,
    recipient: Annotated[str | None, Form()] = None,
    expires_in: Annotated[str | None, Form()] = None,
    single_use: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """``client_credentials``: authenticate the client (HTTP Basic or form), issue a token
    for (a subset of) its scopes. ``urn:ietf:params:oauth:grant-type:token-exchange``:
    mint a narrower token from ``subject_token`` (docs/identity-api.md)."""
    if grant_type == EXCHANGE_GRANT:
        form = ExchangeForm(
            subject_token=subject_token,
            subject_token_type=subject_token_type,
            scope=scope,
            audience=audience,
            folders=folders,
            envelopes=envelopes,
            recipient=recipient,
            expires_in=expires_in,
            single_use=single_use,
        )
        return await run_in_threadpool(exchange, rt, request, form)
    if grant_type != "client_credentials":
        return oauth_error(
            400, "unsupported_grant_type", f"use client_credentials or {EXCHANGE_GRANT}"
        )
    basic = _basic_credentials(request)
    if basic is not None:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        return oauth_error(401, "invalid_client", "client authentication failed")
    return await run_in_threadpool(
        _client_credentials, rt, request, client_id, client_secret, scope, audience
    )


def _refuse(rt: Runtime, session: Session, client: ApiClient | None, cid: str, reason: str) -> None:
    rt.audit.append(
        session,
        EventTag.TOKEN_REFUSED,
        tenant=client.tenant_id if client else UNATTRIBUTED,
        actor=f"client:{client.id}" if client else "anonymous",
        data={"client": cid[:64], "reason": reason},
    )


def _authenticate_client(
    rt: Runtime, client: ApiClient | None, secret: str
) -> tuple[str | None, str]:
    """("current" | "previous", "") for a good secret, else (None, reason). The KDF runs
    twice on every failure (and for unknown clients), so timing does not tell which
    client ids exist or which of them are in a rotation overlap."""
    if verify_secret(secret, client.secret_hash if client else dummy_hash()) and client:
        return ("current", "") if client.revoked_at is None else (None, "revoked client")
    previous = client.previous_secret_hash if client else None
    ok_previous = verify_secret(secret, previous or dummy_hash()) and previous is not None
    if client is None:
        return None, "unknown client"
    if client.revoked_at is not None:
        return None, "revoked client"
    if not ok_previous:
        return None, "wrong secret"
    deadline = client.previous_secret_expires_at
    if deadline is None or deadline <= rt.clock.now():
        return None, "previous secret past its overlap deadline"
    return "previous", ""


def _client_credentials(
    rt: Runtime,
    request: Request,
    client_id: str,
    client_secret: str,
    scope: str | None,
    audience: str | None,
) -> JSONResponse:
    body: TokenResponse | None = None
    # RFC 9449 §5: the client opts in by sending a proof. Checked before the unit of work
    # opens, because spending the proof's jti is a write of its own (shared replay state).
    jkt: str | None = None
    dpop_refused = ""
    proofs = request.headers.getlist("dpop")
    if proofs:
        proof, dpop_refused = (
            rt.dpop.check(proofs[0], method=request.method, url=request_htu(rt, request))
            if len(proofs) == 1
            else (None, "several dpop proofs")
        )
        jkt = proof.jkt if proof is not None else None
    with rt.db.transaction() as session:
        client = session.get(ApiClient, client_id)
        which, reason = _authenticate_client(rt, client, client_secret)
        if which is None or client is None:
            _refuse(rt, session, client, client_id, reason)
            return oauth_error(401, "invalid_client", "client authentication failed")
        allowed = parse_scopes(client.scopes)
        try:
            wanted = parse_scopes(scope) if scope else allowed
        except ValueError:
            wanted = frozenset()
        if not wanted or not wanted <= allowed:
            _refuse(rt, session, client, client.id, "scope not granted")
            return oauth_error(400, "invalid_scope", "requested scope is not granted")
        audiences = audiences_for(wanted)
        if audience is not None:
            asked = frozenset(audience.split())
            if not asked or not asked <= AUDIENCES or not asked <= audiences:
                _refuse(rt, session, client, client.id, "audience not granted")
                return oauth_error(400, "invalid_target", "requested audience is not granted")
            audiences = asked
        if dpop_refused:
            _refuse(rt, session, client, client.id, dpop_refused)
            return oauth_error(400, "invalid_dpop_proof", "the DPoP proof is invalid")
        compact, issued = rt.tokens.issue(
            client_id=client.id,
            tenant_id=client.tenant_id,
            scopes=wanted,
            jkt=jkt,
            audiences=audiences,
            folders=parse_folders(client.folders) if client.folders else None,
        )
        client_usage(request).record(session, client.id, [])  # last_used_at, once a minute
        scope_names = sorted(s.value for s in wanted)
        actor = f"client:{client.id}"
        rt.audit.append(
            session,
            EventTag.TOKEN_ISSUED,
            tenant=client.tenant_id,
            actor=actor,
            data={
                "client": client.id,
                "jti": issued.jti,
                "scope": scope_names,
                "audience": sorted(audiences),
                "expires_at": issued.expires_at,
                "secret": which,
                **({"folders": sorted(issued.folders)} if issued.folders else {}),
                **({"jkt": jkt} if jkt else {}),
            },
        )
        rt.audit.append(
            session,
            EventTag.ACCESS_GRANTED,
            tenant=client.tenant_id,
            actor=actor,
            data={"action": "token:issue", "target": client.id, "jti": issued.jti},
        )
        body = TokenResponse(
            access_token=compact,
            expires_in=issued.expires_at - issued.issued_at,
            scope=" ".join(scope_names),
            token_type="DPoP" if jkt else "Bearer",
        )
    return JSONResponse(body.model_dump(exclude_none=True), headers={"Cache-Control": "no-store"})


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
