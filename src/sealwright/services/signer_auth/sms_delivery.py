"""Getting SMS codes to the phone, and hearing back: the ``sms.send`` job and the carrier's
delivery reports, both recorded in the ledger with the phone number only as a keyed hash.

The job runs in the worker. It sends nothing for a code that can no longer be used
(answered, superseded by a newer one, expired) or that was already handed over (a job
re-run after a worker died), and holds no transaction while the carrier is called. A
temporary failure is retried by the queue -- only while the code is still valid; a
permanent one (an invalid number), or one whose outcome is unknown (the carrier may have
accepted it: sending again could deliver two codes), is recorded and given up.

Delivery reports arrive at ``/s/sms/status/{challenge id}`` (the web layer checks the
carrier's signature over that exact URL first). The final status -- delivered,
undelivered, failed -- is recorded; the signer's code page reads it to say plainly when a
text could not be delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.identity.sms import FINAL_FAILURES, SmsFailed, StatusCallback
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext, record
from sealwright.services.signer_auth.policy import Method, RecipientAuth
from sealwright.services.signer_auth.sms_otp import open_message
from sealwright.storage.models import (
    Envelope,
    LedgerEvent,
    Recipient,
    SignerChallenge,
    SignerSession,
)

#: The statuses worth a ledger event: the end of the road for a message.
RECORDED_STATUSES = frozenset({"delivered"}) | FINAL_FAILURES
_DELIVERY_TAGS = (EventTag.SMS_QUEUED.value, EventTag.SMS_FAILED.value, EventTag.SMS_STATUS.value)


def phone_ref(rt: Runtime, phone: str) -> str:
    """A pseudonym for a phone number in the ledger: HMAC under the server pepper, because
    a plain hash of a number (a space of about 10^10) is reversed in minutes."""
    mac = hmac.new(rt.otp_pepper, f"sealwright:phone\x00{phone}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the carrier last said about the newest code of a signer session."""

    failed: bool
    status: str


class SmsDelivery:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- the job -------------------------------------------------------------------------

    def run(self, payload: Mapping[str, Any]) -> None:
        job_key, challenge_id = str(payload["key"]), str(payload["challenge"])
        to, body = open_message(self.rt, job_key, str(payload["message"]))
        with self.rt.db.transaction() as session:
            found = _context(session, challenge_id)
            if found is None or not self._worth_sending(session, *found):
                return
        gateway = self.rt.sms
        if gateway is None:
            raise SmsFailed("no SMS gateway configured")
        try:
            sid = gateway.send(to=to, body=body, ref=challenge_id)
        except SmsFailed as exc:
            failure: dict[str, Any] = {
                "reason": exc.reason,
                "permanent": exc.permanent,
                "outcome_unknown": exc.outcome_unknown,
            }
            if exc.error_code is not None:
                failure["error_code"] = exc.error_code
            self._record(challenge_id, EventTag.SMS_FAILED, to, failure)
            if exc.permanent or exc.outcome_unknown:
                return
            raise  # temporary: the queue tries again while the code is still valid
        self._record(challenge_id, EventTag.SMS_QUEUED, to, {"message": sid})

    def _worth_sending(
        self, session: Session, challenge: SignerChallenge, ctx: SignerContext
    ) -> bool:
        if challenge.used_at is not None or challenge.expires_at <= self.rt.clock.now():
            return False
        return not any(
            e["tag"] == EventTag.SMS_QUEUED.value
            for e in _delivery_events(session, ctx, challenge.id)
        )

    # -- delivery reports ----------------------------------------------------------------

    def report(self, challenge_id: str, callback: StatusCallback) -> bool:
        """Record a (signature-checked) delivery report; False when it names no SMS code
        of ours or another number than the recipient's."""
        with self.rt.db.transaction() as session:
            found = _context(session, challenge_id)
            if found is None:
                return False
            _challenge, ctx = found
            phone = RecipientAuth.from_json(ctx.recipient.auth).phone or ""
            if callback.to and callback.to != phone:
                return False
            if callback.status not in RECORDED_STATUSES:
                return True  # queued, sending, sent: on the way; nothing to record
            data: dict[str, Any] = {
                "challenge": challenge_id,
                "message": callback.message_sid,
                "status": callback.status,
                "phone": phone_ref(self.rt, phone),
                "session": ctx.session_ref,
            }
            if callback.error_code is not None:
                data["error_code"] = callback.error_code
            record(self.rt, session, ctx.envelope, ctx.recipient, EventTag.SMS_STATUS, data)
        return True

    # -- what the signer's page shows ----------------------------------------------------

    def latest(self, session: Session, ctx: SignerContext) -> Delivery | None:
        """The last word on the session's newest SMS code (None: no code, or no word yet)."""
        challenge = session.execute(
            select(SignerChallenge)
            .where(
                SignerChallenge.session_hash == ctx.session.token_hash,
                SignerChallenge.method == Method.SMS_OTP.value,
            )
            .order_by(SignerChallenge.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if challenge is None:
            return None
        found = _delivery_events(session, ctx, challenge.id)
        if not found:
            return None
        # A report can overtake the "queued" event (the carrier may call back before the
        # worker has recorded the hand-over): the carrier's word wins.
        reports = [e for e in found if e["tag"] == EventTag.SMS_STATUS.value]
        if reports:
            status = str(reports[-1]["data"].get("status", ""))
            return Delivery(status in FINAL_FAILURES, status)
        if found[-1]["tag"] == EventTag.SMS_FAILED.value:
            return Delivery(True, "not sent")
        return Delivery(False, "queued")

    # -- helpers -------------------------------------------------------------------------

    def _record(self, challenge_id: str, tag: EventTag, to: str, data: dict[str, Any]) -> None:
        with self.rt.db.transaction() as session:
            found = _context(session, challenge_id)
            if found is None:
                return
            _challenge, ctx = found
            full = {
                "challenge": challenge_id,
                **data,
                "phone": phone_ref(self.rt, to),
                "session": ctx.session_ref,
            }
            record(self.rt, session, ctx.envelope, ctx.recipient, tag, full)


def _context(session: Session, challenge_id: str) -> tuple[SignerChallenge, SignerContext] | None:
    """The SMS code challenge ``challenge_id`` and the signer it was sent to."""
    if len(challenge_id) > 64:
        return None
    challenge = session.get(SignerChallenge, challenge_id)
    if challenge is None or challenge.method != Method.SMS_OTP.value:
        return None
    row = session.get(SignerSession, challenge.session_hash)
    recipient = session.get(Recipient, row.recipient_id) if row is not None else None
    env = session.get(Envelope, recipient.envelope_id) if recipient is not None else None
    if row is None or recipient is None or env is None:
        return None
    return challenge, SignerContext(row, recipient, env)


def _delivery_events(
    session: Session, ctx: SignerContext, challenge_id: str
) -> list[dict[str, Any]]:
    """The delivery events of one code, oldest first (the envelope's, filtered by code)."""
    rows = session.execute(
        select(LedgerEvent.leaf)
        .where(LedgerEvent.envelope_id == ctx.envelope.id, LedgerEvent.tag.in_(_DELIVERY_TAGS))
        .order_by(LedgerEvent.idx)
    ).scalars()
    found = []
    for leaf in rows:
        event = json.loads(leaf)
        if event.get("data", {}).get("challenge") == challenge_id:
            found.append(event)
    return found
