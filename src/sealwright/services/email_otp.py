"""Email one-time codes (B5): six digits, stored only as an HMAC under a server-side pepper,
short-lived, single use, attempt-limited; past the limit the signer session locks."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.mail.message import MailMessage
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext, record, refuse


class EmailOtp:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def send(self, session: Session, ctx: SignerContext) -> None:
        s = ctx.session
        if s.otp_verified_at is not None:
            return
        if s.otp_sends >= self.rt.settings.otp_max_sends:
            ctx.session.locked_at = self.rt.clock.now()
            refuse(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.OTP_LOCKED,
                "too many codes requested",
            )
        code = f"{self.rt.random.randbelow(1_000_000):06d}"
        s.otp_hash = self._mac(s.token_hash, code)
        s.otp_expires_at = self.rt.clock.now() + timedelta(seconds=self.rt.settings.otp_ttl)
        s.otp_attempts = 0
        s.otp_sends += 1
        minutes = self.rt.settings.otp_ttl // 60
        self.rt.outbox.queue(
            session,
            MailMessage(
                to=ctx.recipient.email,
                subject=f"Your code for {ctx.envelope.title}",
                text=(
                    f"Your Sealwright verification code is {code}\n\n"
                    f"It expires in {minutes} minutes and works once. Never share it: "
                    "nobody from Sealwright or the sender will ask you for it.\n"
                ),
            ),
        )
        record(
            self.rt, session, ctx.envelope, ctx.recipient, EventTag.OTP_SENT, {"channel": "email"}
        )

    def verify(self, session: Session, ctx: SignerContext, code: str) -> bool:
        """True on success. On failure records it (and locks past the limit); returns False
        so the caller can commit the failure before answering."""
        s = ctx.session
        now = self.rt.clock.now()
        if s.otp_verified_at is not None:
            return True
        expected = s.otp_hash
        s.otp_attempts += 1
        ok = (
            expected is not None
            and s.otp_expires_at is not None
            and s.otp_expires_at > now
            and hmac.compare_digest(expected, self._mac(s.token_hash, code.strip()))
        )
        if ok:
            s.otp_hash = None
            s.otp_verified_at = now
            record(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.OTP_PASSED,
                {"channel": "email", "attempt": s.otp_attempts},
            )
            return True
        reason = "expired" if s.otp_expires_at is None or s.otp_expires_at <= now else "mismatch"
        record(
            self.rt,
            session,
            ctx.envelope,
            ctx.recipient,
            EventTag.OTP_FAILED,
            {"channel": "email", "attempt": s.otp_attempts, "reason": reason},
        )
        if s.otp_attempts >= self.rt.settings.otp_max_attempts:
            s.locked_at = now
            s.otp_hash = None
            record(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.OTP_LOCKED,
                {"channel": "email", "attempts": s.otp_attempts},
            )
        return False

    def _mac(self, session_hash: str, code: str) -> str:
        msg = f"{session_hash}:{code}".encode()
        return hmac.new(self.rt.otp_pepper, msg, hashlib.sha256).hexdigest()
