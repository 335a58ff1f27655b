"""The risk orchestrator (D4): one verification plan per risk-based recipient.

``observe`` runs on the signer's pages (the channel list, starting a channel, the review,
pressing "sign"): it records an observation when the address, country or device changed,
scores the request (``risk.assess``), decides (``risk.decide``) and creates the plan or
re-assesses it -- a higher tier steps the plan up, a lower one never lowers the bar.
``on_run_final`` runs inside the channel flow when a run ends: a channel that failed for
good (the phone unreachable, the camera denied, a text undeliverable) is replaced by the
policy's next fallback, with the rationale in the ledger. Everything is appended to the
envelope's ledger, so the evidence bundle shows the whole path (docs/orchestrator.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.channels.port import ChannelResult, Outcome
from sealwright.domain.events import EventTag
from sealwright.risk.context import GeoPoint, MotionResult, RequestInfo
from sealwright.risk.decision import PolicyDecision, decide
from sealwright.risk.plan import Basis, Plan, PlanEvent, from_decision
from sealwright.risk.score import RiskAssessment, assess
from sealwright.services.orchestrator.evidence import PLAN_TAGS, assessed_data, trigger_of
from sealwright.services.orchestrator.history import SignerHistory
from sealwright.services.orchestrator.signals import (
    RequestSignals,
    attestation,
    fingerprint,
    gather,
    geo_of,
    ip_ref,
    observations,
)
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.policy import RecipientAuth, signer_identity
from sealwright.storage.models import (
    ChannelVerification,
    Envelope,
    Recipient,
    SignerObservation,
    VerificationPlan,
)

__all__ = ["FALLBACK_CALLS", "FALLBACK_REASONS", "Orchestrator", "planned_channels"]

#: Call endings after which the phone is taken as unreachable (a fallback starts).
FALLBACK_CALLS = frozenset({"busy", "no-answer", "failed", "canceled", "dropped", "machine"})
#: Other reasons a channel cannot work for this signer. A locked or expired PIN is not
#: one: the signer may simply try again.
FALLBACK_REASONS = frozenset({"camera-denied", "undeliverable", "no-phone"})


def planned_channels(
    session: Session, recipient: Recipient, passed: frozenset[str]
) -> tuple[str, ...]:
    """The channels a risk-based recipient's plan asks for (none without a plan)."""
    if not RecipientAuth.from_json(recipient.auth).risk_based:
        return ()
    row = session.get(VerificationPlan, recipient.id)
    return () if row is None else Plan.from_json(row.plan).channels(passed)


class Orchestrator:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def observe(
        self,
        session: Session,
        ctx: SignerContext,
        info: RequestSignals,
        *,
        motion: Any = None,
    ) -> Plan | None:
        """Score this request and create or re-assess the recipient's plan. ``motion`` is
        a ``risk.motion.MotionAssessment`` of a drawn signature. None: not risk-based."""
        recipient, env = ctx.recipient, ctx.envelope
        auth = RecipientAuth.from_json(recipient.auth)
        if not auth.risk_based:
            return None
        now = self.rt.clock.now()
        identity = signer_identity(env.tenant_id, recipient.email)
        geo = geo_of(self.rt, info.ip)
        pseudonym = ip_ref(self.rt.otp_pepper, info.ip)
        attested = attestation(session, recipient.id)
        basis = Basis(
            country=geo.country if geo else None,
            ip_ref=pseudonym,
            device_id=info.device_id,
            attestation=attested,
        )
        row = session.get(VerificationPlan, recipient.id, with_for_update=True)
        plan = None if row is None else Plan.from_json(row.plan)
        last = observations(session, recipient.id)[-1:]
        moved = not last or _moved(last[0], basis, geo)
        if plan is not None and not moved and motion is None and not plan.basis.changed(basis):
            return plan
        request = RequestInfo(
            at=now,
            ip=info.ip,
            user_agent=info.user_agent or None,
            device_id=info.device_id,
            fingerprint_hash=fingerprint(info),
            geo=geo,
        )
        context = gather(
            session,
            envelope=env,
            recipient=recipient,
            identity=identity,
            request=request,
            ip_pseudonym=pseudonym,
            motion=None if motion is None else MotionResult.of(motion),
            attested=attested,
        )
        context = replace(context, fraud_flags=SignerHistory.flags(session, identity))
        if moved:
            session.add(
                SignerObservation(
                    id=uuid.uuid4().hex,
                    recipient_id=recipient.id,
                    identity=identity,
                    at=now,
                    ip_ref=pseudonym,
                    country=basis.country,
                    lat=geo.lat if geo else None,
                    lon=geo.lon if geo else None,
                    device_id=info.device_id,
                    fingerprint=request.fingerprint_hash,
                )
            )
        policy = self.rt.risk_policy
        assessment = assess(context, policy.signals())
        decision = decide(policy, assessment, env.document_class)
        trigger = trigger_of(plan, basis, motion)
        self._assessed(session, env, recipient, assessment, decision, trigger)
        if plan is None:
            plan, events = from_decision(
                decision, basis, phone_on_file=bool(auth.phone), chain=policy.fallbacks
            )
        else:
            plan, events = plan.reassess(decision, basis)
        self._save(session, env, recipient, row, plan)
        self._record(session, env, recipient, events)
        return plan

    def on_run_final(
        self,
        session: Session,
        row: ChannelVerification,
        env: Envelope,
        recipient: Recipient,
        result: ChannelResult,
    ) -> Plan | None:
        """A run ended: a pass moves the plan on; a failure that says the channel cannot
        work for this signer starts the policy's fallback, with its rationale."""
        auth = RecipientAuth.from_json(recipient.auth)
        stored = session.get(VerificationPlan, recipient.id, with_for_update=True)
        if not auth.risk_based or stored is None:
            return None
        plan = Plan.from_json(stored.plan)
        if result.outcome is Outcome.PASSED:
            plan, events = plan.on_passed(_passed(session, recipient))
        else:
            reason = fallback_reason(result.details)
            if reason is None:
                return plan
            plan, events = plan.on_channel_failed(
                row.channel, reason, phone_on_file=bool(auth.phone)
            )
        self._save(session, env, recipient, stored, plan)
        self._record(session, env, recipient, events, verification=row.id)
        return plan

    # -- internals -----------------------------------------------------------------------

    def _save(
        self,
        session: Session,
        env: Envelope,
        recipient: Recipient,
        row: VerificationPlan | None,
        plan: Plan,
    ) -> None:
        now = self.rt.clock.now()
        if row is None:
            session.add(
                VerificationPlan(
                    recipient_id=recipient.id,
                    envelope_id=env.id,
                    state=plan.state,
                    plan=plan.to_json(),
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.state, row.plan, row.updated_at = plan.state, plan.to_json(), now
        session.flush()

    def _assessed(
        self,
        session: Session,
        env: Envelope,
        recipient: Recipient,
        assessment: RiskAssessment,
        decision: PolicyDecision,
        trigger: str,
    ) -> None:
        self.rt.audit.append(
            session,
            EventTag.RISK_ASSESSED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor="system",
            data=assessed_data(recipient.id, assessment, decision, trigger),
        )

    def _record(
        self,
        session: Session,
        env: Envelope,
        recipient: Recipient,
        events: Sequence[PlanEvent],
        *,
        verification: str | None = None,
    ) -> None:
        for event in events:
            extra = {"verification": verification} if verification else {}
            self.rt.audit.append(
                session,
                PLAN_TAGS[event.kind],
                tenant=env.tenant_id,
                envelope=env.id,
                actor="system",
                data={"recipient": recipient.id, **extra, **event.data},
            )


def fallback_reason(details: Mapping[str, Any]) -> str | None:
    """Why a failed run means the channel cannot work for this signer (None: retry)."""
    call = details.get("call_status")
    if isinstance(call, str) and call in FALLBACK_CALLS:
        return f"call {call}"
    reason = details.get("reason")
    if isinstance(reason, str) and reason in FALLBACK_REASONS:
        return reason
    return None


def _passed(session: Session, recipient: Recipient) -> frozenset[str]:
    rows = session.execute(
        select(ChannelVerification).where(
            ChannelVerification.recipient_id == recipient.id,
            ChannelVerification.status == "passed",
        )
    ).scalars()
    out = set()
    for r in rows:
        out.add(r.channel)
        if r.channel == "assisted" and isinstance(r.state.get("for_channel"), str):
            out.add(str(r.state["for_channel"]))
    return frozenset(out)


def _moved(last: SignerObservation, basis: Basis, geo: GeoPoint | None) -> bool:
    return (
        last.ip_ref != basis.ip_ref
        or last.country != basis.country
        or last.device_id != basis.device_id
        or (geo is not None and (last.lat, last.lon) != (geo.lat, geo.lon))
    )
