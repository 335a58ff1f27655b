"""Email one-time codes (B5): proves control of the mailbox the sender named."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from sealwright.mail.message import MailMessage
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.codes import OneTimeCodes
from sealwright.services.signer_auth.policy import Method


class EmailOtp:
    method: ClassVar[Method] = Method.EMAIL_OTP

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.codes = OneTimeCodes(rt, self.method, "email")

    def begin(self, session: Session, ctx: SignerContext) -> Mapping[str, Any]:
        code = self.codes.issue(session, ctx)
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
        return {}

    def finish(self, session: Session, ctx: SignerContext, answer: Mapping[str, str]) -> bool:
        return self.codes.check(session, ctx, answer.get("code", ""))
