"""What the orchestrator writes into the ledger (and so into the evidence bundle): the
assessment with every signal's contribution and explanation, and the plan's transitions.
Never an address, coordinates, a phone number or an amount: signals' ``value`` is left
out, their ``facts`` are non-personal by contract (docs/risk.md)."""

from __future__ import annotations

from typing import Any

from sealwright.domain.events import EventTag
from sealwright.risk.decision import PolicyDecision
from sealwright.risk.plan import Basis, Plan
from sealwright.risk.score import RiskAssessment

__all__ = ["PLAN_TAGS", "assessed_data", "trigger_of"]

PLAN_TAGS = {
    "created": EventTag.PLAN_CREATED,
    "stepped-up": EventTag.PLAN_STEPPED_UP,
    "fallback": EventTag.PLAN_FALLBACK,
    "exhausted": EventTag.PLAN_EXHAUSTED,
}


def assessed_data(
    recipient_id: str, assessment: RiskAssessment, decision: PolicyDecision, trigger: str
) -> dict[str, Any]:
    """The data of ``system:risk:assessed``."""
    return {
        "recipient": recipient_id,
        "trigger": trigger,
        "score": assessment.score,
        "raw": assessment.raw,
        "signals": [
            {
                "name": r.name,
                "contribution": r.contribution,
                "explanation": r.explanation,
                "facts": dict(r.facts),
            }
            for r in assessment.results
        ],
        "decision": {
            "policy_class": decision.policy_class,
            "range": list(decision.range),
            "all_of": list(decision.all_of),
            "any_of": list(decision.any_of),
            "manual_review": decision.manual_review,
            "manual_review_reasons": list(decision.manual_review_reasons),
            "fallbacks": {k: list(v) for k, v in decision.fallbacks.items()},
            "explanation": list(decision.explanation),
        },
        "policy_hash": decision.policy_hash,
        "policy_version": decision.policy_version,
        "assessment_sha256": assessment.digest(),
    }


def trigger_of(plan: Plan | None, basis: Basis, motion: Any) -> str:
    """Why this assessment ran: the first request, or which signals changed."""
    if plan is None:
        return "first-request"
    parts = list(plan.basis.changed(basis))
    if motion is not None:
        parts.append("signature")
    return "changed:" + ",".join(parts) if parts else "re-assessed"
