"""Phone callback (C1): the service calls the number the *sender* put on file and binds
the call to the document with a callback PIN (``pin.py``).

Two confirmation modes, chosen per run (``state["mode"]``):

* ``speak`` (default): the call says the PIN, digit by digit; the signer types it on the
  signing page (evidence ``pin``). Whoever holds the page must also hold the phone.
* ``dtmf``: the page shows the PIN; the call asks for it and the carrier posts the keys
  pressed (evidence ``dtmf``, from the carrier). Whoever holds the phone confirms the page.

The carrier's reports reach the channel as evidence too -- ``call-status`` (busy, no
answer, failed, ... with the STIR/SHAKEN attestation) and ``call-event`` (``spoken``: the
PIN was said to the end) -- built by :meth:`PhoneCallbackChannel.carrier_evidence` only
after the web layer checked the carrier's signature. That evidence carries an HMAC tag
under a key derived from ``k_pin``, so a signer who posts ``kind=dtmf`` with the PIN the
page shows, or a forged status, gets nowhere.

``start`` is pure; ``dispatch`` places the call through a :class:`CallPlacer`; the TwiML
the carrier fetches is built here (``twiml``/``after_gather``/``after_spoken``) because
only the channel can derive the PIN. No phone number, PIN or digits ever enter
``details``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

from sealwright.channels.pin import PinPolicy, PinState, derive_pin
from sealwright.channels.port import (
    Challenge,
    ChannelResult,
    DetailValue,
    Outcome,
    SignerEvidence,
    VerificationRequest,
)
from sealwright.channels.sms import check_pin, issue_pin_state, pin_payload
from sealwright.errors import DeliveryFailed, ValidationError
from sealwright.ledger.canonical import canonicalize

__all__ = [
    "CARRIER_KINDS",
    "MODES",
    "NAME",
    "CallPlacer",
    "PhoneCallbackChannel",
    "VoicePaths",
    "masked",
]

NAME = "phone-callback"
MODES = ("speak", "dtmf")
CARRIER_KINDS = frozenset({"dtmf", "call-status", "call-event"})
#: Call statuses that end the run as failed (the orchestrator may fall back on another
#: channel); ``dropped`` and ``machine`` are ours: hung up too early, or a voicemail.
FAILED_CALLS = frozenset({"busy", "no-answer", "failed", "canceled"})
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
_TAG_LABEL = b"sealwright-phone-carrier/1"


class CallPlacer(Protocol):
    """``identity.voice.CallPlacer``, restated so this pure module imports no HTTP client."""

    def place_call(self, *, to: str, twiml_url: str, status_url: str) -> str: ...


class VoicePaths:
    """Where the carrier reaches us for one run (``web/signer_phone.py`` serves them)."""

    PREFIX = "/s/voice/"

    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")

    def path(self, reference: str, step: str) -> str:
        return f"{self.PREFIX}{reference}/{step}"

    def url(self, reference: str, step: str) -> str:
        return self.base + self.path(reference, step)


def masked(phone: str) -> str:
    return f"{phone[:3]}•••{phone[-2:]}" if phone else ""


def _spaced(pin: str) -> str:
    return ", ".join(pin)


def _twiml(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"


def _say(text: str) -> str:
    return f"<Say>{escape(text)}</Say>"


GOODBYE = _twiml(_say("This verification call is no longer valid. Goodbye."), "<Hangup/>")


class PhoneCallbackChannel:
    name = NAME

    def __init__(
        self,
        *,
        k_pin: bytes,
        policy: PinPolicy,
        calls: CallPlacer,
        public_url: str,
        provider: str,
    ) -> None:
        self._k_pin = k_pin
        self._tag_key = hmac.new(k_pin, _TAG_LABEL, hashlib.sha256).digest()
        self._policy = policy
        self._calls = calls
        self.paths = VoicePaths(public_url)
        self.provider = provider

    # -- the port ------------------------------------------------------------------------

    def start(self, request: VerificationRequest) -> Challenge:
        state: dict[str, DetailValue] = {
            **issue_pin_state(self._policy, request.at),
            "mode": "speak",
            "call_sid": "",
            "call_status": "not-placed",
            "attestation": "none",
            "answered_by": None,
            "spoken": False,
            "gathered": False,
        }
        pin = PinState.from_dict({k[4:]: v for k, v in state.items() if k.startswith("pin_")})
        return Challenge(
            channel=self.name,
            expires_at=pin.expires_at,
            display=self.display(request, state),
            state=state,
        )

    def with_mode(
        self, request: VerificationRequest, state: Mapping[str, DetailValue], mode: str
    ) -> tuple[dict[str, DetailValue], dict[str, str]]:
        """The state and display of a run in ``mode`` (set before the call is placed)."""
        if mode not in MODES:
            raise ValidationError("the confirmation mode is speak or dtmf")
        if state.get("call_sid"):
            raise ValidationError("the call is already placed")
        new = {**state, "mode": mode}
        return new, self.display(request, new)

    def display(
        self, request: VerificationRequest, state: Mapping[str, DetailValue]
    ) -> dict[str, str]:
        shown = {
            "mode": str(state.get("mode", "speak")),
            "phone": masked(request.contact.get("phone", "")),
            "digits": str(self._policy.digits),
            "ttl": str(self._policy.ttl_seconds),
            "call": str(state.get("call_status", "not-placed")),
        }
        if shown["mode"] == "dtmf":  # the one mode where the page must show the PIN
            shown["pin"] = self._pin(request)
        return shown

    def dispatch(
        self, request: VerificationRequest, state: Mapping[str, DetailValue], *, now: datetime
    ) -> ChannelResult:
        phone = request.contact.get("phone")
        if not phone:
            details = self._details(state, reason="no-phone")
            return ChannelResult(Outcome.FAILED, True, details, state)
        try:
            sid = self._calls.place_call(
                to=phone,
                twiml_url=self.paths.url(request.reference, "twiml"),
                status_url=self.paths.url(request.reference, "status"),
            )
        except DeliveryFailed as exc:
            code = getattr(exc, "error_code", None)
            details = self._details(state, reason="provider-error", call_status="not-placed")
            if isinstance(code, int):
                details["provider_code"] = code
            return ChannelResult(Outcome.FAILED, True, details, state)
        placed = {**state, "call_sid": sid}
        return ChannelResult(Outcome.PASSED, False, self._details(placed), placed)

    def complete(
        self,
        request: VerificationRequest,
        state: Mapping[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: datetime,
    ) -> ChannelResult:
        mode = state.get("mode")
        if evidence.kind == "pin":
            if mode != "speak":  # the page shows it in dtmf mode: typing it proves nothing
                return self._refused(state, "wrong-mode")
            return check_pin(self._k_pin, request, state, evidence.value, now, self._details(state))
        if evidence.kind not in CARRIER_KINDS:
            raise ValidationError("this step is answered with the PIN from the call")
        fields = self._untag(request.reference, evidence)
        if fields is None:
            return self._refused(state, "not-from-carrier")
        sid = str(state.get("call_sid") or "")
        if sid and not hmac.compare_digest(sid, fields.get("call_sid", "")):
            return self._refused(state, "other-call")
        if evidence.kind == "dtmf":
            if mode != "dtmf":
                return self._refused(state, "wrong-mode")
            keyed = {**state, "gathered": True}
            return check_pin(
                self._k_pin, request, keyed, fields.get("digits", ""), now, self._details(keyed)
            )
        if evidence.kind == "call-event":
            if fields.get("event") != "spoken":
                raise ValidationError("unknown call event")
            spoken = {**state, "spoken": True}
            return ChannelResult(Outcome.PASSED, False, self._details(spoken), spoken)
        return self._status(state, fields)

    # -- TwiML the carrier fetches -------------------------------------------------------

    def twiml(self, request: VerificationRequest, state: Mapping[str, DetailValue]) -> str:
        """The call's instructions when the phone is answered."""
        intro = "Hello. This is Sealwright calling to confirm a signature you are making."
        if state.get("mode") == "dtmf":
            return _twiml(
                self._gather(
                    request,
                    intro + " Please enter the code shown on your screen, using your keypad.",
                ),
                _say("We did not receive a code. Goodbye."),
                "<Hangup/>",
            )
        pin = _spaced(self._pin(request))
        return _twiml(
            _say(f"{intro} Your verification code is: {pin}. Again, your code is: {pin}."),
            f'<Redirect method="POST">{escape(self.paths.url(request.reference, "spoken"))}'
            "</Redirect>",
        )

    def after_spoken(self) -> str:
        return _twiml(_say("Type this code on the signing page. Goodbye."), "<Hangup/>")

    def after_gather(self, request: VerificationRequest, status: str) -> str:
        """What the call says once the keyed code was checked (``status``: the run's)."""
        if status == "passed":
            return _twiml(_say("Thank you. Your signature is confirmed. Goodbye."), "<Hangup/>")
        if status == "pending":
            return _twiml(
                self._gather(request, "That code did not match. Please try again."),
                _say("We did not receive a code. Goodbye."),
                "<Hangup/>",
            )
        return _twiml(_say("That code did not match. Goodbye."), "<Hangup/>")

    # -- carrier evidence ----------------------------------------------------------------

    def carrier_evidence(
        self, reference: str, kind: str, fields: Mapping[str, str]
    ) -> SignerEvidence:
        """Evidence from a carrier callback whose signature the caller has checked."""
        if kind not in CARRIER_KINDS:
            raise ValidationError("not a carrier evidence kind")
        body = dict(fields)
        body["tag"] = self._tag(reference, kind, body)
        return SignerEvidence(kind, json.dumps(body, sort_keys=True))

    # -- internals -----------------------------------------------------------------------

    def _tag(self, reference: str, kind: str, fields: Mapping[str, str]) -> str:
        data = reference.encode() + b"\x00" + kind.encode() + b"\x00" + canonicalize(dict(fields))
        return hmac.new(self._tag_key, data, hashlib.sha256).hexdigest()

    def _untag(self, reference: str, evidence: SignerEvidence) -> dict[str, str] | None:
        try:
            body = json.loads(evidence.value)
        except ValueError:
            return None
        if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
            return None
        tag = body.pop("tag", "")
        expected = self._tag(reference, evidence.kind, body)
        return body if hmac.compare_digest(expected, tag) else None

    def _gather(self, request: VerificationRequest, prompt: str) -> str:
        action = quoteattr(self.paths.url(request.reference, "gather"))
        return (
            f'<Gather input="dtmf" numDigits="{self._policy.digits}" action={action} '
            f'method="POST" timeout="10">{_say(prompt)}</Gather>'
        )

    def _pin(self, request: VerificationRequest) -> str:
        return derive_pin(self._k_pin, pin_payload(request), self._policy.digits)

    def _status(self, state: Mapping[str, DetailValue], fields: Mapping[str, str]) -> ChannelResult:
        status = fields.get("status", "")
        new: dict[str, DetailValue] = {**state, "call_status": status}
        if fields.get("attestation") in ("A", "B", "C"):
            new["attestation"] = fields["attestation"]
        if fields.get("answered_by"):
            new["answered_by"] = fields["answered_by"]
        ended: str | None = None
        if status in FAILED_CALLS:
            ended = status
        elif new.get("answered_by") in MACHINE:
            ended = "machine"
        elif status == "completed":
            # Said to the end (speak) -- the signer may still type it; otherwise the call
            # ended before anyone could confirm anything.
            if state.get("mode") == "speak" and state.get("spoken"):
                return ChannelResult(Outcome.PASSED, False, self._details(new), new)
            ended = "completed" if state.get("gathered") else "dropped"
        if ended is None:
            return ChannelResult(Outcome.PASSED, False, self._details(new), new)
        new["call_status"] = ended
        return ChannelResult(Outcome.FAILED, True, self._details(new), new)

    def _refused(self, state: Mapping[str, DetailValue], reason: str) -> ChannelResult:
        return ChannelResult(Outcome.FAILED, False, self._details(state, reason=reason), state)

    def _details(
        self, state: Mapping[str, DetailValue], **extra: DetailValue
    ) -> dict[str, DetailValue]:
        details: dict[str, DetailValue] = {
            "mode": state.get("mode", "speak"),
            "provider": self.provider,
            "digits": self._policy.digits,
            "attempts": state.get("pin_attempts", 0),
            "attestation": state.get("attestation", "none"),
            "call_status": state.get("call_status", "not-placed"),
        }
        details.update(extra)
        return details
