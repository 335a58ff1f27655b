"""Callback PINs bound to the document (C1, C2): derived, never stored.

``PIN = DT(HMAC-SHA256(k_pin, JCS(payload))) mod 10^digits`` where ``payload`` is the
RFC 8785 canonical JSON of ``{"docHash": [<sha256 hex>, ...], "recipient": <id>,
"nonce": <base64url>, "ts": <seconds>}`` and DT is RFC 4226 section 5.3's dynamic
truncation (offset = low four bits of the last byte; 31 bits from there). A PIN said on a
call for one document, recipient or nonce is therefore worthless for any other, and the
service keeps only the payload's inputs: the PIN is recomputed to check it, and compared
in constant time.

:class:`PinState` is the small value a channel stores between the call and the signer's
answer: when it was issued, when it expires, attempts used, whether it was consumed.
Every transition returns a new state; the caller persists it with the attempt's event.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sealwright.channels._b64 import b64url_encode
from sealwright.clock import parse_rfc3339, rfc3339
from sealwright.errors import ValidationError
from sealwright.ledger.canonical import canonicalize

__all__ = [
    "MAX_TTL",
    "MIN_TTL",
    "PinCheck",
    "PinPayload",
    "PinPolicy",
    "PinState",
    "derive_pin",
    "dynamic_truncation",
]

MIN_TTL, MAX_TTL = 60, 300
MIN_DIGITS, MAX_DIGITS = 6, 8


def dynamic_truncation(digest: bytes, digits: int) -> str:
    """RFC 4226 section 5.3 on any HMAC output of at least 20 bytes, zero-padded."""
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise ValidationError(f"a PIN has {MIN_DIGITS} to {MAX_DIGITS} digits")
    if len(digest) < 20:
        raise ValidationError("dynamic truncation needs an HMAC output of at least 20 bytes")
    offset = digest[-1] & 0x0F
    code = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


@dataclass(frozen=True, slots=True)
class PinPayload:
    document_hashes: tuple[str, ...]
    recipient: str
    nonce: bytes
    ts: int

    def canonical(self) -> bytes:
        if not self.document_hashes or len(self.nonce) < 16:
            raise ValidationError("a PIN payload needs document hashes and a 16-byte nonce")
        return canonicalize(
            {
                "docHash": sorted(self.document_hashes),
                "recipient": self.recipient,
                "nonce": b64url_encode(self.nonce),
                "ts": self.ts,
            }
        )


def derive_pin(k_pin: bytes, payload: PinPayload, digits: int = 6) -> str:
    if len(k_pin) < 32:
        raise ValidationError("k_pin must be at least 32 bytes")
    return dynamic_truncation(hmac.new(k_pin, payload.canonical(), hashlib.sha256).digest(), digits)


@dataclass(frozen=True, slots=True)
class PinPolicy:
    ttl_seconds: int = 120
    digits: int = 6
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if not MIN_TTL <= self.ttl_seconds <= MAX_TTL:
            raise ValidationError(f"PIN TTL must be between {MIN_TTL} and {MAX_TTL} seconds")
        if not MIN_DIGITS <= self.digits <= MAX_DIGITS:
            raise ValidationError(f"a PIN has {MIN_DIGITS} to {MAX_DIGITS} digits")
        if not 1 <= self.max_attempts <= 10:
            raise ValidationError("PIN attempts must be between 1 and 10")


class PinCheck(StrEnum):
    PASSED = "passed"
    WRONG = "wrong"  # attempts left
    LOCKED = "locked"  # this answer used the last attempt, or none were left
    EXPIRED = "expired"
    USED = "used"  # already passed once: single use

    @property
    def final(self) -> bool:
        return self is not PinCheck.WRONG


@dataclass(frozen=True, slots=True)
class PinState:
    issued_at: datetime
    expires_at: datetime
    digits: int
    max_attempts: int
    attempts: int = 0
    used: bool = False

    @classmethod
    def issue(cls, policy: PinPolicy, now: datetime) -> PinState:
        return cls(
            issued_at=now,
            expires_at=now + timedelta(seconds=policy.ttl_seconds),
            digits=policy.digits,
            max_attempts=policy.max_attempts,
        )

    def to_dict(self) -> dict[str, str | int | bool]:
        """For the channel's stored state (no PIN in it: there is none to store)."""
        return {
            "issued_at": rfc3339(self.issued_at),
            "expires_at": rfc3339(self.expires_at),
            "digits": self.digits,
            "max_attempts": self.max_attempts,
            "attempts": self.attempts,
            "used": self.used,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PinState:
        try:
            state = cls(
                issued_at=parse_rfc3339(str(data["issued_at"])),
                expires_at=parse_rfc3339(str(data["expires_at"])),
                digits=int(str(data["digits"])),
                max_attempts=int(str(data["max_attempts"])),
                attempts=int(str(data["attempts"])),
                used=data["used"] is True,
            )
        except (KeyError, ValueError) as exc:
            raise ValidationError("stored PIN state is malformed") from exc
        return state

    @property
    def locked(self) -> bool:
        return self.attempts >= self.max_attempts

    def check(
        self, k_pin: bytes, payload: PinPayload, candidate: str, now: datetime
    ) -> tuple[PinCheck, PinState]:
        """Check the signer's answer; returns the verdict and the state to store.

        Order matters: a used or locked PIN is refused before anything is compared, an
        expired one too (without consuming an attempt), and every comparison that runs
        counts as an attempt, right or wrong.
        """
        if self.used:
            return PinCheck.USED, self
        if self.locked:
            return PinCheck.LOCKED, self
        if now >= self.expires_at or now < self.issued_at:
            return PinCheck.EXPIRED, self
        expected = derive_pin(k_pin, payload, self.digits)
        attempted = replace(self, attempts=self.attempts + 1)
        if hmac.compare_digest(expected.encode(), candidate.strip().encode("utf-8", "replace")):
            return PinCheck.PASSED, replace(attempted, used=True)
        return (PinCheck.LOCKED if attempted.locked else PinCheck.WRONG), attempted
