"""Console sessions (B7): server-side rows behind an opaque cookie, in two stages.

After OIDC sign-in a session exists but may do one thing only: pass (or enrol) a second
factor, within ``PENDING_SECONDS``. Passing it rotates the token (the cookie that existed
before the second factor is worth nothing after it) and opens the console for the
operator's roles. Every request re-reads the operator, so disabling one or changing their
roles takes effect at once. A session ends when unused for the idle timeout, at the
absolute timeout (then only a fresh SSO sign-in and second factor open a new one), or at
sign-out. Only SHA-256 of the token is stored.

CSRF: each session has a synchroniser token derived from its secret token by HMAC, so
nothing more is stored and a page from another site cannot learn it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.identity.roles import Permission, Role, permissions_of
from sealwright.identity.secrets import new_token, token_digest
from sealwright.services.operators import operator_actor, roles_of
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ConsoleSession, Operator

#: Seconds between SSO and the second factor before the half-open session is dropped.
PENDING_SECONDS = 600


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    row: ConsoleSession
    operator: Operator
    token: str

    @property
    def roles(self) -> frozenset[Role]:
        return roles_of(self.operator)

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.roles)

    @property
    def second_factor_passed(self) -> bool:
        return self.row.second_factor_at is not None

    @property
    def actor(self) -> str:
        return operator_actor(self.operator)

    @property
    def tenant_id(self) -> str:
        return self.operator.tenant_id

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def csrf_token(session_token: str) -> str:
    mac = hmac.new(session_token.encode(), b"sealwright:console:csrf", hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def csrf_matches(session_token: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token(session_token).encode(), presented.encode())


def start(rt: Runtime, db: Session, operator: Operator) -> str:
    """A new half-open session for an operator who just passed SSO; returns its token."""
    now = rt.clock.now()
    # Housekeeping: sessions past their absolute timeout can never be used again.
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    token = new_token()
    db.add(
        ConsoleSession(
            id=uuid.uuid4().hex,
            token_hash=token_digest(token),
            operator_id=operator.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=rt.settings.console_absolute_timeout),
        )
    )
    db.flush()
    return token


@dataclass(frozen=True, slots=True)
class Resolved:
    """A session looked up from its cookie: ``context`` when usable, else why not (for the
    ledger, never for the user) and whose it was, if anyone's."""

    context: ConsoleContext | None
    reason: str
    operator: Operator | None = None


def resolve(rt: Runtime, db: Session, token: str | None) -> Resolved:
    if not token:
        return Resolved(None, "no console session")
    row = db.execute(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_digest(token))
    ).scalar_one_or_none()
    if row is None:
        return Resolved(None, "unknown console session")
    operator = db.get(Operator, row.operator_id)
    assert operator is not None  # a foreign key
    now = rt.clock.now()
    if row.ended_at is not None:
        return Resolved(None, "console session ended", operator)
    if operator.disabled_at is not None:
        return Resolved(None, "operator disabled", operator)
    if now >= row.expires_at:
        return Resolved(None, "console session past its absolute timeout", operator)
    if now >= row.last_seen_at + timedelta(seconds=rt.settings.console_idle_timeout):
        return Resolved(None, "console session idle too long", operator)
    if row.second_factor_at is None and now >= row.created_at + timedelta(seconds=PENDING_SECONDS):
        return Resolved(None, "second factor not passed in time", operator)
    return Resolved(ConsoleContext(row, operator, token), "")


def touch(rt: Runtime, ctx: ConsoleContext) -> None:
    """Restart the idle timer: only for requests the guard let through, so a refused one
    (a forged POST, a role that lacks the permission) keeps nothing alive."""
    ctx.row.last_seen_at = rt.clock.now()


def second_factor_passed(rt: Runtime, db: Session, ctx: ConsoleContext, method: str) -> str:
    """Open the session for the operator's roles; returns the new token (rotated)."""
    token = new_token()
    ctx.row.token_hash = token_digest(token)
    ctx.row.second_factor_at = rt.clock.now()
    ctx.row.second_factor = method
    ctx.row.challenge = None
    ctx.row.challenge_expires_at = None
    return token


def end(rt: Runtime, db: Session, ctx: ConsoleContext) -> None:
    ctx.row.ended_at = rt.clock.now()
    rt.audit.append(
        db,
        EventTag.CONSOLE_SESSION_ENDED,
        tenant=ctx.tenant_id,
        actor=ctx.actor,
        data={"operator": ctx.operator.id, "session": ctx.row.id, "reason": "sign-out"},
    )
