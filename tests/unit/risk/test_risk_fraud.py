"""Past fraud flags: severity points, unknown severities, cap, subjects, no data."""

from __future__ import annotations

from sealwright.risk.context import FraudFlag
from sealwright.risk.signals import FraudFlags
from tests.unit.risk.risk_support import make_ctx


def test_severities_add_up_to_the_cap() -> None:
    flags = (FraudFlag("signer", "low"), FraudFlag("sender", "medium"))
    result = FraudFlags().evaluate(make_ctx(fraud_flags=flags))
    assert (result.value, result.contribution) == (2, 35)
    assert result.facts == {"flags": 2, "signer_flags": 1, "sender_flags": 1}
    many = FraudFlags().evaluate(make_ctx(fraud_flags=(FraudFlag("signer", "high"),) * 3))
    assert many.contribution == 60
    assert "capped at 60" in many.explanation


def test_unknown_severity_counts_as_the_worst() -> None:
    result = FraudFlags().evaluate(make_ctx(fraud_flags=(FraudFlag("signer", "weird"),)))
    assert result.contribution == 50


def test_no_flags_and_no_data() -> None:
    assert FraudFlags().evaluate(make_ctx(fraud_flags=())).contribution == 0
    missing = FraudFlags().evaluate(make_ctx())
    assert missing.contribution == 0
    assert missing.explanation.startswith("no data")
