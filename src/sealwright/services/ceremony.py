"""The signer's side of the ceremony: one-time link → the authentication methods the
sender required (email OTP by default) → consent → review → step-up check → sign.

Every refusal here raises the same opaque AuthenticationFailed towards the signer; the
precise reason goes to the audit log (and only there). Presenting unknown links or
sessions counts against the client IP like a wrong code (B8).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
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
from sealwright.errors import (
    AuthenticationFailed,
    Conflict,
    StepUpRequired,
    ValidationError,
    VerificationRequired,
)
from sealwright.identity.secrets import new_token, token_digest
from sealwright.keys.aead import encrypt_bytes
from sealwright.services.channel_flow.flow import ChannelFlow
from sealwright.services.envelopes import EnvelopeService
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import (
    RecordedRefusal,
    SignerContext,
    field_aad,
    record,
    refuse,
    signer_aad,
)
from sealwright.services.signer_auth.base import SignerMethod, Verifications
from sealwright.services.signer_auth.policy import Method, RecipientAuth
from sealwright.services.signer_auth.registry import signer_methods
from sealwright.services.signer_auth.step_up import AuthState, auth_state
from sealwright.services.throttle import Backoff, Throttle
from sealwright.storage.models import Envelope, Field, Recipient, SignerSession, SigningLink

SEAL_JOB = "envelope.seal"
#: Envelope states in which a recipient's link and session still work: viewers (copies)
#: may still open a completed envelope; signers only one that is out for signature.
_OPEN_FOR = {
    RecipientRole.SIGNER: {EnvelopeStatus.SENT.value},
    RecipientRole.VIEWER: {EnvelopeStatus.SENT.value, EnvelopeStatus.COMPLETED.value},
}


GUESS_SCOPE = "guess:ip"
#: Tenant recorded on events that belong to no tenant (as ``web.auth.UNATTRIBUTED``).
UNATTRIBUTED = "_unattributed"


class CeremonyService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.envelopes = EnvelopeService(rt)
        self.methods: dict[Method, SignerMethod] = signer_methods(rt)
        self.verifications = Verifications(rt)
        self._throttle = Throttle(clock=rt.clock, pepper=rt.otp_pepper)
        s = rt.settings
        self._guess_backoff = Backoff(
            s.link_guess_free_attempts, s.auth_backoff_base, s.auth_backoff_max
        )

    # -- link ----------------------------------------------------------------------------

    def peek_link(
        self, session: Session, token: str, client_ip: str = ""
    ) -> tuple[Recipient, Envelope]:
        """Check a link without using it (the landing page; mail scanners only GET)."""
        _link, recipient, env = self._usable_link(session, token, client_ip)
        return recipient, env

    def redeem_link(self, session: Session, token: str, client_ip: str = "") -> str:
        """Use the one-time link: returns a new signer-session token (and sends a code by
        email or SMS when those are among the recipient's methods)."""
        link, recipient, env = self._usable_link(session, token, client_ip)
        link.used_at = self.rt.clock.now()
        record(self.rt, session, env, recipient, EventTag.LINK_OPENED)
        return self.start_session(session, recipient, env, client_ip=client_ip)

    def start_session(
        self, session: Session, recipient: Recipient, env: Envelope, *, client_ip: str = ""
    ) -> str:
        """A new signer session for ``recipient``, who has proved nothing yet: returns its
        token (only its hash is stored). Every entry point -- the one-time link, embedded
        signing -- starts sessions here, so the required methods apply to all of them."""
        now = self.rt.clock.now()
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
        required = self.required(recipient).methods
        ctx = SignerContext(row, recipient, env, client_ip)
        for sent in (Method.EMAIL_OTP, Method.SMS_OTP):  # codes go out as the session opens
            if sent in required and sent in self.methods:
                self.methods[sent].begin(session, ctx)
        return session_token

    def _guessed(self, session: Session, client_ip: str, what: str) -> None:
        """An unknown link or session token: counted against the client IP (B8)."""
        if not client_ip:
            raise AuthenticationFailed()
        failure = self._throttle.failure(session, GUESS_SCOPE, client_ip, self._guess_backoff)
        if failure.locked_until is not None:
            self.rt.audit.append(
                session,
                EventTag.AUTH_THROTTLED,
                tenant=UNATTRIBUTED,
                actor="anonymous",
                data={"reason": f"unknown {what}s", "failures": failure.count},
            )
        raise RecordedRefusal()

    def _usable_link(
        self, session: Session, token: str, client_ip: str = ""
    ) -> tuple[SigningLink, Recipient, Envelope]:
        if client_ip:
            self._throttle.check(session, (GUESS_SCOPE, client_ip))
        link = session.get(SigningLink, token_digest(token))
        if link is None:
            self._guessed(session, client_ip, "link")
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

    def resolve(
        self, session: Session, session_token: str | None, client_ip: str = ""
    ) -> SignerContext:
        if not session_token:
            raise AuthenticationFailed()
        if client_ip:
            self._throttle.check(session, (GUESS_SCOPE, client_ip))
        row = session.get(SignerSession, token_digest(session_token))
        if row is None:
            self._guessed(session, client_ip, "signer session")
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
        return SignerContext(row, recipient, env, client_ip)

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
        self.require_consent(session, ctx)
        r = ctx.recipient
        if r.role != RecipientRole.VIEWER.value or r.status != RecipientStatus.NOTIFIED.value:
            return
        r.status = recipient_next(
            RecipientRole(r.role), RecipientStatus(r.status), RecipientAction.RECEIVE
        ).value
        record(self.rt, session, ctx.envelope, r, EventTag.RECIPIENT_RECEIVED)

    # -- authentication methods ----------------------------------------------------------

    @staticmethod
    def required(recipient: Recipient) -> RecipientAuth:
        return RecipientAuth.from_json(recipient.auth)

    def auth_state(self, session: Session, ctx: SignerContext) -> AuthState:
        latest = Verifications.latest(session, ctx)
        return auth_state(
            self.required(ctx.recipient).methods, {m: v.verified_at for m, v in latest.items()}
        )

    def max_auth_age(self, env: Envelope) -> int:
        return env.max_auth_age or self.rt.settings.signer_max_auth_age

    def method(self, ctx: SignerContext, name: str) -> SignerMethod:
        """One of the recipient's required methods; anything else is refused opaquely."""
        try:
            method = Method(name)
        except ValueError:
            raise AuthenticationFailed() from None
        if method not in self.required(ctx.recipient).methods or method not in self.methods:
            raise AuthenticationFailed()
        return self.methods[method]

    # -- consent, review -----------------------------------------------------------------

    def require_verified(self, session: Session, ctx: SignerContext) -> None:
        """Every required method passed in this session (freshness is checked at signing)."""
        if not self.auth_state(session, ctx).complete:
            raise AuthenticationFailed()

    def give_consent(self, session: Session, ctx: SignerContext) -> None:
        self.require_verified(session, ctx)
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

    def require_consent(self, session: Session, ctx: SignerContext) -> None:
        self.require_verified(session, ctx)
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
        self.require_consent(session, ctx)
        if ctx.recipient.role != RecipientRole.SIGNER.value:
            raise Conflict("you receive a copy of this envelope; there is nothing to sign")
        if ctx.recipient.status != RecipientStatus.NOTIFIED.value:
            raise Conflict("you have already completed this envelope")
        if ctx.envelope.status != EnvelopeStatus.SENT.value:
            raise Conflict(f"this envelope is {ctx.envelope.status}")
        signature.validate()
        now = self.rt.clock.now()
        state = self.auth_state(session, ctx)
        max_age = self.max_auth_age(ctx.envelope)
        self.require_fresh(session, ctx, state, now, max_age)
        channels = self.require_channels(session, ctx)
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
                    {"method": m.value, "at": rfc3339(at), "age_seconds": age}
                    for m, at, age in state.evidence(now)
                ],
                "max_auth_age_seconds": max_age,
                **({"verifications": channels} if channels else {}),
                "session": ctx.session_ref,
                "consent_at": rfc3339(ctx.session.consent_at) if ctx.session.consent_at else None,
            },
        )
        self.advance(session, ctx.envelope)

    def require_fresh(
        self, session: Session, ctx: SignerContext, state: AuthState, now: datetime, max_age: int
    ) -> None:
        """Step-up (B6): refuse, recorded, unless the freshest qualifying verification is
        recent enough (services/signer_auth/step_up.py states the rule)."""
        decision = state.decide(now, max_age)
        if decision.ok:
            return
        record(
            self.rt,
            session,
            ctx.envelope,
            ctx.recipient,
            EventTag.STEP_UP_REQUIRED,
            {
                "reason": decision.reason,
                "max_auth_age_seconds": max_age,
                "session": ctx.session_ref,
                **({"age_seconds": decision.age_seconds} if decision.age_seconds else {}),
            },
        )
        raise StepUpRequired()

    def require_channels(self, session: Session, ctx: SignerContext) -> list[dict[str, str]]:
        """No signature while a required out-of-band channel is unpassed (C); otherwise the
        passed runs' assertions, which the signature event names."""
        flow = ChannelFlow(self.rt)
        missing = flow.unpassed(session, ctx.recipient)
        if missing:
            record(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.SIGN_BLOCKED,
                {"channels": list(missing), "session": ctx.session_ref},
            )
            raise VerificationRequired(missing)
        passed = [
            r
            for r in flow.latest(session, ctx.recipient).values()
            if r.status == "passed" and r.assertion_id
        ]
        return [{"channel": r.channel, "assertion": str(r.assertion_id)} for r in passed]

    def decline(self, session: Session, ctx: SignerContext, reason: str) -> None:
        self.require_verified(session, ctx)
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
