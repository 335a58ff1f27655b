"""The verification plan's state machine (D4): every transition, and the bar never falls."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.risk.decision import PolicyDecision, decide
from sealwright.risk.plan import Basis, Plan, PlanEvent, from_decision
from sealwright.risk.policy import Policy, default_policy, parse_policy
from sealwright.risk.score import RiskAssessment
from sealwright.risk.signals.base import SignalResult

PAYROLL = """
format: sealwright-risk-policy/1
version: 7
document_classes:
  default:
    - {min: 0, max: 20, all_of: [email-otp, sms-otp]}
    - {min: 21, max: 60, all_of: [email-otp, phone-callback]}
    - {min: 61, max: 100, all_of: [video, qr-device, manual-review]}
  payroll:
    - {min: 0, max: 20, all_of: [email-otp]}
    - {min: 21, max: 60, all_of: [phone-callback, qr-device]}
    - {min: 61, max: 100, all_of: [video, qr-device, manual-review]}
  contracts:
    - {min: 0, max: 50, all_of: [email-otp], any_of: [sms-otp, qr-device]}
    - {min: 51, max: 100, all_of: [video], any_of: [passkey, qr-device]}
fallbacks:
  sms-otp: [phone-callback]
  phone-callback: [video]
  qr-device: [video]
  video: [manual-review]
"""
HERE = Basis(country="DE", ip_ref="a" * 64, device_id="d1")


def policy() -> Policy:
    return parse_policy(PAYROLL)


def decision(score: int, cls: str | None = None, p: Policy | None = None) -> PolicyDecision:
    return decide(p or policy(), score, cls)


def created(d: PolicyDecision, basis: Basis = HERE, **kw: bool) -> tuple[Plan, list[PlanEvent]]:
    """A new plan with the test policy's whole fallback chain."""
    return from_decision(d, basis, chain=policy().fallbacks, **kw)


def test_a_new_plan_requires_only_out_of_band_channels_and_notes_methods() -> None:
    plan, events = created(decision(10))
    assert plan.state == "assessed"
    assert plan.required == ("sms-otp",)
    assert plan.noted == ("email-otp",)
    assert plan.tier == (0, 20)
    assert [e.kind for e in events] == ["created"]
    assert events[0].data["required"] == ["sms-otp"]
    assert events[0].data["noted_methods"] == ["email-otp"]
    assert plan.outstanding(set()) == ("sms-otp",)
    assert plan.outstanding({"sms-otp"}) == ()


def test_payroll_over_the_threshold_needs_callback_and_qr() -> None:
    plan, _ = created(decision(35, "payroll"))
    assert plan.required == ("phone-callback", "qr-device")
    assert plan.decision["policy_class"] == "payroll"


def test_an_unreachable_phone_falls_back_to_video_with_a_rationale() -> None:
    plan, _ = created(decision(35, "payroll"))
    plan, events = plan.on_channel_failed("phone-callback", "call no-answer")
    assert plan.state == "fallback"
    assert plan.required == ("video", "qr-device")
    assert plan.tried == ("phone-callback",)
    [event] = events
    assert event.kind == "fallback"
    assert (event.data["from"], event.data["to"]) == ("phone-callback", "video")
    assert "call no-answer" in event.data["rationale"]
    assert event.data["required"] == ["video", "qr-device"]
    # then the video fails too: its fallback is manual review
    plan, events = plan.on_channel_failed("video", "camera-denied")
    assert plan.required == ("manual-review", "qr-device")
    assert events[0].data["to"] == "manual-review"
    # a rejected review leaves nothing: exhausted, review still required
    plan, events = plan.on_channel_failed("manual-review", "rejected")
    assert plan.state == "exhausted"
    assert "manual-review" in plan.required
    assert events[0].kind == "exhausted"
    assert events[0].data["to"] is None


def test_a_fallback_already_tried_is_skipped_and_none_left_means_exhausted() -> None:
    plan, _ = created(decision(35, "payroll"))
    plan, _ = plan.on_channel_failed("qr-device", "camera-denied")  # -> video
    # video is asked for already: no second channel left, so a reviewer looks
    plan, events = plan.on_channel_failed("phone-callback", "call busy")
    assert plan.state == "exhausted"
    assert plan.required == ("video", "manual-review")
    assert "no untried fallback" in events[0].data["rationale"]


def test_without_a_phone_on_file_phone_channels_fall_back_at_once() -> None:
    plan, events = created(decision(10), phone_on_file=False)
    # sms-otp -> phone-callback is a phone channel too: skipped for its own fallback
    assert [e.kind for e in events] == ["created", "fallback"]
    assert plan.required == ("video",)
    assert "skipped phone-callback: no phone number on file" in events[1].data["rationale"]
    plan, events = created(decision(35), phone_on_file=False)
    assert plan.required == ("video",)
    assert [e.kind for e in events] == ["created", "fallback"]
    assert events[1].data["rationale"].startswith("phone-callback failed (no-phone)")


def test_a_failure_of_a_channel_not_in_the_plan_changes_nothing() -> None:
    plan, _ = created(decision(10))
    assert plan.on_channel_failed("video", "camera-denied") == (plan, [])


def test_any_of_members_are_listed_until_one_passes() -> None:
    plan, _ = created(decision(10, "contracts"))
    assert plan.required == ()
    assert plan.any_of == ("sms-otp", "qr-device")
    assert plan.channels() == ("sms-otp", "qr-device")
    assert plan.channels({"qr-device"}) == ("qr-device",)
    assert plan.outstanding({"qr-device"}) == ()
    # an any_of member failing without an untried fallback leaves the others
    plan, events = plan.on_channel_failed("sms-otp", "undeliverable")  # -> phone-callback
    assert plan.any_of == ("phone-callback", "qr-device")
    assert events[0].data["to"] == "phone-callback"
    # an any_of that a method can meet (passkey) is the authentication's: only noted
    high, _ = created(decision(80, "contracts"))
    assert high.required == ("video",)
    assert high.any_of == ()
    assert "passkey" in high.noted


def test_a_higher_tier_steps_up_and_says_which_signals_changed() -> None:
    plan, _ = created(decision(5))
    there = Basis(country="AU", ip_ref="b" * 64, device_id="d1")
    plan, events = plan.reassess(decision(45), there)
    assert plan.state == "stepped-up"
    assert plan.tier == (21, 60)
    assert plan.required == ("sms-otp", "phone-callback")
    [event] = events
    assert event.kind == "stepped-up"
    assert event.data["old_tier"] == [0, 20]
    assert event.data["new_tier"] == [21, 60]
    assert event.data["changed"] == ["country", "ip"]
    assert event.data["added"] == ["phone-callback"]
    assert plan.basis == there


def test_a_lower_score_never_lowers_the_bar() -> None:
    plan, _ = created(decision(45))
    lower, events = plan.reassess(decision(5), HERE)
    assert events == []
    assert lower.required == plan.required
    assert lower.tier == plan.tier
    assert lower.score == 5


def test_a_replaced_channel_is_not_asked_for_again() -> None:
    plan, _ = created(decision(45))
    plan, _ = plan.on_channel_failed("phone-callback", "call no-answer")
    again, events = plan.reassess(decision(50), HERE)
    assert events == []
    assert again.required == ("video",)


def test_manual_review_trigger_at_the_same_tier_steps_up() -> None:
    p = default_policy()
    plan, _ = from_decision(decide(p, 45), HERE)
    motion = SignalResult("signing-motion", 0.9, 40, "bot-like drawing", {})
    assessment = RiskAssessment(45, (motion,), datetime(2026, 11, 22, 12, 0, tzinfo=UTC), 45)
    plan, events = plan.reassess(decide(p, assessment), HERE)
    assert events[0].kind == "stepped-up"
    assert "manual-review" in plan.required


def test_passing_moves_to_in_progress_then_satisfied() -> None:
    plan, _ = created(decision(35, "payroll"))
    plan, _ = plan.on_passed({"qr-device"})
    assert plan.state == "in-progress"
    plan, _ = plan.on_passed({"qr-device", "phone-callback"})
    assert plan.state == "satisfied"


def test_json_round_trip() -> None:
    plan, _ = created(decision(35, "payroll"))
    plan, _ = plan.on_channel_failed("phone-callback", "call busy")
    stored = json.loads(json.dumps(plan.to_json()))
    assert Plan.from_json(stored) == plan


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(0, 100),
    steps=st.lists(
        st.tuples(
            st.integers(0, 100),
            st.sampled_from([None, "phone-callback", "sms-otp", "qr-device", "video"]),
        ),
        max_size=8,
    ),
    cls=st.sampled_from([None, "payroll", "contracts"]),
)
def test_the_bar_never_falls(
    first: int, steps: list[tuple[int, str | None]], cls: str | None
) -> None:
    """Whatever the scores and failures: the tier never goes down, and a channel leaves
    the plan only by being replaced (the replacement, or manual review, is then in it)."""
    p = policy()
    plan, _ = from_decision(decide(p, first, cls), HERE, chain=p.fallbacks)
    for score, failing in steps:
        before = plan
        if failing is not None:
            plan, _ = plan.on_channel_failed(failing, "call no-answer")
        plan, _ = plan.reassess(decide(p, score, cls), HERE)
        assert plan.tier[0] >= before.tier[0]
        gone = set(before.channels()) - set(plan.channels())
        assert gone <= set(plan.replaced()) | set(plan.tried)
        assert len(plan.channels()) >= 1 or len(before.channels()) == 0
        if plan.fallbacks and plan.fallbacks[-1].target is None:
            assert plan.state in ("exhausted", "fallback", "stepped-up")


def test_which_failures_fall_back() -> None:
    from sealwright.services.orchestrator import fallback_reason

    for call in ("busy", "no-answer", "failed", "canceled", "dropped", "machine"):
        assert fallback_reason({"call_status": call, "attempts": 0}) == f"call {call}"
    for reason in ("camera-denied", "undeliverable", "no-phone"):
        assert fallback_reason({"reason": reason}) == reason
    # a locked or expired PIN, a wrong answer, a failed liveness check: try again
    for details in ({"reason": "ttl"}, {"reason": "locked"}, {"reason": "liveness"}, {}):
        assert fallback_reason(details) is None
    assert fallback_reason({"call_status": "completed", "reason": "locked"}) is None
