"""The score: clamped sum, every signal listed with its explanation, canonical JSON."""

from __future__ import annotations

import hashlib
import json

from sealwright.ledger.canonical import canonicalize
from sealwright.risk.context import FraudFlag, GeoPoint, KnownDevice, SignalContext
from sealwright.risk.score import assess
from sealwright.risk.signals import SIGNAL_NAMES, SignalResult, build_signals
from tests.unit.risk.risk_support import make_ctx


class Fixed:
    def __init__(self, name: str, points: int) -> None:
        self.name = name
        self.points = points

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        return SignalResult(self.name, self.points, self.points, f"fixed {self.points}")


class Broken:
    name = "broken"

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        raise RuntimeError("secret detail 203.0.113.7")


def test_sum_and_clamp() -> None:
    ctx = make_ctx()
    assert assess(ctx, [Fixed("a", 10), Fixed("b", 15)]).score == 25
    high = assess(ctx, [Fixed("a", 80), Fixed("b", 50)])
    assert (high.score, high.raw) == (100, 130)
    low = assess(ctx, [Fixed("allow", -15), Fixed("b", 5)])
    assert (low.score, low.raw) == (0, -10)


def test_a_broken_signal_contributes_zero_without_leaking() -> None:
    result = assess(make_ctx(), [Fixed("a", 30), Broken()])
    assert result.score == 30
    broken = result.results[1]
    assert broken.contribution == 0
    assert "RuntimeError" in broken.explanation
    assert "203.0.113.7" not in json.dumps(result.to_json())


def test_default_signals_on_a_clean_context_score_zero() -> None:
    assessment = assess(make_ctx(), build_signals())
    assert assessment.score == 0
    assert [r.name for r in assessment.results] == list(SIGNAL_NAMES)
    assert all(r.explanation.startswith("no data") for r in assessment.results)


def test_risky_context_explained_and_canonical() -> None:
    ctx = make_ctx(
        {"ip": "203.0.113.7", "device_id": "new", "geo": GeoPoint("DE", 52.5, 13.4)},
        known_devices=(KnownDevice("old", "fp"),),
        fraud_flags=(FraudFlag("signer", "medium"),),
        document_class="wire-transfer",
        transaction_value=50_000,
        attestation="C",
    )
    assessment = assess(ctx, build_signals())
    assert assessment.score == 15 + 25 + 15 + 15 + 20
    assert assessment.contribution("document") == 30
    data = assessment.to_json()
    assert data["score"] == assessment.score
    assert data["assessed_at"] == "2026-11-22T12:00:00Z"
    lines = assessment.explain()
    assert lines[0].startswith(f"score {assessment.score}")
    assert any(line.startswith("fraud-flags: +25") for line in lines)
    assert assessment.canonical() == canonicalize(data)
    assert assessment.digest() == hashlib.sha256(assessment.canonical()).hexdigest()
    assert "203.0.113.7" not in assessment.canonical().decode()


def test_disabled_signal_is_not_evaluated() -> None:
    names = [s.name for s in build_signals({"signing-motion": False})]
    assert "signing-motion" not in names
    assert len(names) == len(SIGNAL_NAMES) - 1
