"""The liveness provider port: ``check(video, challenge) -> LivenessResult``.

A provider receives the recording's plaintext bytes (WebM or MP4), the actions the signer
was asked to perform in order, and the fingerprints of earlier accepted captures; it answers
whether a live face performed those actions, with a 0-100 score, a finding per asked action
and machine-readable reason codes. It never logs or keeps the video; the fingerprint it
returns is what the caller stores to recognise a replay later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "ACTIONS",
    "ActionFinding",
    "LivenessChallenge",
    "LivenessProvider",
    "LivenessResult",
    "Reason",
]

#: Actions a challenge can ask for. Directions are the signer's own: ``turn-left`` means the
#: signer turns their head to *their* left, which in the (unmirrored) camera picture moves
#: the face towards the picture's right.
ACTIONS = ("turn-left", "turn-right", "blink", "nod")


class Reason(StrEnum):
    UNREADABLE = "unreadable"
    TOO_SHORT = "too-short"
    NO_FACE = "no-face"
    STILL_IMAGE = "still-image"
    REPLAY = "replay"
    ACTION_MISSING = "action-missing"
    ACTIONS_OUT_OF_ORDER = "actions-out-of-order"
    PROVIDER_ERROR = "provider-error"


@dataclass(frozen=True, slots=True)
class LivenessChallenge:
    actions: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown or not self.actions:
            raise ValueError("a liveness challenge needs known actions")


@dataclass(frozen=True, slots=True)
class ActionFinding:
    action: str
    found: bool
    #: Milliseconds from the start of the recording where the action was seen.
    at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class LivenessResult:
    passed: bool
    #: 0-100: how much of the evidence held (face coverage, actions found, motion).
    score: int
    provider: str
    findings: tuple[ActionFinding, ...] = ()
    #: The reason codes of a failure, most decisive first; empty when passed.
    reasons: tuple[str, ...] = ()
    #: A compact perceptual fingerprint of the capture (per-frame 64-bit average hashes),
    #: stored for accepted captures so that a replay of one is recognised.
    fingerprint: tuple[int, ...] = field(default=(), repr=False)


@runtime_checkable
class LivenessProvider(Protocol):
    @property
    def name(self) -> str:
        """Recorded as the assertion's ``provider`` detail, e.g. ``builtin-haar/1``."""
        ...

    def check(
        self,
        video: bytes,
        challenge: LivenessChallenge,
        *,
        known: Sequence[Sequence[int]] = (),
    ) -> LivenessResult:
        """Judge one capture; ``known`` are fingerprints of earlier accepted captures."""
        ...
