"""Bearer- and DPoP-token authentication and per-object authorisation for API routes (B1, B2).

Deny by default: every route names the scope it needs; objects are loaded only through the
caller's tenant, so another tenant's envelope looks exactly like one that does not exist.
Every denial is an audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import AuthenticationFailed, NotFound, PermissionDenied
from sealwright.identity.scopes import Scope
from sealwright.identity.tokens import AccessToken
from sealwright.services.envelopes import load_envelope
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Envelope

#: Tenant id recorded on events that cannot be attributed to any tenant (e.g. a bad token).
UNATTRIBUTED = "_unattributed"


@dataclass(frozen=True, slots=True)
class Caller:
    token: AccessToken

    @property
    def actor(self) -> str:
        return f"client:{self.token.client_id}"

    @property
    def tenant_id(self) -> str:
        return self.token.tenant_id


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def request_htu(rt: Runtime, request: Request) -> str:
    """The URL a DPoP proof must name: the service's configured public origin and the
    request's path (not the Host header, which the sender chooses)."""
    return rt.settings.public_url.rstrip("/") + request.url.path


def authenticate(request: Request) -> Caller:
    rt = runtime(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop") or not value.strip():
        deny(rt, None, request, "missing bearer token")
        raise AuthenticationFailed()
    compact = value.strip()
    token, reason = rt.tokens.check(compact)
    if token is None:
        deny(rt, None, request, reason)
        raise AuthenticationFailed()
    caller = Caller(token)
    if token.jkt is None:
        if scheme != "bearer":
            deny(rt, caller, request, "unbound token presented with the DPoP scheme")
            raise AuthenticationFailed()
        return caller
    # A DPoP-bound token (RFC 9449 §7): only with the DPoP scheme and a fresh proof by its key.
    if scheme != "dpop":
        deny(rt, caller, request, "DPoP-bound token presented as Bearer")
        raise AuthenticationFailed()
    proofs = request.headers.getlist("dpop")
    if len(proofs) != 1:
        deny(rt, caller, request, "missing dpop proof" if not proofs else "several dpop proofs")
        raise AuthenticationFailed()
    proof, reason = rt.dpop.check(
        proofs[0],
        method=request.method,
        url=request_htu(rt, request),
        access_token=compact,
        jkt=token.jkt,
    )
    if proof is None:
        deny(rt, caller, request, reason)
        raise AuthenticationFailed()
    return caller


def require(rt: Runtime, caller: Caller, scope: Scope, request: Request) -> None:
    if scope not in caller.token.scopes:
        deny(rt, caller, request, f"missing scope {scope.value}")
        raise PermissionDenied(f"this token lacks the scope {scope.value}")


class RecordedNotFound(NotFound):
    """Not found, with the denial already appended to the session: commit it, then answer."""

    commit = True


def envelope_for(
    rt: Runtime, session: Session, caller: Caller, envelope_id: str, request: Request
) -> Envelope:
    """Load an envelope for the caller; call it first in the unit of work, since a denial
    commits the session to keep its audit event."""
    try:
        return load_envelope(session, envelope_id, caller.tenant_id)
    except NotFound:
        rt.audit.append(
            session,
            EventTag.ACCESS_DENIED,
            tenant=caller.tenant_id,
            actor=caller.actor,
            data={
                "reason": "envelope not in caller's tenant or absent",
                "method": request.method,
                "path": redact_path(request.url.path),
                "target": envelope_id,
            },
        )
        raise RecordedNotFound("envelope not found") from None


_LINK = re.compile(r"^/sign/[^/]+")


def redact_path(path: str) -> str:
    """Paths carry one-time link tokens (``/sign/<token>``): never log or record them."""
    return _LINK.sub("/sign/<redacted>", path)


def deny(
    rt: Runtime, caller: Caller | None, request: Request, reason: str, target: str | None = None
) -> None:
    """Audit a denial in its own transaction (call it with no unit of work open)."""
    data = {"reason": reason, "method": request.method, "path": redact_path(request.url.path)}
    if target:
        data["target"] = target
    with rt.db.transaction() as session:
        rt.audit.append(
            session,
            EventTag.ACCESS_DENIED,
            tenant=caller.tenant_id if caller else UNATTRIBUTED,
            actor=caller.actor if caller else "anonymous",
            data=data,
        )
