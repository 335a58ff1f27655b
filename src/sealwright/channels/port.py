"""The port every out-of-band verification channel implements (SPEC C, issue 5).

A channel is driven in two steps, and knows nothing of the ledger or the database:

1. :meth:`VerificationChannel.start` receives a :class:`VerificationRequest` -- the
   recipient (by id, with the contact data the *sender* put on file), the document hashes,
   a fresh nonce and the time -- and returns a :class:`Challenge`: what to show the signer,
   and an opaque ``state`` the caller stores (never the PIN or code itself: channels derive
   those again from their keys, see ``pin.py``).
2. :meth:`VerificationChannel.complete` receives that request and state again with the
   signer's :class:`SignerEvidence` (a typed PIN, DTMF digits, an upload hash, a scanned
   QR string) and returns a :class:`ChannelResult`, plus the state to store next.

The caller (the ceremony) turns every *final* result into a signed assertion through
``services/assertions.py``; the channel's ``details`` become the assertion's non-personal
``details`` and ``consent`` its consent claim. A result that is not final (a wrong PIN with
attempts left) changes only the stored state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "Challenge",
    "ChannelResult",
    "Consent",
    "Dispatching",
    "Outcome",
    "SignerEvidence",
    "VerificationChannel",
    "VerificationRequest",
]

#: A channel detail value: non-personal scalars only (no phone numbers, no names).
DetailValue = str | int | bool | None


class Outcome(StrEnum):
    """The ``result`` claim of an assertion."""

    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"
    LOCKED = "locked"
    ESCALATED = "escalated"


@dataclass(frozen=True, slots=True)
class Consent:
    """Consent the signer gave inside the channel (C6): which text, and when."""

    text_id: str
    given_at: datetime


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    envelope_id: str
    recipient_id: str
    #: SHA-256 hex of each document as received at intake (what the sealed PDF is made from).
    document_hashes: tuple[str, ...]
    nonce: bytes
    at: datetime
    #: Contact data the sender put on file (e.g. ``{"phone": "+44..."}``); never signer input.
    contact: Mapping[str, str] = field(default_factory=dict)
    #: The stored verification's id: what a channel puts in its callback URLs.
    reference: str = ""


@dataclass(frozen=True, slots=True)
class Challenge:
    channel: str
    expires_at: datetime
    #: What the signer's page shows (e.g. "we are calling you", a QR string); no secrets
    #: unless the confirmation mode needs the page to show them (DTMF mode shows the PIN).
    display: Mapping[str, str]
    #: Opaque to the caller, stored with the verification and handed back to ``complete``.
    state: Mapping[str, DetailValue]


@dataclass(frozen=True, slots=True)
class SignerEvidence:
    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class ChannelResult:
    outcome: Outcome
    #: Final results become an assertion; a wrong PIN with attempts left is not final.
    final: bool
    details: Mapping[str, DetailValue]
    state: Mapping[str, DetailValue]
    consent: Consent | None = None


@runtime_checkable
class VerificationChannel(Protocol):
    """One out-of-band channel (phone callback, SMS, video, QR, manual review)."""

    @property
    def name(self) -> str:
        """The assertion's ``channel`` claim, e.g. ``"phone-callback"``."""
        ...

    def start(self, request: VerificationRequest) -> Challenge: ...

    def complete(
        self,
        request: VerificationRequest,
        state: Mapping[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: datetime,
    ) -> ChannelResult: ...


@runtime_checkable
class Dispatching(Protocol):
    """A channel that reaches outside after ``start`` (places a call, sends a text).

    ``start`` stays pure; the caller commits the verification and then runs ``dispatch`` in
    a job, so a carrier's callback never arrives before the row it names exists. The
    result is not final while the outside step is under way (a call placed: the new
    ``state`` carries its id), or final ``FAILED`` when it could not be done at all.
    """

    def dispatch(
        self, request: VerificationRequest, state: Mapping[str, DetailValue], *, now: datetime
    ) -> ChannelResult: ...
