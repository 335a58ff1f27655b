"""The signer's side of the ceremony: one-time link → email OTP → consent → review → sign.

Every refusal here raises the same opaque AuthenticationFailed towards the signer; the
precise reason goes to the audit log (and only there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from sealwright.clock import rfc3339
from sealwright.domain.envelopes import (
    EnvelopeAction,
    EnvelopeStatus,
    RecipientAction,
    RecipientRole,
    RecipientStatus,
    RoutingSlot,
    all_signed,
    envelope_next,
    recipient_next,
)
from sealwright.domain.events import EventTag
from sealwright.domain.signature import MEANING, SignatureInput
from sealwright.errors import AuthenticationFailed, Conflict, ValidationError
from sealwright.identity.secrets import new_token, token_digest
from sealwright.keys.aead import encrypt_bytes
from sealwright.services.email_otp import EmailOtp
from sealwright.services.envelopes import EnvelopeService
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import (
    SignerContext,
    field_aad,
    record,
    refuse,
    signer_aad,
)
from sealwright.storage.models import Envelope, Field, Recipient, SignerSession, SigningLink

SEAL_JOB = "envelope.seal"
#: Envelope states in which a recipient's link and session still work: viewers (copies)
#: may still open a completed envelope; signers only one that is out for signature.
_OPEN_FOR = {
    RecipientRole.SIGNER: {EnvelopeStatus.SENT.value},
    RecipientRole.VIEWER: {EnvelopeStatus.SENT.value, EnvelopeStatus.COMPLETED.value},
}


class CeremonyService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.envelopes = EnvelopeService(rt)
        self.otp = EmailOtp(rt)

    # -- link ----------------------------------------------------------------------------

    def peek_link(self, session: Session, token: str) -> tuple[Recipient, Envelope]:
        """Check a link without using it (the landing page; mail scanners only GET)."""
        _link, recipient, env = self._usable_link(session, token)
        return recipient, env

    def redeem_link(self, session: Session, token: str) -> str:
        """Use the one-time link: returns a new signer-session token and mails an OTP."""
        link, recipient, env = self._usable_link(session, token)
        now = self.rt.clock.now()
        link.used_at = now
        session_token = new_token()
        row = SignerSession(
            token_hash=token_digest(session_token),
            recipient_id=recipient.id,
            created_at=now,
            expires_at=now + timedelta(seconds=self.rt.settings.signer_session_ttl),
            otp_attempts=0,
            otp_sends=0,
        )
        session.add(row)
        session.flush()
        record(self.rt, session, env, recipient, EventTag.LINK_OPENED)
        self.otp.send(session, SignerContext(row, recipient, env))
        return session_token

    def _usable_link(self, session: Session, token: str) -> tuple[SigningLink, Recipient, Envelope]:
        link = session.get(SigningLink, token_digest(token))
        if link is None:
            raise AuthenticationFailed()
        recipient = session.get(Recipient, link.recipient_id)
        env = session.get(Envelope, recipient.envelope_id) if recipient else None
        assert recipient is not None
        assert env is not None
        reason = ""
        self.expire_if_due(session, env)
        if link.used_at is not None:
            reason = "link already used"
        elif link.expires_at <= self.rt.clock.now():
            reason = "link expired"
        elif env.status not in _OPEN_FOR[RecipientRole(recipient.role)]:
            reason = f"envelope is {env.status}"
        if reason:
            refuse(self.rt, session, env, recipient, EventTag.LINK_REFUSED, reason)
        return link, recipient, env

    # -- session -------------------------------------------------------------------------

    def resolve(self, session: Session, session_token: str | None) -> SignerContext:
        if not session_token:
            raise AuthenticationFailed()
        row = session.get(SignerSession, token_digest(session_token))
        if row is None:
            raise AuthenticationFailed()
        recipient = session.get(Recipient, row.recipient_id)
        env = session.get(Envelope, recipient.envelope_id) if recipient else None
        assert recipient is not None
        assert env is not None
        reason = ""
        self.expire_if_due(session, env)
        if row.expires_at <= self.rt.clock.now():
            reason = "signer session expired"
        elif row.locked_at is not None:
            reason = "signer session locked"
        if reason:
            refuse(self.rt, session, env, recipient, EventTag.SESSION_REFUSED, reason)
        return SignerContext(row, recipient, env)

    def expire_if_due(self, session: Session, env: Envelope) -> None:
        """Envelopes expire lazily here (and, later, by a scheduled job): a sent envelope
        past its expiry can no longer be signed."""
        now = self.rt.clock.now()
        if env.status == EnvelopeStatus.SENT.value and env.expires_at and env.expires_at <= now:
            env.status = envelope_next(EnvelopeStatus(env.status), EnvelopeAction.EXPIRE).value
            env.status_reason = "expired before every signer had signed"
            self.rt.audit.append(
                session,
                EventTag.ENVELOPE_EXPIRED,
                tenant=env.tenant_id,
                envelope=env.id,
                actor="system",
            )

    def acknowledge(self, session: Session, ctx: SignerContext) -> None:
        """A viewer (carbon copy) has opened the documents: they are done."""
        self.require_consent(ctx)
        r = ctx.recipient
        if r.role != RecipientRole.VIEWER.value or r.status != RecipientStatus.NOTIFIED.value:
            return
        r.status = recipient_next(
            RecipientRole(r.role), RecipientStatus(r.status), RecipientAction.RECEIVE
        ).value
        record(self.rt, session, ctx.envelope, r, EventTag.RECIPIENT_RECEIVED)

    # -- email OTP -----------------------------------------------------------------------

    # -- consent, review -----------------------------------------------------------------

    def require_verified(self, ctx: SignerContext) -> None:
        if ctx.session.otp_verified_at is None:
            raise AuthenticationFailed()

    def give_consent(self, session: Session, ctx: SignerContext) -> None:
        self.require_verified(ctx)
        if ctx.session.consent_at is None:
            ctx.session.consent_at = self.rt.clock.now()
            record(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.CONSENT_GIVEN,
                {"disclosure": "esign-ueta-v1"},
            )

    def require_consent(self, ctx: SignerContext) -> None:
        self.require_verified(ctx)
        if ctx.session.consent_at is None:
            raise Conflict("consent to electronic records first")

    def record_view(
        self, session: Session, ctx: SignerContext, document_id: str, page: int | None = None
    ) -> None:
        data: dict[str, Any] = {"document": document_id}
        if page is not None:
            data["page"] = page
        record(self.rt, session, ctx.envelope, ctx.recipient, EventTag.DOCUMENT_VIEWED, data)

    def my_fields(self, session: Session, ctx: SignerContext) -> list[Field]:
        return [
            f
            for f in self.envelopes.fields(session, ctx.envelope.id)
            if f.recipient_id == ctx.recipient.id
        ]

    # -- sign / decline ------------------------------------------------------------------

    def sign(
        self,
        session: Session,
        ctx: SignerContext,
        *,
        values: Mapping[str, str],
        signature: SignatureInput,
    ) -> None:
        self.require_consent(ctx)
        if ctx.recipient.role != RecipientRole.SIGNER.value:
            raise Conflict("you receive a copy of this envelope; there is nothing to sign")
        if ctx.recipient.status != RecipientStatus.NOTIFIED.value:
            raise Conflict("you have already completed this envelope")
        if ctx.envelope.status != EnvelopeStatus.SENT.value:
            raise Conflict(f"this envelope is {ctx.envelope.status}")
        signature.validate()
        now = self.rt.clock.now()
        fields = self.my_fields(session, ctx)
        filled: dict[str, str] = {}
        for f in fields:
            if f.kind in ("signature", "initials"):
                filled[f.id] = ""  # the signature input itself fills these
            elif f.kind == "date":
                filled[f.id] = now.strftime("%Y-%m-%d")
            else:
                value = values.get(f.id, "").strip()
                if len(value) > 500:
                    raise ValidationError(f"text in field {f.label or f.id} is too long")
                if f.required and not value:
                    raise ValidationError(f"fill in the field {f.label or f.id!r}")
                filled[f.id] = value
        for f in fields:
            f.value = encrypt_bytes(
                filled[f.id].encode(), keyring=self.rt.keyring, aad=field_aad(f.id)
            )
            record(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.FIELD_FILLED,
                {"field": f.id, "kind": f.kind},
            )
        strokes_json = json.dumps([list(map(list, s)) for s in signature.strokes]).encode()
        signature_record: dict[str, Any] = {
            "kind": signature.kind,
            "text": signature.text.strip(),
            "strokes": json.loads(strokes_json),
            "signed_at": rfc3339(now),
            "meaning": MEANING,
        }
        r = ctx.recipient
        r.sealed_input = encrypt_bytes(
            json.dumps(signature_record).encode(), keyring=self.rt.keyring, aad=signer_aad(r.id)
        )
        r.status = recipient_next(
            RecipientRole(r.role), RecipientStatus(r.status), RecipientAction.SIGN
        ).value
        r.signed_at = now
        docs = self.envelopes.documents(session, ctx.envelope.id)
        verified = ctx.session.otp_verified_at
        assert verified is not None
        record(
            self.rt,
            session,
            ctx.envelope,
            r,
            EventTag.RECIPIENT_SIGNED,
            {
                "documents": [{"document": d.id, "sha256": d.sha256} for d in docs],
                "signature": {
                    "kind": signature.kind,
                    "strokes_sha256": hashlib.sha256(strokes_json).hexdigest(),
                    "points": sum(len(s) for s in signature.strokes),
                },
                "meaning": MEANING,
                "authentication": [
                    {
                        "method": "email-otp",
                        "at": rfc3339(verified),
                        "age_seconds": int((now - verified).total_seconds()),
                    }
                ],
                "consent_at": rfc3339(ctx.session.consent_at) if ctx.session.consent_at else None,
            },
        )
        self.advance(session, ctx.envelope)

    def decline(self, session: Session, ctx: SignerContext, reason: str) -> None:
        self.require_verified(ctx)
        reason = reason.strip()
        if not reason:
            raise ValidationError("say why you decline")
        if len(reason) > 2000:
            raise ValidationError("the reason is too long (2000 characters at most)")
        r, env = ctx.recipient, ctx.envelope
        r.status = recipient_next(
            RecipientRole(r.role), RecipientStatus(r.status), RecipientAction.DECLINE
        ).value
        r.declined_at = self.rt.clock.now()
        r.sealed_input = encrypt_bytes(
            json.dumps({"decline_reason": reason}).encode(),
            keyring=self.rt.keyring,
            aad=signer_aad(r.id),
        )
        record(self.rt, session, env, r, EventTag.RECIPIENT_DECLINED)
        env.status = envelope_next(EnvelopeStatus(env.status), EnvelopeAction.DECLINE).value
        env.status_reason = "declined by a recipient"
        self.rt.audit.append(
            session,
            EventTag.ENVELOPE_DECLINED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor="system",
            data={"recipient": r.id},
        )

    def advance(self, session: Session, env: Envelope) -> None:
        """After a signature: notify the next routing group, or complete and queue sealing."""
        recipients = self.envelopes.recipients(session, env.id)
        slots = [
            RoutingSlot(r.id, RecipientRole(r.role), r.routing_order, RecipientStatus(r.status))
            for r in recipients
        ]
        self.envelopes.notify_due(session, env)  # the next group, or the last viewers
        if not all_signed(slots):
            return
        env.status = envelope_next(EnvelopeStatus(env.status), EnvelopeAction.COMPLETE).value
        env.completed_at = self.rt.clock.now()
        env.seal_status = "pending"
        self.rt.audit.append(
            session,
            EventTag.ENVELOPE_COMPLETED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor="system",
        )
        self.rt.jobs.enqueue(session, SEAL_JOB, {"envelope": env.id}, key=env.id)
