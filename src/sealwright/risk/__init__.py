"""Risk-adaptive orchestration (D): signals, score, policy.

    ctx = SignalContext(...)                       # risk.context
    assessment = assess(ctx, policy.signals())     # risk.score: 0-100, explained
    decision = decide(policy, assessment, "payroll")  # risk.decision: channels, limits

``load_policy`` / ``default_policy`` / ``load_configured_policy`` read and check the
declarative policy (risk.policy); see docs/risk.md.
"""

from sealwright.risk.context import SignalContext, context_from_json
from sealwright.risk.decision import PolicyDecision, decide
from sealwright.risk.policy import (
    Policy,
    PolicyInvalid,
    default_policy,
    load_configured_policy,
    load_policy,
    parse_policy,
)
from sealwright.risk.score import RiskAssessment, assess

__all__ = [
    "Policy",
    "PolicyDecision",
    "PolicyInvalid",
    "RiskAssessment",
    "SignalContext",
    "assess",
    "context_from_json",
    "decide",
    "default_policy",
    "load_configured_policy",
    "load_policy",
    "parse_policy",
]
