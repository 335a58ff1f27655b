"""Human decisions as channels: manual review (C5) and human-assisted verification (C7).

Neither is driven by the signer. A reviewer approves or denies an escalated verification;
an operator with the reviewer role performs a channel's check with the signer by other
means (a call with an interpreter, an in-person check) and records it. Both complete
with evidence ``decision`` -- ``approve:<reason>`` or ``deny:<reason>`` -- which only an
operator may submit (services/channel_flow/flow.py enforces it), and both become signed
assertions naming the reviewer and the reason like any other channel's result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sealwright.channels.port import (
    Challenge,
    ChannelResult,
    DetailValue,
    Outcome,
    SignerEvidence,
    VerificationRequest,
)
from sealwright.errors import ValidationError

__all__ = ["DECISION", "AssistedChannel", "ManualReviewChannel", "parse_decision"]

DECISION = "decision"
MAX_REASON = 200


def parse_decision(evidence: SignerEvidence) -> tuple[bool, str]:
    """``approve:<reason>`` or ``deny:<reason>``; the reason is required and short."""
    if evidence.kind != DECISION:
        raise ValidationError("a review is completed by a reviewer's decision")
    verdict, sep, reason = evidence.value.partition(":")
    reason = reason.strip()
    if not sep or verdict not in ("approve", "deny"):
        raise ValidationError("a decision is approve or deny, with a reason")
    if not reason or len(reason) > MAX_REASON:
        raise ValidationError(f"give a reason of 1 to {MAX_REASON} characters")
    return verdict == "approve", reason


class ManualReviewChannel:
    """Waits in the reviewers' queue (web/console/reviews.py) until decided or expired."""

    name = "manual-review"

    def __init__(self, *, ttl_seconds: int) -> None:
        self.ttl = timedelta(seconds=ttl_seconds)

    def start(self, request: VerificationRequest) -> Challenge:
        return Challenge(
            channel=self.name,
            expires_at=request.at + self.ttl,
            display={"message": "A reviewer is checking your verification."},
            state={},
        )

    def complete(
        self,
        request: VerificationRequest,
        state: Mapping[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: datetime,
    ) -> ChannelResult:
        approved, reason = parse_decision(evidence)
        outcome = Outcome.PASSED if approved else Outcome.FAILED
        return ChannelResult(outcome, True, {"reason": reason}, state)


class AssistedChannel(ManualReviewChannel):
    """An operator performs another channel's check with the signer (C7). Its run's
    ``state["for_channel"]`` names the channel it stands in for."""

    name = "assisted"

    def start(self, request: VerificationRequest) -> Challenge:
        return Challenge(
            channel=self.name,
            expires_at=request.at + self.ttl,
            display={"message": "Someone from our team will contact you to help you verify."},
            state={},
        )

    def complete(
        self,
        request: VerificationRequest,
        state: Mapping[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: datetime,
    ) -> ChannelResult:
        result = super().complete(request, state, evidence, now=now)
        details = {**result.details, "for_channel": state.get("for_channel")}
        return ChannelResult(result.outcome, True, details, state)
