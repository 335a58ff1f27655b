"""The reviewers' queue (C5, C7): escalated verifications and requests for assistance,
each with the evidence a reviewer decides on, and the decision itself.

A decision completes the waiting run with the reviewer's ``decision`` evidence, so it is a
signed assertion like any channel result (naming the reviewer's reason), plus an
``operator:review:decided`` event naming the reviewer. A manual review that is denied
stops the envelope: it is voided with the reason recorded. Everything is read through the
reviewer's tenant; another tenant's run is "not found".
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.channels.port import SignerEvidence
from sealwright.domain.envelopes import EnvelopeStatus
from sealwright.domain.events import EventTag
from sealwright.errors import NotFound
from sealwright.services.channel_flow.flow import ASSISTED, PENDING, REVIEW, ChannelFlow
from sealwright.services.envelopes import EnvelopeService
from sealwright.services.orchestrator.history import SignerHistory
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.policy import signer_identity
from sealwright.storage.models import (
    ChannelVerification,
    Envelope,
    Recipient,
    VerificationAssertion,
    VerificationPlan,
)

__all__ = ["QueueItem", "ReviewQueue"]

QUEUED = (REVIEW, ASSISTED)


@dataclass(frozen=True, slots=True)
class QueueItem:
    verification: str
    kind: str
    for_channel: str | None
    envelope: str
    title: str
    document_class: str
    transaction_value: int | None
    recipient: str
    recipient_name: str
    since: datetime
    expires_at: datetime
    #: Why it is here: the escalated or failed runs, or the assistance request.
    reasons: list[str]
    #: Every run of the recipient, with its assertion's details.
    evidence: list[dict[str, Any]]
    #: A risk-based recipient's plan (D4): score, tier, state, the decision's explanation
    #: and the fallbacks taken with their rationale; None for a fixed set of channels.
    risk: dict[str, Any] | None = None


class ReviewQueue:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.flow = ChannelFlow(rt)

    def pending(self, session: Session, tenant_id: str) -> list[QueueItem]:
        q = (
            select(ChannelVerification, Envelope, Recipient)
            .join(Envelope, Envelope.id == ChannelVerification.envelope_id)
            .join(Recipient, Recipient.id == ChannelVerification.recipient_id)
            .where(
                Envelope.tenant_id == tenant_id,
                ChannelVerification.status == PENDING,
                ChannelVerification.channel.in_(QUEUED),
            )
            .order_by(ChannelVerification.started_at)
        )
        return [self._item(session, run, env, r) for run, env, r in session.execute(q)]

    def item(self, session: Session, tenant_id: str, verification_id: str) -> QueueItem:
        for item in self.pending(session, tenant_id):
            if item.verification == verification_id:
                return item
        raise NotFound("review not found")

    def decide(
        self,
        session: Session,
        tenant_id: str,
        verification_id: str,
        *,
        approve: bool,
        reason: str,
        actor: str,
    ) -> ChannelVerification:
        item = self.item(session, tenant_id, verification_id)
        verdict = "approve" if approve else "deny"
        row = self.flow.complete(
            session, verification_id, SignerEvidence("decision", f"{verdict}:{reason}"), by=actor
        )
        env = session.get(Envelope, item.envelope)
        assert env is not None
        self.rt.audit.append(
            session,
            EventTag.REVIEW_DECIDED,
            tenant=tenant_id,
            envelope=env.id,
            actor=actor,
            data={
                "verification": row.id,
                "kind": item.kind,
                "for_channel": item.for_channel,
                "recipient": item.recipient,
                "decision": verdict,
                "assertion": row.assertion_id,
            },
        )
        if item.kind == REVIEW and not approve:
            recipient = session.get(Recipient, item.recipient)
            assert recipient is not None
            SignerHistory(self.rt).flag(  # the risk engine remembers it (D1)
                session,
                tenant_id=tenant_id,
                identity=signer_identity(tenant_id, recipient.email),
                severity="high",
                reason=f"manual review denied: {reason.strip()}",
                source=actor,
            )
            if env.status == EnvelopeStatus.SENT.value:
                EnvelopeService(self.rt).void(
                    session, env, actor=actor, reason=f"manual review denied: {reason.strip()}"
                )
        return row

    # -- internals -----------------------------------------------------------------------

    def _item(
        self, session: Session, row: ChannelVerification, env: Envelope, r: Recipient
    ) -> QueueItem:
        runs = list(
            session.execute(
                select(ChannelVerification)
                .where(ChannelVerification.recipient_id == r.id)
                .order_by(ChannelVerification.started_at)
            ).scalars()
        )
        assertions = {
            a.id: a
            for a in session.execute(
                select(VerificationAssertion).where(VerificationAssertion.recipient_id == r.id)
            ).scalars()
        }
        evidence: list[dict[str, Any]] = [
            {
                "channel": run.channel,
                "status": run.status,
                "started_at": run.started_at,
                "details": _details(assertions.get(run.assertion_id or "")),
                "assertion": run.assertion_id,
            }
            for run in runs
            if run.id != row.id
        ]
        for_channel = row.state.get("for_channel") if row.channel == ASSISTED else None
        if row.channel == ASSISTED:
            reasons = [f"the signer asked for help with {for_channel}"]
        else:
            reasons = [
                _reason(e["channel"], e["status"], e["details"])
                for e in evidence
                if e["status"] in ("escalated", "failed", "locked", "expired")
            ] or ["the sender requires a manual review"]
        return QueueItem(
            verification=row.id,
            kind=row.channel,
            for_channel=str(for_channel) if for_channel else None,
            envelope=env.id,
            title=env.title,
            document_class=env.document_class,
            transaction_value=env.transaction_value,
            recipient=r.id,
            recipient_name=r.name,
            since=row.started_at,
            expires_at=row.expires_at,
            reasons=reasons,
            evidence=evidence,
            risk=_risk(session.get(VerificationPlan, r.id)),
        )


def _risk(row: VerificationPlan | None) -> dict[str, Any] | None:
    if row is None:
        return None
    plan = row.plan
    decision = plan.get("decision") or {}
    return {
        "score": plan.get("score"),
        "tier": plan.get("tier"),
        "state": row.state,
        "explanation": list(decision.get("explanation") or []),
        "fallbacks": [
            f.get("rationale") or f"{f.get('from')} -> {f.get('to')}"
            for f in plan.get("fallbacks") or []
            if isinstance(f, dict)
        ],
    }


def _reason(channel: str, status: str, details: dict[str, Any]) -> str:
    why = details.get("reason")
    return f"{channel}: {status}" + (f" ({why})" if why else "")


def _details(assertion: VerificationAssertion | None) -> dict[str, Any]:
    """The signed details of an assertion (its payload, read without re-verifying: the
    service issued and stored it; the offline verifier is what checks signatures)."""
    if assertion is None:
        return {}
    payload = assertion.compact.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    details: dict[str, Any] = claims.get("details", {})
    return details
