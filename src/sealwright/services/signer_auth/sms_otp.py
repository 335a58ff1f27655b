"""SMS one-time codes (B5): proves control of the phone number the sender named, now.

The code is the same kind as the email one (``codes.py``: six digits, HMAC'd under the
server pepper and bound to its challenge, short-lived, single use, attempt-limited). It
leaves as a durable job written in the same transaction as its challenge, the message
encrypted in the job's payload as mail is (``services/outbox.py``); the worker hands it
to the carrier with no database transaction open (``sms_delivery.py``), so a slow carrier
never holds a lock and a rolled-back request never texts anyone.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext, refuse
from sealwright.services.signer_auth.codes import OneTimeCodes
from sealwright.services.signer_auth.policy import Method, RecipientAuth

KIND = "sms.send"


def _aad(job_key: str) -> bytes:
    return f"sealwright:sms:{job_key}".encode()


def seal_message(rt: Runtime, job_key: str, *, to: str, body: str) -> str:
    """The message as it rests in the job row: ciphertext only (it holds the code)."""
    plain = json.dumps({"to": to, "body": body}).encode()
    return base64.b64encode(encrypt_bytes(plain, keyring=rt.keyring, aad=_aad(job_key))).decode()


def open_message(rt: Runtime, job_key: str, sealed: str) -> tuple[str, str]:
    """(to, body) of a sealed message."""
    plain = decrypt_bytes(base64.b64decode(sealed), keyring=rt.keyring, aad=_aad(job_key))
    fields = json.loads(plain)
    return str(fields["to"]), str(fields["body"])


def message_text(rt: Runtime, code: str) -> str:
    """The text: short (one SMS segment), and ending with the WebOTP line (``@host #code``)
    that lets a phone's browser offer the code only on our own origin."""
    minutes = rt.settings.otp_ttl // 60
    host = urlsplit(rt.settings.public_url).hostname or "localhost"
    return (
        f"Your Sealwright verification code is {code}. It expires in {minutes} minutes. "
        f"Never share it.\n\n@{host} #{code}"
    )


class SmsOtp:
    method: ClassVar[Method] = Method.SMS_OTP

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.codes = OneTimeCodes(rt, self.method, "sms")

    def begin(self, session: Session, ctx: SignerContext) -> Mapping[str, Any]:
        phone = RecipientAuth.from_json(ctx.recipient.auth).phone
        if not phone:  # the policy never stores sms-otp without one; refuse, recorded
            refuse(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.AUTH_FAILED,
                "sms-otp without a phone number",
            )
        code, challenge = self.codes.issue_challenge(session, ctx)
        job_key = uuid.uuid4().hex
        self.rt.jobs.enqueue(
            session,
            KIND,
            {
                "key": job_key,
                "challenge": challenge.id,
                "message": seal_message(
                    self.rt, job_key, to=phone, body=message_text(self.rt, code)
                ),
            },
            key=job_key,
        )
        return {}

    def finish(self, session: Session, ctx: SignerContext, answer: Mapping[str, str]) -> bool:
        return self.codes.check(session, ctx, answer.get("code", ""))
