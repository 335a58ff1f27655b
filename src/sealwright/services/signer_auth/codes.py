"""One-time codes sent over a channel (email, SMS): six digits, stored only as an HMAC under
a server-side pepper and bound to their challenge, short-lived, single use, attempt-limited.

Past ``otp_max_attempts`` wrong answers to one code, or ``otp_max_sends`` codes in one
session, the signer session locks. Wrong, expired, used and never-sent codes all fail the
same way, after the same work (an HMAC and a constant-time comparison).
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext, record, refuse
from sealwright.services.signer_auth.base import (
    Verifications,
    count_challenges,
    new_challenge,
    open_challenge,
)
from sealwright.services.signer_auth.policy import Method
from sealwright.storage.models import SignerChallenge

PURPOSE = "verify"


class OneTimeCodes:
    def __init__(self, rt: Runtime, method: Method, channel: str) -> None:
        self.rt = rt
        self.method = method
        self.channel = channel
        self.verifications = Verifications(rt)

    def issue(self, session: Session, ctx: SignerContext) -> str:
        """A new code for this session (the previous one stops working); the caller sends
        it. Locks the session past the allowance of codes."""
        return self.issue_challenge(session, ctx)[0]

    def issue_challenge(self, session: Session, ctx: SignerContext) -> tuple[str, SignerChallenge]:
        """``issue``, with the challenge the code belongs to (its id names the code in
        delivery reports)."""
        if count_challenges(session, ctx, self.method, PURPOSE) >= self.rt.settings.otp_max_sends:
            ctx.session.locked_at = self.rt.clock.now()
            refuse(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.OTP_LOCKED,
                f"too many {self.channel} codes requested",
            )
        code = f"{self.rt.random.randbelow(1_000_000):06d}"
        challenge = new_challenge(
            self.rt, session, ctx, self.method, PURPOSE, b"", self.rt.settings.otp_ttl
        )
        challenge.secret = self._mac(challenge.id, code)
        record(
            self.rt,
            session,
            ctx.envelope,
            ctx.recipient,
            EventTag.OTP_SENT,
            {"channel": self.channel},
        )
        return code, challenge

    def check(self, session: Session, ctx: SignerContext, code: str) -> bool:
        self.verifications.guard(session, ctx)
        now = self.rt.clock.now()
        challenge = open_challenge(session, ctx, self.method, PURPOSE)
        candidate = code.strip()
        expected = challenge.secret if challenge is not None else b"\x00" * 32
        got = self._mac(challenge.id if challenge is not None else "-", candidate)
        match = hmac.compare_digest(expected, got)
        if challenge is None:
            self.verifications.failed(session, ctx, self.method, "no code outstanding")
            return False
        challenge.attempts += 1
        if match and challenge.expires_at > now:
            challenge.used_at = now
            self.verifications.passed(session, ctx, self.method, {"attempt": challenge.attempts})
            return True
        reason = "expired" if challenge.expires_at <= now else "mismatch"
        self.verifications.failed(
            session, ctx, self.method, reason, {"attempt": challenge.attempts}
        )
        if challenge.attempts >= self.rt.settings.otp_max_attempts:
            challenge.used_at = now
            ctx.session.locked_at = now
            record(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.OTP_LOCKED,
                {"channel": self.channel, "attempts": challenge.attempts},
            )
        return False

    def _mac(self, challenge_id: str, code: str) -> bytes:
        msg = f"{challenge_id}:{code}".encode()
        return hmac.new(self.rt.otp_pepper, msg, hashlib.sha256).digest()
