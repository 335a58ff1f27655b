"""Voice calls for the carrier simulator, FOR DEVELOPMENT AND TESTS: Twilio's Calls API and
a simulated handset at the other end.

- ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` (To, From, Url, Method,
  StatusCallback, StatusCallbackEvent...) answers 201 with a Twilio-shaped call ("CA…",
  ``queued``) or Twilio's error JSON; ``GET …/Calls/{Sid}.json`` reads it back; ``POST
  …/Calls/{Sid}.json`` with ``Status=completed`` or ``canceled`` ends it.
- After ``ring_delay`` seconds the call rings; then, per the number's :class:`CallScript`,
  it is answered, busy, not answered, fails, or is answered and dropped at once.
- An answered call fetches its TwiML from ``Url`` (a POST signed with
  ``X-Twilio-Signature`` like every request Twilio makes) and plays it: ``<Say>`` is
  recorded (``heard``), ``<Gather>`` waits for keys (``press``) and posts them, signed, to
  its action, ``<Redirect>`` fetches the next document, ``<Pause>`` is skipped,
  ``<Hangup>`` or the end of the document ends the call.
- Status callbacks (``initiated``, ``ringing``, ``answered`` when asked for, ``completed``
  always) are signed and carry ``StirVerstat`` when the script sets an attestation level.

Tests and the development page act as the phone: ``calls_to``, ``heard``, ``press``,
``hang_up``.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import format_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from sealwright.identity.sms import is_e164

if TYPE_CHECKING:
    from sealwright.simulators.carrier import Answer, CarrierSimulator, Request

API_VERSION = "2010-04-01"
_MAX_TWIML = 64 * 1024
_MAX_REDIRECTS = 10


class CallOutcome(StrEnum):
    ANSWER = "answer"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    DROP = "drop"  # answered, TwiML fetched, line lost before anything is played


@dataclass(frozen=True)
class CallScript:
    outcome: CallOutcome = CallOutcome.ANSWER
    #: STIR/SHAKEN attestation the carrier reports (``None``: not reported).
    attestation: str | None = "A"
    #: Answering-machine detection's verdict to report, e.g. ``machine_start``.
    answered_by: str | None = None


@dataclass
class SimulatedCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str
    status: str
    created_at: datetime
    script: CallScript
    status_callback: str | None = None
    events: frozenset[str] = frozenset({"completed"})
    #: What the call said, one entry per ``<Say>``: the handset's ear.
    spoken: list[str] = field(default_factory=list)
    #: The ``<Gather>`` waiting for keys: (action URL, number of digits).
    gather: tuple[str, int] | None = None
    callbacks: list[tuple[str, int | None]] = field(default_factory=list)
    answered_at: float | None = None
    sequence: int = 0

    def __repr__(self) -> str:  # what was said holds a PIN
        return f"SimulatedCall(sid={self.sid!r}, status={self.status!r})"

    @property
    def active(self) -> bool:
        return self.status in ("queued", "initiated", "ringing", "in-progress")

    def resource(self) -> dict[str, Any]:
        date = format_datetime(self.created_at, usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "answered_by": self.script.answered_by,
            "date_created": date,
            "date_updated": date,
            "direction": "outbound-api",
            "from": self.from_,
            "sid": self.sid,
            "status": self.status,
            "to": self.to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json",
        }


class VoicePart:
    """The Calls resource and the handsets it rings."""

    def __init__(self, carrier: CarrierSimulator, *, ring_delay: float = 0.2) -> None:
        self._carrier = carrier
        self.ring_delay = ring_delay
        self._calls: dict[str, SimulatedCall] = {}
        self._scripts: dict[str, CallScript] = {}
        self.default_script = CallScript()
        self._gather_seq = 0
        carrier.add_route("POST", r"/Calls\.json", self._create)
        carrier.add_route("GET", r"/Calls/(?P<sid>CA[0-9a-f]{32})\.json", self._fetch)
        carrier.add_route("POST", r"/Calls/(?P<sid>CA[0-9a-f]{32})\.json", self._update)

    # -- scripting and the handset ------------------------------------------------------

    def script(self, number: str, script: CallScript) -> None:
        with self._carrier._lock:
            self._scripts[number] = script

    def calls_to(self, number: str) -> list[SimulatedCall]:
        with self._carrier._lock:
            return [self._copy(c) for c in self._calls.values() if c.to == number]

    def all(self) -> list[SimulatedCall]:
        with self._carrier._lock:
            return [self._copy(c) for c in self._calls.values()]

    def get(self, sid: str) -> SimulatedCall | None:
        with self._carrier._lock:
            call = self._calls.get(sid)
            return None if call is None else self._copy(call)

    def heard(self, sid: str) -> list[str]:
        with self._carrier._lock:
            return list(self._calls[sid].spoken)

    def press(self, sid: str, digits: str) -> None:
        """Key ``digits`` into the call's waiting ``<Gather>`` (posted on the carrier's
        thread, like a real carrier's request). KeyError/ValueError when none waits."""
        with self._carrier._lock:
            call = self._calls[sid]
            if call.gather is None or not call.active:
                raise ValueError("the call is not waiting for keys")
            action, num = call.gather
            call.gather = None
            self._gather_seq += 1
        keys = digits[:num] if num else digits
        self._carrier.later(0.0, lambda: self._fetch_and_play(sid, action, {"Digits": keys}))

    def hang_up(self, sid: str) -> None:
        self._end(sid, "completed")

    # -- API ---------------------------------------------------------------------------

    def _fetch(self, request: Request) -> Answer:
        from sealwright.simulators.carrier import Answer, ApiError

        call = self.get(request.match.group("sid"))
        if call is None or call.account_sid != request.account_sid:
            raise ApiError(404, 20404, "The requested resource was not found")
        return Answer(200, call.resource())

    def _update(self, request: Request) -> Answer:
        from sealwright.simulators.carrier import Answer, ApiError

        sid = request.match.group("sid")
        call = self.get(sid)
        if call is None or call.account_sid != request.account_sid:
            raise ApiError(404, 20404, "The requested resource was not found")
        status = request.field("Status")
        if status not in ("completed", "canceled"):
            raise ApiError(400, 21220, "Invalid call state for the update.")
        if call.active:
            self._end(sid, "canceled" if call.status != "in-progress" else "completed")
        return Answer(200, self.get(sid).resource())  # type: ignore[union-attr]

    def _create(self, request: Request) -> Answer:
        from sealwright.simulators.carrier import Answer, ApiError, Failure

        to, from_, url = request.field("To"), request.field("From"), request.field("Url")
        callback = request.field("StatusCallback") or None
        if not to:
            raise ApiError(400, 21201, "No 'To' number is specified")
        if not from_:
            raise ApiError(400, 21213, "No 'From' number is specified")
        if not url or urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(400, 21205, "Url is not a valid URL.")
        if not is_e164(to):
            raise ApiError(400, 21211, "The 'To' number is not a valid phone number.")
        if not is_e164(from_):
            raise ApiError(400, 21212, "The 'From' number is not a valid phone number.")
        if callback is not None and urlsplit(callback).scheme not in ("http", "https"):
            raise ApiError(400, 21609, "Invalid StatusCallback URL.")
        rule = self._carrier.failure_for(to)
        failure = rule.failure if rule is not None else None
        if failure is Failure.INVALID_NUMBER:
            raise ApiError(400, 21211, "The 'To' number is not a valid phone number.")
        if failure is Failure.SERVER_ERROR:
            raise ApiError(500, 20500, "Internal Server Error")
        events = {v for k, v in request.form if k == "StatusCallbackEvent"} | {"completed"}
        with self._carrier._lock:
            script = self._scripts.get(to, self.default_script)
        call = SimulatedCall(
            sid=self._carrier.new_sid("CA"),
            account_sid=request.account_sid,
            to=to,
            from_=from_,
            url=url,
            status="queued",
            created_at=self._carrier.now(),
            script=script,
            status_callback=callback,
            events=frozenset(events),
        )
        with self._carrier._lock:
            self._calls[call.sid] = call
        self._carrier.changed()
        self._carrier.later(self.ring_delay / 2, lambda: self._initiate(call.sid))
        self._carrier.later(self.ring_delay, lambda: self._ring(call.sid))
        delay = rule.delay if rule is not None and failure is Failure.SLOW else 0.0
        return Answer(201, call.resource(), delay)

    # -- the call's life ---------------------------------------------------------------

    def _initiate(self, sid: str) -> None:
        self._progress(sid, "initiated")

    def _ring(self, sid: str) -> None:
        if not self._progress(sid, "ringing"):
            return
        outcome = self._calls[sid].script.outcome
        if outcome in (CallOutcome.BUSY, CallOutcome.NO_ANSWER, CallOutcome.FAILED):
            self._carrier.later(self.ring_delay, lambda: self._end(sid, outcome.value))
            return
        self._carrier.later(self.ring_delay, lambda: self._answer(sid))

    def _answer(self, sid: str) -> None:
        if not self._progress(sid, "in-progress", event="answered"):
            return
        with self._carrier._lock:
            call = self._calls[sid]
            call.answered_at = self._carrier_time()
            url, drop = call.url, call.script.outcome is CallOutcome.DROP
        if drop:
            self._post(sid, url, {})  # the instructions are fetched, then the line is lost
            self._end(sid, "completed")
            return
        self._fetch_and_play(sid, url, {})

    def _fetch_and_play(self, sid: str, url: str, extra: dict[str, str]) -> None:
        for _ in range(_MAX_REDIRECTS):
            document = self._post(sid, url, extra)
            if document is None:
                self._say(sid, "We are sorry, an application error has occurred. Goodbye.")
                self._end(sid, "completed")
                return
            nxt = self._play(sid, url, document)
            if nxt is None:
                return
            url, extra = nxt
        self._end(sid, "completed")

    def _play(self, sid: str, base: str, document: ET.Element) -> tuple[str, dict[str, str]] | None:
        """Run the verbs; returns a Redirect to follow, or None (ended or waiting)."""
        verbs = list(document)
        for index, verb in enumerate(verbs):
            if not self._is_active(sid):
                return None
            if verb.tag == "Say":
                self._say(sid, verb.text or "")
            elif verb.tag == "Redirect":
                return urljoin(base, (verb.text or "").strip()), {}
            elif verb.tag == "Hangup":
                self._end(sid, "completed")
                return None
            elif verb.tag == "Gather":
                for inner in verb:
                    if inner.tag == "Say":
                        self._say(sid, inner.text or "")
                action = urljoin(base, verb.get("action") or base)
                num = int(verb.get("numDigits") or 0)
                timeout = float(verb.get("timeout") or 5)
                self._wait_keys(sid, action, num, timeout, base, verbs[index + 1 :])
                return None
        self._end(sid, "completed")  # the end of the document hangs up
        return None

    def _wait_keys(
        self, sid: str, action: str, num: int, timeout: float, base: str, rest: list[ET.Element]
    ) -> None:
        with self._carrier._lock:
            self._calls[sid].gather = (action, num)
            seq = self._gather_seq
        self._carrier.changed()

        def no_input() -> None:
            with self._carrier._lock:
                call = self._calls[sid]
                if call.gather is None or self._gather_seq != seq:
                    return  # keys came in
                call.gather = None
            root = ET.Element("Response")
            root.extend(rest)
            redirect = self._play(sid, base, root)
            if redirect is not None:
                self._fetch_and_play(sid, *redirect)

        self._carrier.later(timeout, no_input)

    def _post(self, sid: str, url: str, extra: dict[str, str]) -> ET.Element | None:
        with self._carrier._lock:
            params = {**self._params(self._calls[sid]), **extra}
        status, body = self._carrier.post_signed_text(url, params)
        if status != 200 or body is None or len(body) > _MAX_TWIML:
            return None
        try:
            # Our own application's answer, size-capped; expat refuses entity expansion.
            root = ET.fromstring(body)  # noqa: S314
        except ET.ParseError:
            return None
        return root if root.tag == "Response" else None

    def _say(self, sid: str, text: str) -> None:
        with self._carrier._lock:
            self._calls[sid].spoken.append(" ".join(text.split()))
        self._carrier.changed()

    def _is_active(self, sid: str) -> bool:
        with self._carrier._lock:
            return self._calls[sid].active

    def _progress(self, sid: str, status: str, *, event: str | None = None) -> bool:
        with self._carrier._lock:
            call = self._calls[sid]
            if not call.active:
                return False
            call.status = status
        self._callback(sid, event or status)
        return True

    def _end(self, sid: str, status: str) -> None:
        with self._carrier._lock:
            call = self._calls[sid]
            if not call.active:
                return
            call.status, call.gather = status, None
        self._callback(sid, "completed")

    def _callback(self, sid: str, event: str) -> None:
        with self._carrier._lock:
            call = self._calls[sid]
            url = call.status_callback if event in call.events else None
            status = call.status
            call.sequence += 1
            params = {
                **self._params(call),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(call.sequence - 1),
                "Timestamp": format_datetime(self._carrier.now(), usegmt=True),
            }
            if call.status == "completed":
                answered = call.answered_at
                seconds = 0 if answered is None else int(self._carrier_time() - answered)
                params["CallDuration"] = str(seconds)
            if call.script.answered_by and call.answered_at is not None:
                params["AnsweredBy"] = call.script.answered_by
            if call.script.attestation:
                params["StirVerstat"] = f"TN-Validation-Passed-{call.script.attestation}"
        self._carrier.changed()
        if url is None:
            return
        http_status, _ = self._carrier.post_signed(url, params)
        with self._carrier._lock:
            self._calls[sid].callbacks.append((status, http_status))
        self._carrier.changed()

    @staticmethod
    def _params(call: SimulatedCall) -> dict[str, str]:
        return {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call.status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    @staticmethod
    def _carrier_time() -> float:
        return time.monotonic()

    @staticmethod
    def _copy(call: SimulatedCall) -> SimulatedCall:
        return replace(call, spoken=list(call.spoken), callbacks=list(call.callbacks))
