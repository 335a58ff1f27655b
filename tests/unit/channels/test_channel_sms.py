"""The SMS PIN channel (C2) without a carrier: the PIN it texts is the callback PIN bound to
the document, recipient, nonce and time; limits, TTL and single use as the PIN state says."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from sealwright.channels.pin import PinPolicy, derive_pin
from sealwright.channels.port import Outcome, SignerEvidence, VerificationRequest
from sealwright.channels.sms import SmsPinChannel, pin_payload
from sealwright.errors import DeliveryFailed, ValidationError

K_PIN = bytes(range(32))
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def request(
    recipient: str = "r1", doc: str = "a" * 64, nonce: bytes = b"n" * 16
) -> VerificationRequest:
    return VerificationRequest(
        envelope_id="e1",
        recipient_id=recipient,
        document_hashes=(doc,),
        nonce=nonce,
        at=T0,
        contact={"phone": "+447700900123"},
        reference="run1",
    )


class Outbox:
    def __init__(self, fail: DeliveryFailed | None = None) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = fail

    def __call__(self, to: str, body: str, reference: str) -> str:
        if self.fail is not None:
            raise self.fail
        self.sent.append((to, body, reference))
        return "SM1"


def channel(outbox: Outbox, attempts: int = 3) -> SmsPinChannel:
    policy = PinPolicy(ttl_seconds=120, digits=6, max_attempts=attempts)
    return SmsPinChannel(k_pin=K_PIN, policy=policy, send=outbox, host="sign.example")


def started(
    outbox: Outbox, req: VerificationRequest, attempts: int = 3
) -> tuple[SmsPinChannel, dict]:  # type: ignore[type-arg]
    ch = channel(outbox, attempts)
    challenge = ch.start(req)
    assert challenge.expires_at == T0 + timedelta(seconds=120)
    assert "+447700900123" not in repr(challenge.display)
    sent = ch.dispatch(req, challenge.state, now=T0)
    assert not sent.final
    return ch, dict(sent.state)


def texted_pin(outbox: Outbox) -> str:
    found = re.search(r"PIN is (\d{6})", outbox.sent[-1][1])
    assert found
    return found.group(1)


def test_the_texted_pin_is_the_bound_callback_pin_and_passes_once() -> None:
    outbox, req = Outbox(), request()
    ch, state = started(outbox, req)
    pin = texted_pin(outbox)
    assert pin == derive_pin(K_PIN, pin_payload(req), 6)
    assert outbox.sent[0][0] == "+447700900123"
    assert outbox.sent[0][1].endswith(f"@sign.example #{pin}")
    assert pin not in repr(state)  # never stored
    result = ch.complete(req, state, SignerEvidence("pin", pin), now=T0 + timedelta(seconds=5))
    assert (result.outcome, result.final) == (Outcome.PASSED, True)
    again = ch.complete(req, result.state, SignerEvidence("pin", pin), now=T0)
    assert (again.outcome, again.details["reason"]) == (Outcome.FAILED, "used")


@pytest.mark.parametrize(
    "other",
    [request(recipient="r2"), request(doc="b" * 64), request(nonce=b"m" * 16)],
    ids=["recipient", "document", "nonce"],
)
def test_a_pin_for_another_recipient_document_or_run_is_wrong(other: VerificationRequest) -> None:
    outbox = Outbox()
    ch, state = started(outbox, request())
    pin = texted_pin(outbox)
    other_pin = derive_pin(K_PIN, pin_payload(other), 6)
    assert other_pin != pin
    result = ch.complete(other, state, SignerEvidence("pin", pin), now=T0)
    assert (result.outcome, result.final, result.details["reason"]) == (
        Outcome.FAILED,
        False,
        "wrong",
    )


def test_attempt_limit_then_locked_and_ttl_expired() -> None:
    outbox, req = Outbox(), request()
    ch, state = started(outbox, req, attempts=2)
    pin = texted_pin(outbox)
    wrong = "000000" if pin != "000000" else "111111"
    first = ch.complete(req, state, SignerEvidence("pin", wrong), now=T0)
    assert (first.outcome, first.final, first.details["attempts"]) == (Outcome.FAILED, False, 1)
    second = ch.complete(req, first.state, SignerEvidence("pin", wrong), now=T0)
    assert (second.outcome, second.final) == (Outcome.LOCKED, True)
    late = ch.complete(req, state, SignerEvidence("pin", pin), now=T0 + timedelta(seconds=120))
    assert (late.outcome, late.final, late.details["attempts"]) == (Outcome.EXPIRED, True, 0)


def test_other_evidence_is_refused_and_delivery_failures_end_or_retry() -> None:
    outbox, req = Outbox(), request()
    ch, state = started(outbox, req)
    with pytest.raises(ValidationError, match="PIN"):
        ch.complete(req, state, SignerEvidence("dtmf", "123456"), now=T0)
    permanent = channel(Outbox(DeliveryFailed("invalid number", permanent=True)))
    result = permanent.dispatch(req, permanent.start(req).state, now=T0)
    assert (result.outcome, result.final, result.details["reason"]) == (
        Outcome.FAILED,
        True,
        "undeliverable",
    )
    temporary = channel(Outbox(DeliveryFailed("timeout")))
    with pytest.raises(DeliveryFailed):  # the job queue retries it
        temporary.dispatch(req, temporary.start(req).state, now=T0)


def test_a_delivery_failure_report_ends_the_run_as_undeliverable() -> None:
    outbox, req = Outbox(), request()
    ch, state = started(outbox, req)
    result = ch.complete(req, state, SignerEvidence("sms-status", "undelivered"), now=T0)
    assert (result.outcome, result.final) == (Outcome.FAILED, True)
    assert result.details == {
        "provider": "sms",
        "reason": "undeliverable",
        "sms_status": "undelivered",
    }
