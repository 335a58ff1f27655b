"""Manual review (C5) and assisted verification (C7) as channels: a reviewer's decision
with a reason, and nothing else, completes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sealwright.channels.port import Outcome, SignerEvidence, VerificationRequest
from sealwright.channels.review import AssistedChannel, ManualReviewChannel
from sealwright.errors import ValidationError
from sealwright.services.signer_auth.policy import CHANNELS, RecipientAuth
from sealwright.web.schemas import VerificationChannelName

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
REQ = VerificationRequest("e1", "r1", ("a" * 64,), b"n" * 16, T0)


def test_approve_and_deny_with_a_reason() -> None:
    review = ManualReviewChannel(ttl_seconds=3600)
    challenge = review.start(REQ)
    assert challenge.expires_at == T0 + timedelta(hours=1)
    ok = review.complete(REQ, {}, SignerEvidence("decision", "approve: ID checked"), now=T0)
    assert (ok.outcome, ok.final, ok.details) == (Outcome.PASSED, True, {"reason": "ID checked"})
    no = review.complete(REQ, {}, SignerEvidence("decision", "deny:mismatch"), now=T0)
    assert (no.outcome, no.final) == (Outcome.FAILED, True)


@pytest.mark.parametrize(
    "evidence",
    [
        SignerEvidence("pin", "approve:x"),
        SignerEvidence("decision", "approve"),
        SignerEvidence("decision", "approve:   "),
        SignerEvidence("decision", "maybe:x"),
        SignerEvidence("decision", "approve:" + "x" * 201),
    ],
)
def test_anything_but_a_reasoned_decision_is_refused(evidence: SignerEvidence) -> None:
    with pytest.raises(ValidationError):
        ManualReviewChannel(ttl_seconds=3600).complete(REQ, {}, evidence, now=T0)


def test_assisted_names_the_channel_it_stands_in_for() -> None:
    assisted = AssistedChannel(ttl_seconds=3600)
    result = assisted.complete(
        REQ,
        {"for_channel": "video"},
        SignerEvidence("decision", "approve:sign language call"),
        now=T0,
    )
    assert result.details == {"reason": "sign language call", "for_channel": "video"}


def test_recipient_channels_are_validated() -> None:
    auth = RecipientAuth.build(
        ["email-otp"], channels=["phone-callback", "video"], phone="+447700900123"
    )
    assert RecipientAuth.from_json(auth.to_json()) == auth
    with pytest.raises(ValidationError, match="phone-callback needs a phone number"):
        RecipientAuth.build(["email-otp"], channels=["phone-callback"])
    with pytest.raises(ValidationError, match="unknown verification channel"):
        RecipientAuth.build(["email-otp"], channels=["telepathy"])
    with pytest.raises(ValidationError, match="named twice"):
        RecipientAuth.build(["email-otp"], channels=["video", "video"])
    assert RecipientAuth.from_json({"methods": ["email-otp"]}).channels == ()


def test_the_api_schema_lists_exactly_the_policy_channels() -> None:
    assert VerificationChannelName.__args__ == CHANNELS  # type: ignore[attr-defined]
