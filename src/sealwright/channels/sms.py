"""SMS one-time PIN as an out-of-band channel (C2): the callback PIN's binding, by text.

The PIN is ``channels/pin.py``'s derivation over the envelope's document hashes, the
recipient, the run's nonce and its start time -- so a code read out for one document or
recipient is worthless for any other -- with the same TTL (60-300 s), attempt limit and
single use. It goes only to the number the sender put on file. ``start`` is pure; the text
leaves in ``dispatch`` (the ``channel.dispatch`` job, after the commit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sealwright.channels.pin import PinCheck, PinPayload, PinPolicy, PinState, derive_pin
from sealwright.channels.port import (
    Challenge,
    ChannelResult,
    DetailValue,
    Outcome,
    SignerEvidence,
    VerificationRequest,
)
from sealwright.errors import DeliveryFailed, ValidationError

__all__ = ["DELIVERY_REPORT", "PIN_OUTCOMES", "SmsPinChannel", "check_pin", "pin_payload"]

#: Evidence kind of a carrier's signed delivery report that the text was not delivered.
DELIVERY_REPORT = "sms-status"
#: (to, body, reference) -> the carrier's message id; raises DeliveryFailed.
SendSms = Callable[[str, str, str], str]

PIN_OUTCOMES = {
    PinCheck.PASSED: Outcome.PASSED,
    PinCheck.WRONG: Outcome.FAILED,
    PinCheck.LOCKED: Outcome.LOCKED,
    PinCheck.EXPIRED: Outcome.EXPIRED,
    PinCheck.USED: Outcome.FAILED,
}


def pin_payload(request: VerificationRequest) -> PinPayload:
    return PinPayload(
        document_hashes=request.document_hashes,
        recipient=request.recipient_id,
        nonce=request.nonce,
        ts=int(request.at.timestamp()),
    )


def check_pin(
    k_pin: bytes,
    request: VerificationRequest,
    state: Mapping[str, DetailValue],
    candidate: str,
    now: datetime,
    details: Mapping[str, DetailValue],
) -> ChannelResult:
    """Check a typed or keyed PIN against the run's stored ``PinState`` (under ``pin``
    keys of ``state``); wrong with attempts left is the one non-final answer."""
    pin = PinState.from_dict({k[4:]: v for k, v in state.items() if k.startswith("pin_")})
    verdict, after = pin.check(k_pin, pin_payload(request), candidate, now)
    new_state = {**state, **{f"pin_{k}": v for k, v in after.to_dict().items()}}
    facts = {**details, "attempts": after.attempts, "digits": after.digits}
    if verdict is not PinCheck.PASSED:
        facts["reason"] = verdict.value
    return ChannelResult(PIN_OUTCOMES[verdict], verdict.final, facts, new_state)


def issue_pin_state(policy: PinPolicy, now: datetime) -> dict[str, DetailValue]:
    return {f"pin_{k}": v for k, v in PinState.issue(policy, now).to_dict().items()}


class SmsPinChannel:
    name = "sms-otp"

    def __init__(self, *, k_pin: bytes, policy: PinPolicy, send: SendSms, host: str) -> None:
        self._k_pin = k_pin
        self._policy = policy
        self._send = send
        self._host = host

    def start(self, request: VerificationRequest) -> Challenge:
        state = issue_pin_state(self._policy, request.at)
        phone = request.contact.get("phone", "")
        return Challenge(
            channel=self.name,
            expires_at=PinState.from_dict({k[4:]: v for k, v in state.items()}).expires_at,
            display={
                "phone_hint": phone[-2:],
                "digits": str(self._policy.digits),
                "ttl": str(self._policy.ttl_seconds),
            },
            state={**state, "sent": False},
        )

    def dispatch(
        self, request: VerificationRequest, state: Mapping[str, DetailValue], *, now: datetime
    ) -> ChannelResult:
        phone = request.contact.get("phone")
        if not phone:
            return ChannelResult(Outcome.FAILED, True, {"reason": "no-phone"}, state)
        pin = derive_pin(self._k_pin, pin_payload(request), self._policy.digits)
        minutes = max(1, self._policy.ttl_seconds // 60)
        body = (
            f"Your Sealwright signing PIN is {pin}. It expires in {minutes} min and works only "
            f"for this document. Never share it.\n\n@{self._host} #{pin}"
        )
        try:
            self._send(phone, body, request.reference)
        except DeliveryFailed as exc:
            if exc.permanent:
                return ChannelResult(Outcome.FAILED, True, {"reason": "undeliverable"}, state)
            raise
        return ChannelResult(Outcome.PASSED, False, {"provider": "sms"}, {**state, "sent": True})

    def complete(
        self,
        request: VerificationRequest,
        state: Mapping[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: datetime,
    ) -> ChannelResult:
        if evidence.kind == DELIVERY_REPORT:  # the carrier's final word: it never arrived
            return ChannelResult(
                Outcome.FAILED,
                True,
                {"provider": "sms", "reason": "undeliverable", "sms_status": evidence.value},
                state,
            )
        if evidence.kind != "pin":
            raise ValidationError("this step is answered with the PIN from the text message")
        return check_pin(self._k_pin, request, state, evidence.value, now, {"provider": "sms"})
