"""Embedded signing (B3): an integrator turns a recipient-bound signing token -- minted by
attenuation, e.g. view + sign, one recipient of one envelope, at most ten minutes, single
use -- into a signer session for that recipient, instead of a mailed one-time link.

The token is checked like any presented token (signature, audience ``sealwright-signing``,
lifetime, client not revoked, delegation recorded, single use unspent), and then for what
only a signing link may be: bound to exactly one recipient of one envelope inside its
zone, single-use, short-lived, not DPoP-bound (a browser cannot prove the integrator's
key). The session starts exactly as a one-time link's does (``CeremonyService
.start_session``): the signer still has to pass every authentication method the
recipient requires. Every refusal is an ``api:access:denied`` event with the reason and
one opaque answer; the grant is an ``api:access:granted`` event.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sealwright.domain.envelopes import RecipientRole, RecipientStatus
from sealwright.domain.events import EventTag
from sealwright.identity.attenuation import SIGNING_LINK_MAX_TTL
from sealwright.identity.scopes import SIGNING_AUDIENCE, Scope, allows
from sealwright.identity.tokens import AccessToken
from sealwright.services.ceremony import _OPEN_FOR, CeremonyService
from sealwright.services.client_usage import ClientUsage, folder_item, scope_item
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import RecordedRefusal, SignerContext, record
from sealwright.services.token_state import spend, standing
from sealwright.storage.models import Envelope, Recipient

PATH = "/embedded/sign"
_UNATTRIBUTED = "_unattributed"


def _deny(
    rt: Runtime, session: Session, token: AccessToken | None, reason: str, target: str | None
) -> RecordedRefusal:
    data = {"reason": reason, "method": "POST", "path": PATH}
    if target:
        data["target"] = target
    rt.audit.append(
        session,
        EventTag.ACCESS_DENIED,
        tenant=token.tenant_id if token else _UNATTRIBUTED,
        actor=f"client:{token.client_id}" if token else "anonymous",
        data=data,
    )
    return RecordedRefusal()


def _token_refusal(token: AccessToken) -> str:
    if token.jkt is not None:
        return "a DPoP-bound token cannot open a browser session"
    if token.recipient is None or token.envelopes is None or len(token.envelopes) != 1:
        return "not a recipient-bound signing token"
    if not token.single_use:
        return "signing tokens must be single-use"
    if token.expires_at - token.issued_at > SIGNING_LINK_MAX_TTL:
        return f"signing token lives longer than {SIGNING_LINK_MAX_TTL} s"
    if Scope.SIGNING_VIEW not in token.scopes:
        return f"missing scope {Scope.SIGNING_VIEW.value}"
    return ""


def _recipient_refusal(
    token: AccessToken, recipient: Recipient | None, env: Envelope | None
) -> str:
    if recipient is None or env is None or token.envelopes != frozenset({env.id}):
        return "recipient not in the token's envelope"
    if env.tenant_id != token.tenant_id:
        return "envelope not in the token's tenant"
    if not allows(token.folders, env.folder):
        return f"envelope in folder {env.folder!r}, outside the token's folders"
    role = RecipientRole(recipient.role)
    if role is RecipientRole.SIGNER:
        if Scope.SIGNING_SIGN not in token.scopes:
            return f"missing scope {Scope.SIGNING_SIGN.value}"
        if recipient.status == RecipientStatus.CREATED.value:
            return "the recipient's turn in the routing order has not come"
        if recipient.status != RecipientStatus.NOTIFIED.value:
            return f"the recipient has {recipient.status}"
    if env.status not in _OPEN_FOR[role]:
        return f"envelope is {env.status}"
    return ""


def open_session(
    rt: Runtime, session: Session, compact: str, *, usage: ClientUsage, client_ip: str = ""
) -> tuple[str, SignerContext]:
    """(signer-session token, context) for the token's recipient; raises the opaque
    RecordedRefusal (its denial event committed) for any token it may not open."""
    token, reason = rt.tokens.check(compact, audience=SIGNING_AUDIENCE)
    if token is None:
        raise _deny(rt, session, None, reason, None)
    reason = _token_refusal(token) or standing(session, token)
    if reason:
        raise _deny(rt, session, token, reason, token.recipient)
    assert token.recipient is not None
    recipient = session.get(Recipient, token.recipient)
    env = session.get(Envelope, recipient.envelope_id) if recipient else None
    service = CeremonyService(rt)
    if env is not None and env.tenant_id == token.tenant_id:
        service.expire_if_due(session, env)
    reason = _recipient_refusal(token, recipient, env)
    if reason:
        raise _deny(rt, session, token, reason, token.recipient)
    assert recipient is not None
    assert env is not None
    if not spend(session, token):
        raise _deny(rt, session, token, "replayed single-use token", recipient.id)
    record(
        rt,
        session,
        env,
        recipient,
        EventTag.LINK_OPENED,
        {"via": "embedded", "client": token.client_id, "jti": token.jti},
    )
    rt.audit.append(
        session,
        EventTag.ACCESS_GRANTED,
        tenant=token.tenant_id,
        actor=f"client:{token.client_id}",
        data={"action": "signing:embedded", "target": recipient.id, "jti": token.jti},
    )
    used = [scope_item(s.value) for s in sorted(token.scopes)] + [folder_item(env.folder)]
    usage.record(session, token.client_id, used)
    session_token = service.start_session(session, recipient, env, client_ip=client_ip)
    return session_token, service.resolve(session, session_token, client_ip)
