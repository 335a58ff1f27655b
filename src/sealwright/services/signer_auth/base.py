"""The one interface every signer authentication method implements, and what they share:
recording a pass or a failure, brute-force limits, and server-side challenges.

A method ``begin``s (send a code, make a WebAuthn challenge, build an IdP redirect) and
``finish``es with the signer's answer. ``finish`` returns False for every kind of wrong
answer -- wrong, expired, unknown, replayed -- after recording the precise reason in the
ledger (``signer:auth:failed``) and counting the failure against the recipient and the
client IP; callers commit, then show one opaque error. A pass is a ``SignerVerification``
row and a ``signer:auth:passed`` event carrying the same method and time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.clock import rfc3339
from sealwright.domain.events import EventTag
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext, record
from sealwright.services.signer_auth.policy import Method
from sealwright.services.throttle import Backoff, Throttle
from sealwright.storage.models import SignerChallenge, SignerVerification

RECIPIENT_SCOPE = "code:recipient"
IP_SCOPE = "code:ip"
#: Several people may share one address (an office, a carrier NAT): the per-IP allowance
#: is this many times the per-recipient one.
IP_ALLOWANCE = 4


class SignerMethod(Protocol):
    method: ClassVar[Method]

    def begin(self, session: Session, ctx: SignerContext) -> Mapping[str, Any]:
        """Start a verification: what the page needs to show (options, a redirect URL)."""
        ...

    def finish(self, session: Session, ctx: SignerContext, answer: Mapping[str, str]) -> bool:
        """Check the signer's answer; False (recorded, counted) for any failure."""
        ...


@dataclass(frozen=True, slots=True)
class Passed:
    method: Method
    at: datetime


class Verifications:
    """Records passes and failures, and enforces the brute-force limits around them."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.throttle = Throttle(clock=rt.clock, pepper=rt.otp_pepper)
        s = rt.settings
        self.backoff = Backoff(s.auth_free_attempts, s.auth_backoff_base, s.auth_backoff_max)
        self.ip_backoff = Backoff(
            s.auth_free_attempts * IP_ALLOWANCE, s.auth_backoff_base, s.auth_backoff_max
        )

    def guard(self, session: Session, ctx: SignerContext) -> None:
        """Refuse (RateLimited) while the recipient or the client IP is locked out -- before
        the answer is even looked at, so a lock-out cannot be waited out by guessing."""
        keys = [(RECIPIENT_SCOPE, ctx.recipient.id)]
        if ctx.client_ip:
            keys.append((IP_SCOPE, ctx.client_ip))
        self.throttle.check(session, *keys)

    def passed(
        self,
        session: Session,
        ctx: SignerContext,
        method: Method,
        details: Mapping[str, Any] | None = None,
    ) -> SignerVerification:
        now = self.rt.clock.now()
        row = SignerVerification(
            id=uuid.uuid4().hex,
            session_hash=ctx.session.token_hash,
            recipient_id=ctx.recipient.id,
            method=method.value,
            verified_at=now,
            details=dict(details or {}),
        )
        session.add(row)
        self.throttle.success(session, RECIPIENT_SCOPE, ctx.recipient.id)
        record(
            self.rt,
            session,
            ctx.envelope,
            ctx.recipient,
            EventTag.AUTH_PASSED,
            {
                "method": method.value,
                "at": rfc3339(now),
                "session": ctx.session_ref,
                **(details or {}),
            },
        )
        return row

    def failed(
        self,
        session: Session,
        ctx: SignerContext,
        method: Method,
        reason: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record why (in the ledger only) and count the failure; a failure that starts a
        lock-out is recorded too, and answered with RateLimited after the commit."""
        record(
            self.rt,
            session,
            ctx.envelope,
            ctx.recipient,
            EventTag.AUTH_FAILED,
            {
                "method": method.value,
                "reason": reason,
                "session": ctx.session_ref,
                **(details or {}),
            },
        )
        counted = [self.throttle.failure(session, RECIPIENT_SCOPE, ctx.recipient.id, self.backoff)]
        if ctx.client_ip:
            counted.append(self.throttle.failure(session, IP_SCOPE, ctx.client_ip, self.ip_backoff))
        locks = [f.locked_until for f in counted if f.locked_until is not None]
        if locks:
            until = max(locks)
            record(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.AUTH_THROTTLED,
                {
                    "method": method.value,
                    "failures": max(f.count for f in counted),
                    "until": rfc3339(until),
                },
            )

    @staticmethod
    def latest(session: Session, ctx: SignerContext) -> dict[Method, SignerVerification]:
        """The most recent verification of each method in this signer session."""
        rows = session.execute(
            select(SignerVerification)
            .where(SignerVerification.session_hash == ctx.session.token_hash)
            .order_by(SignerVerification.verified_at)
        ).scalars()
        return {Method(r.method): r for r in rows}


# -- server-side challenges ----------------------------------------------------------------


def new_challenge(
    rt: Runtime,
    session: Session,
    ctx: SignerContext,
    method: Method,
    purpose: str,
    secret: bytes,
    ttl: int,
) -> SignerChallenge:
    """A fresh challenge for (session, method, purpose); any open one is retired, so only
    the newest can ever be answered."""
    now = rt.clock.now()
    for old in _open(session, ctx, method, purpose):
        old.used_at = now
    row = SignerChallenge(
        id=uuid.uuid4().hex,
        session_hash=ctx.session.token_hash,
        method=method.value,
        purpose=purpose,
        secret=secret,
        attempts=0,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    session.add(row)
    session.flush()
    return row


def open_challenge(
    session: Session, ctx: SignerContext, method: Method, purpose: str
) -> SignerChallenge | None:
    """The newest unused challenge (possibly expired: the caller says which)."""
    rows = _open(session, ctx, method, purpose)
    return rows[-1] if rows else None


def count_challenges(session: Session, ctx: SignerContext, method: Method, purpose: str) -> int:
    q = select(SignerChallenge.id).where(
        SignerChallenge.session_hash == ctx.session.token_hash,
        SignerChallenge.method == method.value,
        SignerChallenge.purpose == purpose,
    )
    return len(session.execute(q).all())


def _open(
    session: Session, ctx: SignerContext, method: Method, purpose: str
) -> list[SignerChallenge]:
    q = (
        select(SignerChallenge)
        .where(
            SignerChallenge.session_hash == ctx.session.token_hash,
            SignerChallenge.method == method.value,
            SignerChallenge.purpose == purpose,
            SignerChallenge.used_at.is_(None),
        )
        .order_by(SignerChallenge.created_at)
    )
    return list(session.execute(q).scalars())
