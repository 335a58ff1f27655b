"""Phone callback channel (channels/phone.py), without I/O: both confirmation modes, the
PIN's binding (another document, recipient or run does not match), lock-out, expiry, the
carrier's reports (busy, no-answer, dropped, attestation), carrier evidence a signer
cannot forge, and calls placed only to the number on file."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sealwright.channels.phone import PhoneCallbackChannel
from sealwright.channels.pin import PinPolicy, derive_pin
from sealwright.channels.port import (
    ChannelResult,
    Dispatching,
    Outcome,
    SignerEvidence,
    VerificationChannel,
    VerificationRequest,
)
from sealwright.channels.sms import pin_payload
from sealwright.errors import ValidationError
from sealwright.identity.voice import CallFailed

K_PIN = bytes(range(32))
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PHONE = "+447700900123"
REF = "f" * 32
SID = "CA" + "1" * 32


class Placer:
    """Records the calls asked for, like the carrier's Calls API would take them."""

    def __init__(self, fail: CallFailed | None = None) -> None:
        self.calls: list[dict[str, str]] = []
        self.fail = fail

    def place_call(self, *, to: str, twiml_url: str, status_url: str) -> str:
        if self.fail is not None:
            raise self.fail
        self.calls.append({"to": to, "twiml_url": twiml_url, "status_url": status_url})
        return SID


def channel(placer: Placer | None = None, attempts: int = 3) -> PhoneCallbackChannel:
    return PhoneCallbackChannel(
        k_pin=K_PIN,
        policy=PinPolicy(ttl_seconds=120, digits=6, max_attempts=attempts),
        calls=placer or Placer(),
        public_url="https://sign.example/",
        provider="simulator",
    )


def request(**changes: Any) -> VerificationRequest:
    base = VerificationRequest(
        envelope_id="env_1",
        recipient_id="rcp_1",
        document_hashes=("a" * 64,),
        nonce=b"n" * 16,
        at=T0,
        contact={"phone": PHONE},
        reference=REF,
    )
    return replace(base, **changes)


def the_pin(req: VerificationRequest) -> str:
    return derive_pin(K_PIN, pin_payload(req), 6)


def spoken_pin(twiml: str) -> str:
    said = re.search(r"Your verification code is: ([0-9, ]+)\.", twiml)
    assert said is not None, twiml
    return said.group(1).replace(", ", "")


def placed(
    ch: PhoneCallbackChannel, req: VerificationRequest, mode: str = "speak"
) -> dict[str, Any]:
    state: dict[str, Any] = dict(ch.start(req).state)
    if mode != "speak":
        state, _ = ch.with_mode(req, state, mode)
    result = ch.dispatch(req, state, now=T0)
    assert not result.final
    return dict(result.state)


def carrier(ch: PhoneCallbackChannel, kind: str, **fields: str) -> SignerEvidence:
    return ch.carrier_evidence(REF, kind, {"call_sid": SID, **fields})


def test_is_a_dispatching_channel_and_start_is_pure() -> None:
    placer = Placer()
    ch = channel(placer)
    assert isinstance(ch, VerificationChannel)
    assert isinstance(ch, Dispatching)
    challenge = ch.start(request())
    assert placer.calls == []
    assert challenge.expires_at == T0 + timedelta(seconds=120)
    assert challenge.state["mode"] == "speak"
    assert challenge.display["phone"] == "+44•••23"
    assert "pin" not in challenge.display  # speak mode: the PIN only travels by the call
    stored = json.dumps(dict(challenge.state))
    assert PHONE not in stored
    assert the_pin(request()) not in stored


def test_speak_mode_says_the_pin_and_the_typed_pin_passes() -> None:
    ch, req = channel(), request()
    state = placed(ch, req)
    twiml = ch.twiml(req, state)
    assert spoken_pin(twiml) == the_pin(req)
    assert ", ".join(the_pin(req)) in twiml  # digits spaced, read one by one
    assert f'<Redirect method="POST">https://sign.example/s/voice/{REF}/spoken' in twiml
    state = dict(ch.complete(req, state, carrier(ch, "call-event", event="spoken"), now=T0).state)
    result = ch.complete(
        req, state, SignerEvidence("pin", the_pin(req)), now=T0 + timedelta(seconds=5)
    )
    assert (result.outcome, result.final) == (Outcome.PASSED, True)
    assert result.details == {
        "mode": "speak",
        "provider": "simulator",
        "digits": 6,
        "attempts": 1,
        "attestation": "none",
        "call_status": "not-placed",
    }


def test_dtmf_mode_shows_the_pin_and_only_the_carriers_keys_pass() -> None:
    ch, req = channel(), request()
    state = placed(ch, req, "dtmf")
    _, display = ch.with_mode(req, ch.start(req).state, "dtmf")
    assert display["pin"] == the_pin(req)
    twiml = ch.twiml(req, state)
    assert f'action="https://sign.example/s/voice/{REF}/gather"' in twiml
    assert 'numDigits="6"' in twiml
    assert the_pin(req) not in twiml
    assert ", ".join(the_pin(req)) not in twiml
    # Typing the PIN the page shows proves nothing; nor does posting "dtmf" without the tag.
    typed = ch.complete(req, state, SignerEvidence("pin", the_pin(req)), now=T0)
    forged = json.dumps({"call_sid": SID, "digits": the_pin(req), "tag": "0" * 64})
    posted = ch.complete(req, state, SignerEvidence("dtmf", forged), now=T0)
    for refused, reason in ((typed, "wrong-mode"), (posted, "not-from-carrier")):
        assert (refused.outcome, refused.final) == (Outcome.FAILED, False)
        assert refused.details["reason"] == reason
        assert refused.state["pin_attempts"] == 0
    keyed = ch.complete(req, state, carrier(ch, "dtmf", digits=the_pin(req)), now=T0)
    assert (keyed.outcome, keyed.final) == (Outcome.PASSED, True)
    assert keyed.details["mode"] == "dtmf"
    other = f"{(int(the_pin(req)) + 1) % 1_000_000:06d}"
    wrong = ch.complete(req, state, carrier(ch, "dtmf", digits=other), now=T0)
    assert (wrong.outcome, wrong.final, wrong.state["pin_attempts"]) == (Outcome.FAILED, False, 1)
    assert "<Gather" in ch.after_gather(req, "pending")  # asked again
    assert "confirmed" in ch.after_gather(req, "passed")
    assert "<Gather" not in ch.after_gather(req, "locked")


def test_carrier_evidence_is_bound_to_its_run_and_its_call() -> None:
    ch, req = channel(), request()
    state = placed(ch, req, "dtmf")
    other_run = ch.carrier_evidence("e" * 32, "dtmf", {"call_sid": SID, "digits": the_pin(req)})
    result = ch.complete(req, state, other_run, now=T0)
    assert result.details["reason"] == "not-from-carrier"
    other_call = ch.carrier_evidence(REF, "dtmf", {"call_sid": "CA" + "2" * 32, "digits": "1"})
    assert ch.complete(req, state, other_call, now=T0).details["reason"] == "other-call"
    with pytest.raises(ValidationError):
        ch.complete(req, state, SignerEvidence("upload", "x"), now=T0)


def test_wrong_pins_lock_the_run() -> None:
    ch, req = channel(attempts=3), request()
    state = placed(ch, req)
    wrong = f"{(int(the_pin(req)) + 1) % 1_000_000:06d}"
    results: list[ChannelResult] = []
    for _ in range(3):
        results.append(ch.complete(req, state, SignerEvidence("pin", wrong), now=T0))
        state = dict(results[-1].state)
    assert [(r.outcome, r.final) for r in results] == [
        (Outcome.FAILED, False),
        (Outcome.FAILED, False),
        (Outcome.LOCKED, True),
    ]
    assert results[-1].details["attempts"] == 3
    late = ch.complete(req, state, SignerEvidence("pin", the_pin(req)), now=T0)
    assert late.outcome is Outcome.LOCKED


def test_a_pin_after_its_ttl_is_expired() -> None:
    ch, req = channel(), request()
    state = placed(ch, req)
    result = ch.complete(
        req, state, SignerEvidence("pin", the_pin(req)), now=T0 + timedelta(seconds=120)
    )
    assert (result.outcome, result.final) == (Outcome.EXPIRED, True)
    assert result.details["attempts"] == 0


@pytest.mark.parametrize(
    "other",
    [
        {"recipient_id": "rcp_2"},
        {"document_hashes": ("b" * 64,)},
        {"nonce": b"m" * 16},
    ],
)
def test_a_pin_read_out_for_another_run_does_not_match(other: dict[str, Any]) -> None:
    ch = channel()
    original, replayed = request(), request(**other)
    state = placed(ch, replayed)
    heard = spoken_pin(ch.twiml(original, placed(ch, original)))
    result = ch.complete(replayed, state, SignerEvidence("pin", heard), now=T0)
    assert result.outcome is Outcome.FAILED
    assert result.details["reason"] == "wrong"


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled"])
def test_an_unanswered_call_fails_the_run(status: str) -> None:
    ch, req = channel(), request()
    state = placed(ch, req)
    ringing = ch.complete(req, state, carrier(ch, "call-status", status="ringing"), now=T0)
    assert (ringing.outcome, ringing.final) == (Outcome.PASSED, False)
    result = ch.complete(
        req, ringing.state, carrier(ch, "call-status", status=status, attestation="B"), now=T0
    )
    assert (result.outcome, result.final) == (Outcome.FAILED, True)
    assert result.details["call_status"] == status
    assert result.details["attestation"] == "B"


def test_a_call_dropped_before_the_pin_was_said_fails_and_a_completed_one_waits() -> None:
    ch, req = channel(), request()
    state = placed(ch, req)
    answered = ch.complete(
        req, state, carrier(ch, "call-status", status="in-progress", attestation="A"), now=T0
    ).state
    dropped = ch.complete(req, answered, carrier(ch, "call-status", status="completed"), now=T0)
    assert (dropped.outcome, dropped.final) == (Outcome.FAILED, True)
    assert dropped.details["call_status"] == "dropped"
    assert dropped.details["attestation"] == "A"
    said = ch.complete(req, answered, carrier(ch, "call-event", event="spoken"), now=T0).state
    done = ch.complete(req, said, carrier(ch, "call-status", status="completed"), now=T0)
    assert (done.outcome, done.final) == (Outcome.PASSED, False)  # the signer types it next
    machine = ch.complete(
        req,
        said,
        carrier(ch, "call-status", status="completed", answered_by="machine_start"),
        now=T0,
    )
    assert (machine.final, machine.details["call_status"]) == (True, "machine")


def test_dispatch_calls_only_the_number_on_file() -> None:
    placer = Placer()
    ch, req = channel(placer), request()
    result = ch.dispatch(req, ch.start(req).state, now=T0)
    assert placer.calls == [
        {
            "to": PHONE,
            "twiml_url": f"https://sign.example/s/voice/{REF}/twiml",
            "status_url": f"https://sign.example/s/voice/{REF}/status",
        }
    ]
    assert result.state["call_sid"] == SID
    assert PHONE not in json.dumps(dict(result.details))
    none = ch.dispatch(request(contact={}), ch.start(req).state, now=T0)
    assert (none.outcome, none.final, none.details["reason"]) == (Outcome.FAILED, True, "no-phone")


def test_a_provider_error_fails_the_run_with_the_reason() -> None:
    ch, req = (
        channel(Placer(CallFailed("provider error 21215 (HTTP 400)", error_code=21215))),
        request(),
    )
    result = ch.dispatch(req, ch.start(req).state, now=T0)
    assert (result.outcome, result.final) == (Outcome.FAILED, True)
    assert result.details["reason"] == "provider-error"
    assert result.details["provider_code"] == 21215


def test_the_mode_is_fixed_once_the_call_is_placed() -> None:
    ch, req = channel(), request()
    with pytest.raises(ValidationError):
        ch.with_mode(req, ch.start(req).state, "video")
    with pytest.raises(ValidationError):
        ch.with_mode(req, placed(ch, req), "dtmf")
