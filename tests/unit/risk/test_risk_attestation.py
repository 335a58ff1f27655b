"""Telephony attestation: STIR/SHAKEN A/B/C/none to points."""

from __future__ import annotations

import pytest

from sealwright.risk.signals import TelephonyAttestation
from tests.unit.risk.risk_support import make_ctx


@pytest.mark.parametrize(
    ("level", "value", "points"),
    [("A", "A", 0), ("b", "B", 10), ("C", "C", 20), ("none", "none", 25), ("", "none", 25)],
)
def test_levels(level: str, value: str, points: int) -> None:
    result = TelephonyAttestation().evaluate(make_ctx(attestation=level))
    assert (result.value, result.contribution) == (value, points)


def test_configured_points_and_no_call() -> None:
    signal = TelephonyAttestation.from_config({"level_points": {"C": 40}})
    assert signal.evaluate(make_ctx(attestation="C")).contribution == 40
    assert signal.evaluate(make_ctx(attestation="B")).contribution == 10
    missing = signal.evaluate(make_ctx())
    assert missing.contribution == 0
    assert missing.explanation.startswith("no data")
