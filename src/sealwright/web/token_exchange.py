"""RFC 8693 token exchange at ``POST /oauth/token``: attenuation (B3).

The holder of an access token (the ``subject_token``) mints a narrower, shorter-lived one
without a round trip to an administrator: no client authentication is needed, the subject
token is the credential. ``identity/attenuation.py`` holds the rules; here the request is
parsed, the subject token checked like any presented token (signature, lifetime, client
not revoked, delegation recorded, single use unspent, DPoP proof by its key), the named
envelopes and recipient checked to lie in the child's zone, and then, in one unit of
work: a single-use subject token is spent, the child is signed and its payload recorded
(``delegated_tokens``), and ``api:token:attenuated`` plus ``api:access:granted`` appended.

Every refusal is an OAuth error and an ``api:token:refused`` event with the precise
reason; the error description given to the caller is generic where the reason concerns
the subject token's validity.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.identity.attenuation import ExchangeRequest, Refused, attenuate
from sealwright.identity.scopes import (
    AUDIENCES,
    is_envelope_id,
    parse_envelope_ids,
    parse_folders,
    parse_scopes,
)
from sealwright.identity.tokens import AccessToken
from sealwright.services.runtime import Runtime
from sealwright.services.token_state import record_delegation, spend, standing
from sealwright.storage.models import Envelope, Recipient

EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 -- a URN
_UNATTRIBUTED = "_unattributed"


@dataclass(frozen=True, slots=True)
class ExchangeForm:
    subject_token: str | None
    subject_token_type: str | None
    scope: str | None
    audience: str | None
    folders: str | None
    envelopes: str | None
    recipient: str | None
    expires_in: str | None
    single_use: str | None


def _error(error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=400,
        headers={"Cache-Control": "no-store"},
    )


def _record_refusal(rt: Runtime, session: Session, parent: AccessToken | None, reason: str) -> None:
    data: dict[str, str] = {"grant": "token-exchange", "reason": reason}
    if parent is not None:
        data |= {"client": parent.client_id, "parent": parent.jti}
    rt.audit.append(
        session,
        EventTag.TOKEN_REFUSED,
        tenant=parent.tenant_id if parent else _UNATTRIBUTED,
        actor=f"client:{parent.client_id}" if parent else "anonymous",
        data=data,
    )


def _refused(
    rt: Runtime, parent: AccessToken | None, error: str, reason: str, description: str
) -> JSONResponse:
    with rt.db.transaction() as session:
        _record_refusal(rt, session, parent, reason)
    return _error(error, description)


def parse_request(form: ExchangeForm, proof_jkt: str | None) -> ExchangeRequest:
    """The caller's asks; ValueError (with a message fit to show) when malformed."""
    lifetime: int | None = None
    if form.expires_in is not None:
        if not form.expires_in.isdigit() or len(form.expires_in) > 6:
            raise ValueError("expires_in must be a number of seconds")
        lifetime = int(form.expires_in)
    single_use: bool | None = None
    if form.single_use is not None:
        if form.single_use not in ("true", "false"):
            raise ValueError("single_use must be true or false")
        single_use = form.single_use == "true"
    audiences: frozenset[str] | None = None
    if form.audience is not None:
        audiences = frozenset(form.audience.split())
        if not audiences or not audiences <= AUDIENCES:
            raise ValueError("unknown audience")
    recipient = form.recipient
    if recipient is not None and not is_envelope_id(recipient):
        raise ValueError("invalid recipient id")
    return ExchangeRequest(
        scopes=None if form.scope is None else parse_scopes(form.scope),
        audiences=audiences,
        folders=None if form.folders is None else parse_folders(form.folders),
        envelopes=None if form.envelopes is None else parse_envelope_ids(form.envelopes),
        recipient=recipient,
        lifetime=lifetime,
        single_use=single_use,
        proof_jkt=proof_jkt,
    )


def exchange(rt: Runtime, request: Request, form: ExchangeForm) -> JSONResponse:
    from sealwright.web.auth import request_htu

    if form.subject_token_type != ACCESS_TOKEN_TYPE or not form.subject_token:
        return _refused(
            rt,
            None,
            "invalid_request",
            "missing subject token or unsupported subject_token_type",
            f"subject_token and subject_token_type {ACCESS_TOKEN_TYPE} are required",
        )
    parent, reason = rt.tokens.check(form.subject_token, audience=None)
    if parent is None:
        return _refused(
            rt, None, "invalid_request", f"subject token: {reason}", "the subject token is invalid"
        )
    proof_jkt: str | None = None
    proofs = request.headers.getlist("dpop")
    if proofs:
        proof, reason = (
            rt.dpop.check(
                proofs[0], method=request.method, url=request_htu(rt, request), jkt=parent.jkt
            )
            if len(proofs) == 1
            else (None, "several dpop proofs")
        )
        if proof is None:
            return _refused(rt, parent, "invalid_dpop_proof", reason, "the DPoP proof is invalid")
        proof_jkt = proof.jkt
    try:
        asked = parse_request(form, proof_jkt)
    except ValueError as exc:
        return _refused(rt, parent, "invalid_request", f"malformed request: {exc}", str(exc))
    now = int(rt.clock.now().timestamp())
    try:
        child = attenuate(parent, asked, now=now, max_ttl=rt.tokens.ttl)
    except Refused as refusal:
        return _refused(rt, parent, refusal.error, refusal.reason, refusal.reason)
    with rt.db.transaction() as session:
        reason = standing(session, parent)
        if reason:
            _record_refusal(rt, session, parent, f"subject token: {reason}")
            return _error("invalid_request", "the subject token is invalid")
        reason = _zone_check(session, parent, child.envelopes, child.folders, child.recipient)
        if reason:
            _record_refusal(rt, session, parent, reason)
            return _error("invalid_request", "an envelope or recipient named is not available")
        if not spend(session, parent):
            _record_refusal(rt, session, parent, "subject token: replayed single-use token")
            return _error("invalid_request", "the subject token is invalid")
        compact, issued = rt.tokens.issue(
            client_id=parent.client_id,
            tenant_id=parent.tenant_id,
            scopes=child.scopes,
            jkt=child.jkt,
            audiences=child.audiences,
            folders=child.folders,
            envelopes=child.envelopes,
            recipient=child.recipient,
            single_use=child.single_use,
            parent=parent.jti,
            expires_at=child.expires_at,
        )
        record_delegation(session, issued)
        actor = f"client:{parent.client_id}"
        scope_names = sorted(s.value for s in child.scopes)
        rt.audit.append(
            session,
            EventTag.TOKEN_ATTENUATED,
            tenant=parent.tenant_id,
            actor=actor,
            data={
                "client": parent.client_id,
                "parent": parent.jti,
                "jti": issued.jti,
                "scope": scope_names,
                "audience": sorted(child.audiences),
                "folders": sorted(child.folders) if child.folders is not None else None,
                "envelopes": sorted(child.envelopes) if child.envelopes is not None else None,
                "recipient": child.recipient,
                "single_use": child.single_use,
                "expires_at": child.expires_at,
                **({"jkt": child.jkt} if child.jkt else {}),
            },
        )
        rt.audit.append(
            session,
            EventTag.ACCESS_GRANTED,
            tenant=parent.tenant_id,
            actor=actor,
            data={"action": "token:attenuate", "target": parent.jti, "jti": issued.jti},
        )
    body = {
        "access_token": compact,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "DPoP" if child.jkt else "Bearer",
        "expires_in": child.expires_at - now,
        "scope": " ".join(scope_names),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _zone_check(
    session: Session,
    parent: AccessToken,
    envelopes: frozenset[str] | None,
    folders: frozenset[str] | None,
    recipient: str | None,
) -> str:
    """Every envelope named exists in the parent's tenant and lies in the child's folders
    (which lie in the parent's); a recipient belongs to the one envelope."""
    for env_id in sorted(envelopes or ()):
        env = session.get(Envelope, env_id)
        if env is None or env.tenant_id != parent.tenant_id:
            return f"envelope {env_id} not in the subject token's tenant or absent"
        if folders is not None and env.folder not in folders:
            return f"envelope {env_id} in folder {env.folder!r}, outside the token's folders"
    if recipient is not None:
        r = session.get(Recipient, recipient)
        if r is None or envelopes is None or r.envelope_id not in envelopes:
            return "recipient not in the named envelope"
    return ""
