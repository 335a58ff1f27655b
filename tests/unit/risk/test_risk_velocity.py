"""Velocity: each count over its limit adds points; missing counts are no data."""

from __future__ import annotations

from sealwright.risk.context import VelocityCounts
from sealwright.risk.signals import Velocity
from tests.unit.risk.risk_support import make_ctx


def test_counts_over_limits() -> None:
    counts = VelocityCounts(3600, identity_envelopes=6, identity_verifications=3, ip_requests=31)
    result = Velocity().evaluate(make_ctx(velocity=counts))
    assert (result.value, result.contribution) == (2, 30)
    assert "identity envelopes 6 > 5" in result.explanation
    assert "ip requests 31 > 30" in result.explanation
    assert result.facts["window_s"] == 3600


def test_within_limits_and_no_data() -> None:
    ok = VelocityCounts(3600, identity_envelopes=5, ip_requests=30)
    assert Velocity().evaluate(make_ctx(velocity=ok)).contribution == 0
    for ctx in (make_ctx(), make_ctx(velocity=VelocityCounts(60))):
        result = Velocity().evaluate(ctx)
        assert result.contribution == 0
        assert result.explanation.startswith("no data")


def test_limits_are_configurable() -> None:
    signal = Velocity.from_config({"max_identity_envelopes": 1, "points": 20})
    counts = VelocityCounts(600, identity_envelopes=2)
    assert signal.evaluate(make_ctx(velocity=counts)).contribution == 20
