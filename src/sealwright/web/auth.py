"""Bearer- and DPoP-token authentication and per-object authorisation for API routes (B1, B2).

Deny by default. Every API route declares what it needs where it is declared, with
``Depends(scoped(Scope.X, envelope="envelope_id", action=...))``: the scope, which path
parameter names the envelope it touches, whether it creates an envelope in a folder, and
the action name recorded when a sensitive action is granted. The dependency decides before
the handler runs (and before the body is validated):

1. the token: signature, issuer, audience, lifetime, DPoP proof, the client not revoked,
   a delegated token really minted here, a single-use token unspent (401 otherwise);
2. the action: the route's scope is in the token (403);
3. the object: the envelope is in the token's tenant, in one of its folders and among its
   envelopes (404 otherwise: outside its zone an envelope looks like none); a new envelope
   goes into a folder the token may touch (403);
4. then, in one unit of work: a single-use token is spent, a sensitive action appends
   ``api:access:granted``, and the client's use of the scope and folder is noted.

Every denial is an ``api:access:denied`` event with the precise reason (never the token).
The metadata on the dependency is what ``tests/integration/test_authz_matrix.py`` reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import AuthenticationFailed, NotFound, PermissionDenied
from sealwright.identity.scopes import API_AUDIENCE, DEFAULT_FOLDER, Scope, allows
from sealwright.identity.tokens import AccessToken
from sealwright.services.client_usage import ClientUsage, folder_item, scope_item
from sealwright.services.envelopes import load_envelope
from sealwright.services.runtime import Runtime
from sealwright.services.token_state import spend, standing
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


def client_usage(request: Request) -> ClientUsage:
    usage: ClientUsage = request.app.state.client_usage
    return usage


def request_htu(rt: Runtime, request: Request) -> str:
    """The URL a DPoP proof must name: the service's configured public origin and the
    request's path (not the Host header, which the sender chooses)."""
    return rt.settings.public_url.rstrip("/") + request.url.path


def authenticate(request: Request) -> Caller:
    """Step 1: a valid token for the API, with its proof, from a client in good standing."""
    rt = runtime(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop") or not value.strip():
        deny(rt, None, request, "missing bearer token")
        raise AuthenticationFailed()
    compact = value.strip()
    token, reason = rt.tokens.check(compact, audience=API_AUDIENCE)
    if token is None:
        deny(rt, None, request, reason)
        raise AuthenticationFailed()
    caller = Caller(token)
    if token.jkt is None:
        if scheme != "bearer":
            deny(rt, caller, request, "unbound token presented with the DPoP scheme")
            raise AuthenticationFailed()
    else:
        # A DPoP-bound token (RFC 9449 §7): only with the DPoP scheme and a fresh proof.
        if scheme != "dpop":
            deny(rt, caller, request, "DPoP-bound token presented as Bearer")
            raise AuthenticationFailed()
        proofs = request.headers.getlist("dpop")
        if len(proofs) != 1:
            deny(rt, caller, request, "several dpop proofs" if proofs else "missing dpop proof")
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
    with rt.db.transaction() as session:
        reason = standing(session, token)
    if reason:
        deny(rt, caller, request, reason)
        raise AuthenticationFailed()
    return caller


class RecordedNotFound(NotFound):
    """Not found, with the denial already appended to the session: commit it, then answer."""

    commit = True


class RecordedPermissionDenied(PermissionDenied):
    commit = True


class RecordedAuthenticationFailed(AuthenticationFailed):
    commit = True


def zone_refusal(caller: Caller, env: Envelope | None) -> str:
    """Why the caller may not touch ``env`` ("" if it may): tenant, folder, envelope."""
    token = caller.token
    if env is None or env.tenant_id != token.tenant_id:
        return "envelope not in caller's tenant or absent"
    if not allows(token.folders, env.folder):
        return f"envelope in folder {env.folder!r}, outside the token's folders"
    if not allows(token.envelopes, env.id):
        return "envelope outside the token's envelopes"
    return ""


def creation_refusal(caller: Caller, folder: str) -> str:
    if caller.token.envelopes is not None:
        return "an envelope-restricted token cannot create envelopes"
    if not allows(caller.token.folders, folder):
        return f"folder {folder!r} outside the token's folders"
    return ""


@dataclass(frozen=True)
class Scoped:
    """The dependency every API route declares (see the module docstring)."""

    scope: Scope
    #: The path parameter that names the envelope the route touches, if any.
    envelope: str | None = None
    #: The route creates an envelope in the folder its JSON body names (``folder``).
    creates: bool = False
    #: Recorded as ``api:access:granted`` {action, target} when the route is allowed.
    action: str | None = None

    async def __call__(self, request: Request) -> Caller:
        folder = await _body_folder(request) if self.creates else None
        return await run_in_threadpool(self._authorise, request, folder)

    def _authorise(self, request: Request, folder: str | None) -> Caller:
        rt = runtime(request)
        caller = authenticate(request)
        if self.scope not in caller.token.scopes:
            deny(rt, caller, request, f"missing scope {self.scope.value}")
            raise PermissionDenied(f"this token lacks the scope {self.scope.value}")
        target: str | None = None
        with rt.db.transaction() as session:
            if self.envelope is not None:
                target = str(request.path_params[self.envelope])
                env = session.get(Envelope, target)
                reason = zone_refusal(caller, env)
                if reason:
                    _deny_in(rt, session, caller, request, reason, target)
                    raise RecordedNotFound("envelope not found")
                assert env is not None
                folder = env.folder
            elif folder is not None:
                reason = creation_refusal(caller, folder)
                if reason:
                    _deny_in(rt, session, caller, request, reason, folder)
                    raise RecordedPermissionDenied(reason)
            if not spend(session, caller.token):
                _deny_in(rt, session, caller, request, "replayed single-use token", target)
                raise RecordedAuthenticationFailed()
            if self.action is not None:
                rt.audit.append(
                    session,
                    EventTag.ACCESS_GRANTED,
                    tenant=caller.tenant_id,
                    actor=caller.actor,
                    data={
                        "action": self.action,
                        "target": target or folder or caller.tenant_id,
                        "scope": self.scope.value,
                        "jti": caller.token.jti,
                    },
                )
            items = [scope_item(self.scope.value)]
            if folder is not None:
                items.append(folder_item(folder))
            client_usage(request).record(session, caller.token.client_id, items)
        return caller


def scoped(
    scope: Scope, *, envelope: str | None = None, creates: bool = False, action: str | None = None
) -> Scoped:
    return Scoped(scope=scope, envelope=envelope, creates=creates, action=action)


async def _body_folder(request: Request) -> str:
    """The folder a creating request names; the body is validated again by the route."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return DEFAULT_FOLDER
    folder = body.get("folder") if isinstance(body, dict) else None
    return folder if isinstance(folder, str) else DEFAULT_FOLDER


def envelope_for(
    rt: Runtime, session: Session, caller: Caller, envelope_id: str, request: Request
) -> Envelope:
    """Load an envelope for the caller (tenant, folder and envelope restriction, checked
    again in the handler's own unit of work); call it first, since a denial commits."""
    try:
        env = load_envelope(session, envelope_id, caller.tenant_id)
    except NotFound:
        env = None
    reason = zone_refusal(caller, env)
    if reason:
        _deny_in(rt, session, caller, request, reason, envelope_id)
        raise RecordedNotFound("envelope not found")
    assert env is not None
    return env


_LINK = re.compile(r"^/(sign|s/device)/[^/]+")


def redact_path(path: str) -> str:
    """Paths carry one-time link tokens (``/sign/<token>``, the second device's
    ``/s/device/<token>``): never log or record them."""
    return _LINK.sub(lambda m: f"/{m.group(1)}/<redacted>", path)


def _denial(request: Request, reason: str, target: str | None) -> dict[str, str]:
    data = {"reason": reason, "method": request.method, "path": redact_path(request.url.path)}
    if target:
        data["target"] = target
    return data


def _deny_in(
    rt: Runtime,
    session: Session,
    caller: Caller,
    request: Request,
    reason: str,
    target: str | None,
) -> None:
    rt.audit.append(
        session,
        EventTag.ACCESS_DENIED,
        tenant=caller.tenant_id,
        actor=caller.actor,
        data=_denial(request, reason, target),
    )


def deny(
    rt: Runtime, caller: Caller | None, request: Request, reason: str, target: str | None = None
) -> None:
    """Audit a denial in its own transaction (call it with no unit of work open)."""
    with rt.db.transaction() as session:
        rt.audit.append(
            session,
            EventTag.ACCESS_DENIED,
            tenant=caller.tenant_id if caller else UNATTRIBUTED,
            actor=caller.actor if caller else "anonymous",
            data=_denial(request, reason, target),
        )
