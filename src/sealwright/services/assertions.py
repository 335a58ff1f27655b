"""Issuing signed assertions (C): a channel's final result, signed, stored and logged.

``AssertionService.issue`` does three things in the caller's transaction, so they happen
together or not at all: it signs the claims (channels/assertions.py) with the current
assertion key, stores the compact form in ``verification_assertions`` (append-only), and
appends ``system:assertion:issued`` naming the assertion id, channel, result, recipient,
its pseudonymous id and the SHA-256 of the compact form -- the link the offline verifier
follows from the ledger to the assertion in an evidence bundle. The claims' details and
consent stay out of the ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.channels.assertions import AssertionClaims, ConsentClaim, sign_assertion
from sealwright.channels.keys import ChannelKeys
from sealwright.channels.port import Consent, DetailValue, Outcome
from sealwright.channels.pseudonym import recipient_pseudonym
from sealwright.clock import Clock, Random
from sealwright.domain.events import EventTag
from sealwright.errors import NotFound, ValidationError
from sealwright.evidence.manifest_jws import b64url_encode
from sealwright.services.audit import AuditLog
from sealwright.storage.models import Document, Envelope, Recipient, VerificationAssertion

__all__ = ["AssertionService", "IssuedAssertion"]


@dataclass(frozen=True, slots=True)
class IssuedAssertion:
    id: str
    channel: str
    compact: str
    sha256: str
    claims: AssertionClaims


class AssertionService:
    def __init__(self, *, clock: Clock, random: Random, keys: ChannelKeys, audit: AuditLog) -> None:
        self._clock = clock
        self._random = random
        self._keys = keys
        self._audit = audit

    def subject(self, tenant: str, recipient_id: str) -> str:
        """The pseudonymous recipient id assertions and QR codes carry."""
        return recipient_pseudonym(self._keys.pseudonym_key, tenant, recipient_id)

    def issue(
        self,
        session: Session,
        *,
        envelope_id: str,
        recipient_id: str,
        channel: str,
        result: Outcome,
        nonce: bytes,
        details: Mapping[str, DetailValue] | None = None,
        consent: Consent | None = None,
        actor: str = "system",
    ) -> IssuedAssertion:
        env = session.get(Envelope, envelope_id)
        recipient = session.get(Recipient, recipient_id)
        if env is None or recipient is None or recipient.envelope_id != env.id:
            raise NotFound("recipient not found")
        hashes = sorted({d.sha256 for d in _documents(session, env.id)})
        if not hashes:
            raise ValidationError("an assertion binds the envelope's documents; it has none")
        if len(nonce) < 16:
            raise ValidationError("an assertion nonce is at least 16 bytes")
        now = self._clock.now()
        claims = AssertionClaims(
            jti=self._random.token_bytes(16).hex(),
            iat=int(now.timestamp()),
            envelope=env.id,
            documents=tuple(hashes),
            sub=self.subject(env.tenant_id, recipient.id),
            channel=channel,
            nonce=b64url_encode(nonce),
            result=result,
            details=dict(details or {}),
            consent=None
            if consent is None
            else ConsentClaim(consent.text_id, int(consent.given_at.timestamp())),
        )
        keys = self._keys.assertions
        kid, private_key = keys.current.kid, keys.private_key_for_current()
        compact = sign_assertion(claims, private_key, kid)
        digest = hashlib.sha256(compact.encode("ascii")).hexdigest()
        session.add(
            VerificationAssertion(
                id=claims.jti,
                envelope_id=env.id,
                recipient_id=recipient.id,
                channel=channel,
                compact=compact,
                created_at=now,
            )
        )
        session.flush()
        self._audit.append(
            session,
            EventTag.ASSERTION_ISSUED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor=actor,
            data={
                "assertion": claims.jti,
                "channel": channel,
                "result": result.value,
                "recipient": recipient.id,
                "subject": claims.sub,
                "sha256": digest,
                "kid": kid,
            },
        )
        return IssuedAssertion(claims.jti, channel, compact, digest, claims)

    @staticmethod
    def for_envelope(session: Session, envelope_id: str) -> Sequence[VerificationAssertion]:
        q = (
            select(VerificationAssertion)
            .where(VerificationAssertion.envelope_id == envelope_id)
            .order_by(VerificationAssertion.created_at, VerificationAssertion.id)
        )
        return list(session.execute(q).scalars())


def _documents(session: Session, envelope_id: str) -> Sequence[Document]:
    return list(
        session.execute(select(Document).where(Document.envelope_id == envelope_id)).scalars()
    )
