"""decide: score x document class -> channels, manual review, fallbacks, limits, hash."""

from __future__ import annotations

import pytest

from sealwright.errors import ValidationError
from sealwright.ledger.canonical import canonicalize
from sealwright.risk.context import FraudFlag
from sealwright.risk.decision import decide
from sealwright.risk.policy import default_policy, parse_policy
from sealwright.risk.score import assess
from sealwright.risk.signals import build_signals
from tests.unit.risk.risk_support import make_ctx

POLICY = """\
format: sealwright-risk-policy/1
version: 7
max_auth_age_seconds: 600
document_classes:
  default:
    - {min: 0, max: 30, all_of: [email-otp]}
    - {min: 31, max: 100, all_of: [email-otp], any_of: [passkey, phone-callback]}
  wire-transfer:
    - {min: 0, max: 100, all_of: [phone-callback, qr-device], max_auth_age_seconds: 120}
fallbacks:
  phone-callback: [video]
  qr-device: [video, manual-review]
manual_review:
  min_score: 90
  document_classes: [m-and-a]
  signals: {fraud-flags: 25}
channels:
  phone-callback: {ttl_seconds: 120, max_attempts: 2}
"""


@pytest.mark.parametrize(
    ("score", "channels", "review"),
    [
        (0, ("email-otp", "sms-otp"), False),
        (10, ("email-otp", "sms-otp"), False),
        (20, ("email-otp", "sms-otp"), False),
        (21, ("email-otp", "phone-callback"), False),
        (40, ("email-otp", "phone-callback"), False),
        (60, ("email-otp", "phone-callback"), False),
        (61, ("video", "qr-device", "manual-review"), True),
        (80, ("video", "qr-device", "manual-review"), True),
        (100, ("video", "qr-device", "manual-review"), True),
    ],
)
def test_default_tiers(score: int, channels: tuple[str, ...], review: bool) -> None:
    decision = decide(default_policy(), score)
    assert decision.all_of == channels
    assert decision.manual_review is review
    assert decision.policy_hash == default_policy().hash
    assert decision.policy_version == 2


def test_medium_tier_details() -> None:
    decision = decide(default_policy(), 40)
    assert decision.fallbacks == {"phone-callback": ("video",)}
    assert decision.limits["phone-callback"].ttl_seconds == 180
    assert set(decision.limits) == {"email-otp", "phone-callback", "video"}
    assert decision.max_auth_age_seconds == 900
    assert decision.range == (21, 60)
    assert any("email-otp + phone-callback" in line for line in decision.explanation)
    assert decision.assessment_sha256 is None


def test_document_classes_any_of_and_overrides() -> None:
    policy = parse_policy(POLICY)
    low = decide(policy, 10, "nda")
    assert (low.policy_class, low.all_of, low.any_of) == ("default", ("email-otp",), ())
    assert "document class nda has no rules: using default" in low.explanation
    mid = decide(policy, 50)
    assert mid.any_of == ("passkey", "phone-callback")
    assert mid.channels == ("email-otp", "passkey", "phone-callback")
    wire = decide(policy, 5, "wire-transfer")
    assert wire.all_of == ("phone-callback", "qr-device")
    assert wire.fallbacks == {"phone-callback": ("video",), "qr-device": ("video", "manual-review")}
    assert wire.max_auth_age_seconds == 120
    assert (
        wire.limits["phone-callback"].ttl_seconds,
        wire.limits["phone-callback"].max_attempts,
    ) == (
        120,
        2,
    )
    assert decide(policy, 5).max_auth_age_seconds == 600


def test_manual_review_triggers() -> None:
    policy = parse_policy(POLICY)
    by_score = decide(policy, 95)
    assert by_score.manual_review
    assert by_score.all_of[-1] == "manual-review"
    assert by_score.manual_review_reasons == ("score 95 >= manual-review threshold 90",)
    by_class = decide(policy, 0, "m-and-a")
    assert by_class.manual_review
    assert "manual-review" in by_class.all_of
    assert not decide(policy, 0).manual_review
    flagged = assess(make_ctx(fraud_flags=(FraudFlag("signer", "medium"),)), build_signals())
    assert flagged.score == 25
    by_signal = decide(policy, flagged)
    assert by_signal.manual_review_reasons == ("signal fraud-flags contributed 25 >= 25",)
    assert by_signal.assessment_sha256 == flagged.digest()
    assert decide(policy, 25).manual_review is False  # a bare score cannot trigger signals


def test_decision_serialises_canonically() -> None:
    decision = decide(default_policy(), 80, "payroll")
    data = decision.to_json()
    assert data["ttl_seconds"] == {"video": 600, "qr-device": 300, "manual-review": 259200}
    assert decision.canonical() == canonicalize(data)


@pytest.mark.parametrize("score", [-1, 101, True, 20.5])
def test_out_of_range_scores_are_refused(score: object) -> None:
    with pytest.raises(ValidationError):
        decide(default_policy(), score)  # type: ignore[arg-type]
