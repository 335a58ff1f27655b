"""``decide``: a risk score (or a full assessment) and a document class, through a policy,
to the verification the signer owes (D3).

The decision carries the policy's hash and version and, when it was made from an
assessment, that assessment's digest, so the stored decision names exactly which rules
and which signals produced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sealwright.errors import ValidationError
from sealwright.ledger.canonical import canonicalize
from sealwright.risk.policy import ChannelLimits, Policy
from sealwright.risk.score import MAX_SCORE, RiskAssessment

__all__ = ["PolicyDecision", "decide"]

MANUAL_REVIEW = "manual-review"


@dataclass(frozen=True)
class PolicyDecision:
    score: int
    document_class: str | None
    #: The policy class whose rules applied (``default`` for an unlisted class).
    policy_class: str
    range: tuple[int, int]
    #: Every one of these is required (manual review added when a trigger fired).
    all_of: tuple[str, ...]
    #: At least one of these is required as well (empty: none).
    any_of: tuple[str, ...]
    manual_review: bool
    manual_review_reasons: tuple[str, ...]
    #: Channel -> its alternatives, in order, for the channels above.
    fallbacks: Mapping[str, tuple[str, ...]]
    #: TTL and attempt limit of every channel named above or as a fallback.
    limits: Mapping[str, ChannelLimits]
    max_auth_age_seconds: int
    explanation: tuple[str, ...]
    policy_hash: str
    policy_version: int | str
    assessment_sha256: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return self.all_of + tuple(c for c in self.any_of if c not in self.all_of)

    def to_json(self) -> dict[str, object]:
        return {
            "score": self.score,
            "document_class": self.document_class,
            "policy_class": self.policy_class,
            "range": list(self.range),
            "all_of": list(self.all_of),
            "any_of": list(self.any_of),
            "manual_review": self.manual_review,
            "manual_review_reasons": list(self.manual_review_reasons),
            "fallbacks": {k: list(v) for k, v in self.fallbacks.items()},
            "ttl_seconds": {k: v.ttl_seconds for k, v in self.limits.items()},
            "max_attempts": {k: v.max_attempts for k, v in self.limits.items()},
            "max_auth_age_seconds": self.max_auth_age_seconds,
            "explanation": list(self.explanation),
            "policy_hash": self.policy_hash,
            "policy_version": self.policy_version,
            "assessment_sha256": self.assessment_sha256,
        }

    def canonical(self) -> bytes:
        return canonicalize(self.to_json())


def _review_reasons(
    policy: Policy,
    score: int,
    policy_class: str,
    document_class: str | None,
    assessment: RiskAssessment | None,
    rule_requires: bool,
) -> list[str]:
    reasons = []
    if rule_requires:
        reasons.append(f"the rule for this range requires {MANUAL_REVIEW}")
    if policy.review_min_score is not None and score >= policy.review_min_score:
        reasons.append(f"score {score} >= manual-review threshold {policy.review_min_score}")
    for cls_ in {policy_class, document_class or policy_class}:
        if cls_ in policy.review_classes:
            reasons.append(f"document class {cls_} always goes to manual review")
    if assessment is not None:
        for name, threshold in sorted(policy.review_signals.items()):
            got = assessment.contribution(name)
            if got >= threshold:
                reasons.append(f"signal {name} contributed {got} >= {threshold}")
    return reasons


def decide(
    policy: Policy, risk: RiskAssessment | int, document_class: str | None = None
) -> PolicyDecision:
    """The channels, limits and review a signer at this risk owes under ``policy``."""
    assessment = risk if isinstance(risk, RiskAssessment) else None
    score = risk.score if isinstance(risk, RiskAssessment) else risk
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= MAX_SCORE:
        raise ValidationError(f"a risk score is a whole number 0-{MAX_SCORE}")
    policy_class, rules = policy.rules_for(document_class)
    rule = next(r for r in rules if r.min <= score <= r.max)  # ranges cover 0-100 (checked)
    explanation = []
    if assessment is not None:
        explanation += assessment.explain()
    else:
        explanation.append(f"score {score} given directly (no signals evaluated)")
    if document_class is not None and policy_class != document_class:
        explanation.append(f"document class {document_class} has no rules: using default")
    where = f"class {policy_class}, range {rule.min}-{rule.max}"
    needs = list(rule.all_of)
    text = " + ".join(needs) if needs else "nothing"
    if rule.any_of:
        text += f"; one of {', '.join(rule.any_of)}"
    explanation.append(f"{where} requires {text}" + (f" ({rule.note})" if rule.note else ""))
    reasons = _review_reasons(
        policy, score, policy_class, document_class, assessment, MANUAL_REVIEW in rule.all_of
    )
    if reasons and MANUAL_REVIEW not in needs:
        needs.append(MANUAL_REVIEW)
        explanation += [f"manual review added: {r}" for r in reasons]
    named = [*needs, *(c for c in rule.any_of if c not in needs)]
    fallbacks = {c: policy.fallbacks[c] for c in named if c in policy.fallbacks}
    involved = list(dict.fromkeys([*named, *(t for ts in fallbacks.values() for t in ts)]))
    max_age = rule.max_auth_age_seconds or policy.max_auth_age_seconds
    return PolicyDecision(
        score=score,
        document_class=document_class,
        policy_class=policy_class,
        range=(rule.min, rule.max),
        all_of=tuple(needs),
        any_of=tuple(c for c in rule.any_of if c not in needs),
        manual_review=bool(reasons),
        manual_review_reasons=tuple(reasons),
        fallbacks=fallbacks,
        limits={c: policy.limits(c) for c in involved},
        max_auth_age_seconds=max_age,
        explanation=tuple(explanation),
        policy_hash=policy.hash,
        policy_version=policy.version,
        assessment_sha256=None if assessment is None else assessment.digest(),
    )
