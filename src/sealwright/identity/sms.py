"""SMS for one-time codes: the ``SmsSender`` port, a Twilio-compatible adapter, and Twilio's
request signatures (so status callbacks can be trusted).

The adapter speaks Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``),
which several other carriers also accept; in development it talks to the local carrier
simulator (``sealwright.simulators.carrier``), which behaves the same over real HTTP.

A message body holds a one-time code, so it never appears in an error, a log line or an
exception message; nor does the auth token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from sealwright.errors import DeliveryFailed
from sealwright.identity.twilio_rest import E164 as E164
from sealwright.identity.twilio_rest import TwilioAccount as TwilioAccount
from sealwright.identity.twilio_rest import TwilioRestClient
from sealwright.identity.twilio_rest import is_e164 as is_e164

#: Twilio refuses longer bodies (error 21617); a code message is far shorter.
MAX_BODY_CHARS = 1600
_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
#: Statuses Twilio reports for a message, in the order a message moves through them.
STATUSES = (
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "read",
    "canceled",
    "receiving",
    "received",
)
FINAL_FAILURES = frozenset({"undelivered", "failed", "canceled"})


class SmsFailed(DeliveryFailed):
    """An SMS was not handed over. ``reason`` is short and safe to log (no body, no token);
    ``error_code`` is the provider's numeric code when it gave one; ``permanent`` is true
    when sending the same message again cannot help; ``outcome_unknown`` is true when the
    provider may have accepted it although no answer came back (a read timeout): resending
    may deliver the code twice."""

    code = "sms-failed"

    def __init__(
        self,
        reason: str,
        *,
        error_code: int | None = None,
        permanent: bool = False,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(f"SMS not sent: {reason}", permanent=permanent)
        self.reason = reason
        self.error_code = error_code
        self.outcome_unknown = outcome_unknown


class SmsSender(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Hand one SMS to the provider; return its message id. Raises ``SmsFailed``."""
        ...


@dataclass(frozen=True)
class StatusCallback:
    """A delivery report Twilio (or the simulator) posted to our ``StatusCallback`` URL."""

    message_sid: str
    status: str
    to: str
    error_code: int | None

    @property
    def failed(self) -> bool:
        return self.status in FINAL_FAILURES


def parse_status_callback(params: Mapping[str, str]) -> StatusCallback:
    """The fields Sealwright uses from a status callback's form. Check the signature
    first (``valid_twilio_signature``); raises ValueError on a malformed report."""
    sid = params.get("MessageSid", "")
    status = params.get("MessageStatus", "")
    if _SID.fullmatch(sid) is None or status not in STATUSES:
        raise ValueError("not a message status callback")
    raw_code = params.get("ErrorCode") or ""
    if raw_code and re.fullmatch(r"[0-9]{1,9}", raw_code) is None:
        raise ValueError("malformed ErrorCode")
    return StatusCallback(sid, status, params.get("To", ""), int(raw_code) if raw_code else None)


# -- Twilio's request signature ------------------------------------------------------------

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(params: Params) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, Mapping) else list(params)


def twilio_signature(auth_token: str, url: str, params: Params) -> str:
    """``X-Twilio-Signature``: base64(HMAC-SHA1(auth token, URL + every POST parameter as
    name + value, sorted by name, then by value for repeated names)). ``url`` is the full
    URL Twilio requested, query string included, exactly as configured."""
    data = url + "".join(name + value for name, value in sorted(_pairs(params)))
    mac = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _port_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port: Twilio's own
    validators accept all three because Twilio has signed each form at some time."""
    parts = urlsplit(url)
    variants = [url]
    try:
        port = parts.port
    except ValueError:
        return variants
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    bare = host if port is None else host.rsplit(":", 1)[0]
    default = {"https": 443, "http": 80}.get(parts.scheme)
    variants.append(urlunsplit(parts._replace(netloc=userinfo + bare)))
    if default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{userinfo}{bare}:{default}")))
    return variants


def valid_twilio_signature(auth_token: str, url: str, params: Params, signature: str) -> bool:
    """Constant-time check of an ``X-Twilio-Signature`` header against the request."""
    if not signature or not auth_token:
        return False
    pairs = _pairs(params)
    ok = False
    for candidate in _port_variants(url):
        expected = twilio_signature(auth_token, candidate, pairs)
        ok |= hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))
    return ok


# -- the adapter -------------------------------------------------------------------------


class TwilioSms(TwilioRestClient):
    """``SmsSender`` over Twilio's Messages API. A POST that reached the provider is never
    repeated here (it is not idempotent: the code could arrive twice); only a request that
    could not even connect is tried once more."""

    resource = "Messages"
    number_role = "sender"

    @property
    def messages_url(self) -> str:
        return self.resource_url

    def send(self, *, to: str, body: str) -> str:
        if not is_e164(to):
            raise SmsFailed("destination is not an E.164 number", error_code=21211, permanent=True)
        if not body or len(body) > MAX_BODY_CHARS:
            raise SmsFailed("message body empty or too long", error_code=21617, permanent=True)
        form = {"To": to, "From": self.account.from_number, "Body": body}
        if self.account.status_callback:
            form["StatusCallback"] = self.account.status_callback
        sid, payload = self._created(self._post(form, SmsFailed), _SID, SmsFailed, "message")
        if payload.get("status") in FINAL_FAILURES:
            code = payload.get("error_code")
            raise SmsFailed(
                f"provider refused the message ({payload['status']})",
                error_code=code if isinstance(code, int) else None,
                permanent=True,
            )
        return sid
