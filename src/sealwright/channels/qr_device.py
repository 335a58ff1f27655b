"""Second-device presence (C4): the signer scans a QR code with their phone and confirms.

The signing page shows a QR code of ``{public_url}/s/device/{token}``; the phone (another
device, without the signer's cookie) opens it, shows what is being confirmed and a button;
pressing it completes the run. Possession of the token -- which only the signing page
displays -- is the proof that the signer holds a second device at hand.

The token is never stored, in clear or otherwise: it is derived from the run, so it is
bound to the run's nonce and cannot be replayed on any other run::

    mac   = HMAC-SHA256(k_device, "sealwright-qr-device/1" 0x00 run_id 0x00 nonce)
    token = run_id "." base64url(mac)

with ``k_device = HMAC-SHA256(k_pin, "sealwright-qr-device/1")``: its own key, derived
from the channel secret so no new key file is needed. ``state`` keeps only the expiry
and, once the signing page has fetched the QR image, a keyed tag of that page's IP
address (:meth:`QrDeviceChannel.ip_tag`, also bound to the run, so tags of different runs
cannot be compared). Not the IP itself.

``complete`` takes evidence ``device-token`` whose value is JSON
``{"token": ..., "device": <hash of the phone's user agent>, "ip": <ip_tag of the phone>}``
(web/signer_device.py builds it). A wrong token is a non-final failure that changes
nothing; an expired run is ``expired``; the right token passes with details ``device``
(a short hash of the phone's user agent), ``same_ip`` (whether the phone came from the
signing page's address; ``null`` when the page's address was not seen) and ``mode``.
Reuse is refused by the flow: a passed run takes no further answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sealwright.channels._b64 import b64url_encode
from sealwright.channels.port import (
    Challenge,
    ChannelResult,
    DetailValue,
    Outcome,
    SignerEvidence,
    VerificationRequest,
)
from sealwright.errors import ValidationError

__all__ = ["EVIDENCE_KIND", "QrDeviceChannel", "device_key", "parse_token", "user_agent_hash"]

EVIDENCE_KIND = "device-token"
_LABEL = b"sealwright-qr-device/1"
_RUN_ID_LEN = 32
#: ``state`` members: when the link stops working; the signing page's IP tag, once seen.
EXPIRES, SIGNER_IP = "expires_at", "signer_ip"


def device_key(k_pin: bytes) -> bytes:
    """The channel's own HMAC key, derived from the channel secret ``k_pin``."""
    return hmac.new(k_pin, _LABEL, hashlib.sha256).digest()


def parse_token(token: str) -> str | None:
    """The run id a token names, or None if it is not shaped like a token."""
    run_id, dot, mac = token.partition(".")
    if (
        not dot
        or len(run_id) != _RUN_ID_LEN
        or any(c not in "0123456789abcdef" for c in run_id)
        or len(mac) != 43
    ):
        return None
    return run_id


def user_agent_hash(user_agent: str) -> str:
    """16 hex digits: tells devices apart in the evidence without recording the string."""
    return hashlib.sha256(user_agent.encode("utf-8", "replace")).hexdigest()[:16]


class QrDeviceChannel:
    name = "qr-device"

    def __init__(self, *, key: bytes, public_url: str, ttl_seconds: int) -> None:
        if len(key) < 32:
            raise ValueError("the device key must be at least 32 bytes")
        if not 60 <= ttl_seconds <= 900:
            raise ValueError("a device link lives 60 to 900 seconds")
        self._key = key
        self._base = public_url.rstrip("/")
        self.ttl = timedelta(seconds=ttl_seconds)

    # -- the token -----------------------------------------------------------------------

    def token(self, run_id: str, nonce: bytes) -> str:
        message = _LABEL + b"\x00" + run_id.encode("ascii") + b"\x00" + nonce
        mac = hmac.new(self._key, message, hashlib.sha256).digest()
        return f"{run_id}.{b64url_encode(mac)}"

    def url(self, run_id: str, nonce: bytes) -> str:
        """What the signing page's QR code encodes (computed on demand, never stored)."""
        return f"{self._base}/s/device/{self.token(run_id, nonce)}"

    def token_matches(self, token: str, run_id: str, nonce: bytes) -> bool:
        return hmac.compare_digest(token.encode(), self.token(run_id, nonce).encode())

    def ip_tag(self, run_id: str, ip: str) -> str:
        message = _LABEL + b"\x00ip\x00" + run_id.encode("ascii") + b"\x00" + ip.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    # -- the port ------------------------------------------------------------------------

    def start(self, request: VerificationRequest) -> Challenge:
        if not request.reference:
            raise ValidationError("a device link needs the run's id")
        expires = request.at + self.ttl
        return Challenge(
            channel=self.name,
            expires_at=expires,
            # No token here: the page fetches the QR image, derived on demand.
            display={"ttl": str(int(self.ttl.total_seconds()))},
            state={EXPIRES: int(expires.timestamp())},
        )

    def expired(self, state: Mapping[str, DetailValue], now: datetime) -> bool:
        expires = state.get(EXPIRES)
        return not isinstance(expires, int) or now >= datetime.fromtimestamp(expires, UTC)

    def complete(
        self,
        request: VerificationRequest,
        state: Mapping[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: datetime,
    ) -> ChannelResult:
        if evidence.kind != EVIDENCE_KIND:
            raise ValidationError("this step is confirmed on your second device")
        try:
            answer = json.loads(evidence.value)
        except ValueError as exc:
            raise ValidationError("malformed device confirmation") from exc
        if not isinstance(answer, dict) or not all(
            isinstance(answer.get(k), str) for k in ("token", "device", "ip")
        ):
            raise ValidationError("malformed device confirmation")
        if not self.token_matches(answer["token"], request.reference, request.nonce):
            return ChannelResult(Outcome.FAILED, False, {"reason": "wrong-token"}, state)
        if self.expired(state, now):
            return ChannelResult(Outcome.EXPIRED, True, {"reason": "ttl"}, state)
        seen = state.get(SIGNER_IP)
        same_ip = None if not isinstance(seen, str) else hmac.compare_digest(seen, answer["ip"])
        details: dict[str, DetailValue] = {
            "mode": "second-device",
            "device": answer["device"][:16],
            "same_ip": same_ip,
        }
        return ChannelResult(Outcome.PASSED, True, details, state)
