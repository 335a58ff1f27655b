"""Voice calls for the phone-callback channel (C1): the ``CallPlacer`` port, a
Twilio-compatible adapter (the Calls API), and parsers for the carrier's callbacks.

The adapter speaks Twilio's Calls API (``POST /2010-04-01/Accounts/{sid}/Calls.json`` with
To, From, Url, Method, StatusCallback and StatusCallbackEvent); the carrier then fetches
our TwiML from ``Url``, posts keypad digits to a ``<Gather>`` action and reports the call's
progress to ``StatusCallback``. Each of those requests carries ``X-Twilio-Signature``,
checked with ``identity.sms.valid_twilio_signature`` (the same account, the same rule).
In development it talks to the carrier simulator (``sealwright.simulators.voice``).

A phone number never appears in an error, a log line or an exception message; nor does
the auth token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from sealwright.errors import DeliveryFailed
from sealwright.identity.twilio_rest import TwilioRestClient, is_e164

__all__ = [
    "CALL_STATUSES",
    "FAILED_CALL_STATUSES",
    "CallFailed",
    "CallPlacer",
    "CallStatus",
    "GatherResult",
    "TwilioVoice",
    "attestation_level",
    "parse_call_status",
    "parse_gather",
]

#: Twilio's call statuses, in the order a call moves through them.
CALL_STATUSES = (
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
)
#: Final statuses of a call nobody answered.
FAILED_CALL_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled"})
#: The progress events we ask the carrier to report (``completed`` is always reported).
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_ANSWERED_BY = re.compile(r"[a-z_]{1,40}")
#: ``StirVerstat`` as Twilio reports it (``TN-Validation-Passed-A``, ...).
_VERSTAT = re.compile(r"TN-Validation-(Passed|Failed)-([ABC])")


class CallFailed(DeliveryFailed):
    """A call was not placed. ``reason`` is short and safe to log (no number, no token);
    ``error_code`` is the provider's numeric code when it gave one."""

    code = "call-failed"

    def __init__(
        self,
        reason: str,
        *,
        error_code: int | None = None,
        permanent: bool = False,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(f"call not placed: {reason}", permanent=permanent)
        self.reason = reason
        self.error_code = error_code
        #: The provider may have placed it although no answer came back: never call again.
        self.outcome_unknown = outcome_unknown


class CallPlacer(Protocol):
    def place_call(self, *, to: str, twiml_url: str, status_url: str) -> str:
        """Ask the carrier to call ``to``; it fetches its instructions from ``twiml_url``
        and reports progress to ``status_url``. Returns the call id; raises CallFailed."""
        ...


@dataclass(frozen=True)
class CallStatus:
    """A status callback: which call, its status, and what the carrier vouches for."""

    call_sid: str
    status: str
    #: Answering-machine detection's verdict (``human``, ``machine_start``, ...), if asked.
    answered_by: str | None
    #: STIR/SHAKEN attestation level ``A``/``B``/``C`` the carrier reported, if any.
    attestation: str | None
    duration: int | None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_CALL_STATUSES


@dataclass(frozen=True)
class GatherResult:
    call_sid: str
    digits: str


def attestation_level(params: Mapping[str, str]) -> str | None:
    """The STIR/SHAKEN attestation a carrier reported: ``StirVerstat``
    (``TN-Validation-Passed-B``) or a bare ``StirAttestation`` (``B``). A failed
    validation counts as none."""
    verstat = _VERSTAT.fullmatch(params.get("StirVerstat", ""))
    if verstat is not None:
        return verstat.group(2) if verstat.group(1) == "Passed" else None
    bare = params.get("StirAttestation", "")
    return bare if bare in ("A", "B", "C") else None


def _call_sid(params: Mapping[str, str]) -> str:
    sid = params.get("CallSid", "")
    if _CALL_SID.fullmatch(sid) is None:
        raise ValueError("not a call callback")
    return sid


def parse_call_status(params: Mapping[str, str]) -> CallStatus:
    """The fields Sealwright uses from a status callback's form. Check the signature first;
    raises ValueError on a malformed report."""
    sid = _call_sid(params)
    status = params.get("CallStatus", "")
    if status not in CALL_STATUSES:
        raise ValueError("unknown call status")
    answered_by = params.get("AnsweredBy") or None
    if answered_by is not None and _ANSWERED_BY.fullmatch(answered_by) is None:
        raise ValueError("malformed AnsweredBy")
    raw = params.get("CallDuration") or ""
    if raw and re.fullmatch(r"[0-9]{1,6}", raw) is None:
        raise ValueError("malformed CallDuration")
    duration = int(raw) if raw else None
    return CallStatus(sid, status, answered_by, attestation_level(params), duration)


def parse_gather(params: Mapping[str, str]) -> GatherResult:
    """A ``<Gather>`` action's form: the call and the keys pressed (``""`` for none)."""
    sid = _call_sid(params)
    digits = params.get("Digits", "")
    if re.fullmatch(r"[0-9*#]{0,20}", digits) is None:
        raise ValueError("malformed Digits")
    return GatherResult(sid, digits)


class TwilioVoice(TwilioRestClient):
    """``CallPlacer`` over Twilio's Calls API. A POST that reached the provider is never
    repeated (the phone would ring twice); only one that could not connect is tried again."""

    resource = "Calls"
    number_role = "caller"

    @property
    def calls_url(self) -> str:
        return self.resource_url

    def place_call(self, *, to: str, twiml_url: str, status_url: str) -> str:
        if not is_e164(to):
            raise CallFailed("destination is not an E.164 number", error_code=21211, permanent=True)
        for url in (twiml_url, status_url):
            if urlsplit(url).scheme not in ("https", "http"):
                raise CallFailed("callback URL is not http(s)", error_code=21205, permanent=True)
        form: list[tuple[str, str]] = [
            ("To", to),
            ("From", self.account.from_number),
            ("Url", twiml_url),
            ("Method", "POST"),
            ("StatusCallback", status_url),
            ("StatusCallbackMethod", "POST"),
            *(("StatusCallbackEvent", event) for event in STATUS_EVENTS),
        ]
        sid, _ = self._created(self._post(_multi(form), CallFailed), _CALL_SID, CallFailed, "call")
        return sid


def _multi(form: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """httpx encodes a list value as a repeated field (StatusCallbackEvent)."""
    out: dict[str, str | list[str]] = {}
    for name, value in form:
        present = out.get(name)
        if present is None:
            out[name] = value
        elif isinstance(present, list):
            present.append(value)
        else:
            out[name] = [present, value]
    return out
