"""The video verification channel (SPEC C3): a randomized challenge, a browser capture,
``vidHash = SHA-256(video || nonce)`` and a liveness check through a provider port.

``start`` draws 2-4 distinct actions in random order and a four-word phrase for the signer
to say (kept with the recording for a human reviewer; speech is *not* machine-checked).
``complete`` takes evidence:

* ``consent`` (value ``video-recording-v1``): the signer agreed to the recording and to the
  biometric processing of it (C6); no capture is accepted before, and the consent goes into
  the assertion;
* ``video`` (value ``<upload id>:<client's SHA-256 hex of video||nonce>``): the capture,
  read through the :class:`CaptureSource` port (the service's encrypted store);
* ``camera-denied``: the browser could not get a camera -- a final ``failed`` with reason
  ``camera-denied``, so the orchestration can offer another channel.

Up to ``MAX_ATTEMPTS`` captures may fail (a missed action, a hash that does not match the
stored bytes, a replay of an accepted capture); the last is a final ``failed``. Details
are non-personal: ``vid_hash``, ``liveness`` (0-100), ``provider``, the challenge
(``actions``, ``phrase``), ``attempts`` and ``reason``.

With a :class:`FaceMatcher` (setting ``video_face_match``), a capture that passed the
liveness check is also compared with the signer identity's enrolled face template (or
enrols it): details ``face_match`` (0-100) and ``face_match_passed``, or
``face_enrolled``; a capture below the threshold fails as ``face-mismatch``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sealwright.channels.port import (
    Challenge,
    ChannelResult,
    Consent,
    DetailValue,
    Outcome,
    SignerEvidence,
    VerificationRequest,
)
from sealwright.clock import Random
from sealwright.liveness.port import ACTIONS, LivenessChallenge, LivenessProvider

__all__ = [
    "CONSENT_TEXT",
    "FACE_CONSENT_TEXT",
    "MAX_ATTEMPTS",
    "Capture",
    "CaptureSource",
    "FaceMatch",
    "FaceMatcher",
    "VideoChannel",
]

CONSENT_TEXT = "video-recording-v1"
CONSENT_WORDING = (
    "I agree that this video of me is recorded, that it is processed automatically to check "
    "that a live person performs the actions shown (biometric processing), and that it is "
    "kept encrypted for review for {days} days."
)
#: The consent recorded in the assertion when face matching is on: the page posts the same
#: form value, but the signer was shown (and agreed to) ``FACE_CONSENT_WORDING`` as well.
FACE_CONSENT_TEXT = "video-recording-face-v1"
FACE_CONSENT_WORDING = (
    " I also agree that a face template (numbers describing my face) is computed from my "
    "first accepted video, kept encrypted for {days} days, and compared with my later videos "
    "to check that the same person is signing."
)
MAX_ATTEMPTS = 3
TTL_SECONDS = 600
#: Plain, easy-to-say words; four of them make a phrase (87^4, about 2^25 phrases).
WORDS = (
    "amber", "apple", "anchor", "arrow", "autumn", "bakery", "basket", "beacon", "bicycle",
    "blanket", "bottle", "bridge", "butter", "button", "cabin", "candle", "canyon", "carpet",
    "castle", "cherry", "circle", "cloud", "copper", "cotton", "crystal", "desert", "dolphin",
    "drum", "eagle", "engine", "falcon", "feather", "forest", "garden", "ginger", "glacier",
    "guitar", "harbor", "hazel", "helmet", "island", "jacket", "jungle", "kettle", "ladder",
    "lantern", "lemon", "marble", "meadow", "mirror", "monkey", "morning", "needle", "ocean",
    "orange", "orchard", "paddle", "pepper", "pillow", "planet", "pocket", "puzzle", "rabbit",
    "ribbon", "river", "rocket", "saddle", "silver", "sparrow", "spider", "spring", "summer",
    "sunset", "table", "thunder", "ticket", "timber", "tomato", "tunnel", "turtle", "valley",
    "velvet", "violin", "walnut", "window", "winter", "yellow",
)


@dataclass(frozen=True, slots=True)
class Capture:
    data: bytes
    content_type: str


class CaptureSource(Protocol):
    """Where uploaded captures live (``services/channel_flow/video_store.py``)."""

    def load(self, upload_id: str, verification_id: str) -> Capture | None:
        """The plaintext of a finished upload of this run, or None."""
        ...

    def known_fingerprints(self) -> Sequence[Sequence[int]]:
        """Fingerprints of accepted captures still kept, for the replay check."""
        ...

    def record(
        self, upload_id: str, *, vid_hash: str, accepted: bool, fingerprint: Sequence[int]
    ) -> None:
        """Remember the outcome of a capture (the fingerprint only if accepted)."""
        ...


@dataclass(frozen=True, slots=True)
class FaceMatch:
    """The face check of one live capture: compared (``similarity`` 0-100), or enrolled."""

    passed: bool
    similarity: int | None = None
    enrolled: bool = False

    def details(self) -> dict[str, DetailValue]:
        if self.enrolled:
            return {"face_enrolled": True}
        return {"face_match": self.similarity, "face_match_passed": self.passed}


class FaceMatcher(Protocol):
    """The signer identity's enrolled template (``services/channel_flow/face_templates.py``)."""

    def match(self, upload_id: str, verification_id: str, video: bytes) -> FaceMatch | None:
        """Compare a live capture with the enrolled template, or enrol it when there is
        none; None when there is nothing to compare or enrol (no usable face)."""
        ...


class VideoChannel:
    name = "video"

    def __init__(
        self,
        *,
        liveness: LivenessProvider,
        captures: CaptureSource,
        random: Random,
        ttl_seconds: int = TTL_SECONDS,
        retention_days: int = 90,
        faces: FaceMatcher | None = None,
    ) -> None:
        self.faces = faces
        self.liveness = liveness
        self.captures = captures
        self.random = random
        self.ttl = timedelta(seconds=ttl_seconds)
        self.retention_days = retention_days

    # -- start ---------------------------------------------------------------------------

    def _pick(self, n: int) -> int:
        return self.random.randbelow(n)

    def challenge(self) -> tuple[tuple[str, ...], str]:
        pool = list(ACTIONS)
        actions = [pool.pop(self._pick(len(pool))) for _ in range(2 + self._pick(3))]
        phrase = " ".join(WORDS[self._pick(len(WORDS))] for _ in range(4))
        return tuple(actions), phrase

    def start(self, request: VerificationRequest) -> Challenge:
        actions, phrase = self.challenge()
        nonce = base64.urlsafe_b64encode(request.nonce).rstrip(b"=").decode()
        return Challenge(
            channel=self.name,
            expires_at=request.at + self.ttl,
            display={
                "actions": ",".join(actions),
                "phrase": phrase,
                "nonce": nonce,
                "consent_id": CONSENT_TEXT,
                "consent_text": self._wording(),
            },
            state={
                "actions": ",".join(actions),
                "phrase": phrase,
                "attempts": 0,
                "consent_at": None,
            },
        )

    def _wording(self) -> str:
        text = CONSENT_WORDING.format(days=self.retention_days)
        if self.faces is not None:
            text += FACE_CONSENT_WORDING.format(days=self.retention_days)
        return text

    # -- complete ------------------------------------------------------------------------

    def complete(
        self,
        request: VerificationRequest,
        state: Mapping[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: datetime,
    ) -> ChannelResult:
        state = dict(state)
        if now >= request.at + self.ttl:
            state["last_reason"] = "ttl"
            return ChannelResult(Outcome.EXPIRED, True, {"reason": "ttl"}, state, _consent(state))
        if evidence.kind == "consent":
            if evidence.value != CONSENT_TEXT:
                return _refused(state, "consent-unknown")
            state["consent_at"] = int(now.timestamp())
            state["consent_id"] = CONSENT_TEXT if self.faces is None else FACE_CONSENT_TEXT
            return ChannelResult(Outcome.PASSED, False, {}, state)
        if evidence.kind == "camera-denied":
            state["last_reason"] = "camera-denied"
            details: dict[str, DetailValue] = {
                "reason": "camera-denied",
                "attempts": _int(state, "attempts"),
            }
            return ChannelResult(Outcome.FAILED, True, details, state, _consent(state))
        if evidence.kind != "video":
            return _refused(state, "evidence-unknown")
        if state.get("consent_at") is None:
            return _refused(state, "no-consent")
        upload_id, _, client_hash = evidence.value.partition(":")
        capture = self.captures.load(upload_id, request.reference) if upload_id else None
        if capture is None:
            return _refused(state, "upload-missing")
        return self._judge(request, state, upload_id, client_hash, capture)

    def _judge(
        self,
        request: VerificationRequest,
        state: dict[str, DetailValue],
        upload_id: str,
        client_hash: str,
        capture: Capture,
    ) -> ChannelResult:
        vid_hash = hashlib.sha256(capture.data + request.nonce).hexdigest()
        attempts = _int(state, "attempts") + 1
        state["attempts"] = attempts
        actions = str(state.get("actions", ""))
        details: dict[str, DetailValue] = {
            "vid_hash": vid_hash,
            "actions": actions,
            "phrase": str(state.get("phrase", "")),
            "attempts": attempts,
        }
        if not hmac.compare_digest(vid_hash, client_hash.strip().lower()):
            self.captures.record(upload_id, vid_hash=vid_hash, accepted=False, fingerprint=())
            return self._failed(state, details, "hash-mismatch", attempts)
        result = self.liveness.check(
            capture.data,
            LivenessChallenge(tuple(actions.split(","))),
            known=self.captures.known_fingerprints(),
        )
        face = None
        if result.passed and self.faces is not None:
            face = self.faces.match(upload_id, request.reference, capture.data)
        accepted = result.passed and (face is None or face.passed)
        self.captures.record(
            upload_id,
            vid_hash=vid_hash,
            accepted=accepted,
            fingerprint=result.fingerprint if accepted else (),
        )
        details["liveness"] = max(0, min(100, result.score))
        details["provider"] = result.provider[:200]
        if face is not None:
            details.update(face.details())
        if accepted:
            state["last_reason"] = None
            return ChannelResult(Outcome.PASSED, True, details, state, _consent(state))
        reason = "face-mismatch" if result.passed else (result.reasons or ("liveness",))[0]
        return self._failed(state, details, reason, attempts)

    @staticmethod
    def _failed(
        state: dict[str, DetailValue], details: dict[str, DetailValue], reason: str, attempts: int
    ) -> ChannelResult:
        state["last_reason"] = reason
        details["reason"] = reason
        final = attempts >= MAX_ATTEMPTS
        return ChannelResult(
            Outcome.FAILED, final, details, state, _consent(state) if final else None
        )


def _refused(state: dict[str, DetailValue], reason: str) -> ChannelResult:
    """Evidence that is not a capture attempt: nothing counted, the reason logged."""
    state["last_reason"] = reason
    return ChannelResult(Outcome.FAILED, False, {"reason": reason}, state)


def _int(state: Mapping[str, DetailValue], key: str) -> int:
    value = state.get(key)
    return value if isinstance(value, int) else 0


def _consent(state: Mapping[str, DetailValue]) -> Consent | None:
    at = state.get("consent_at")
    if not isinstance(at, int):
        return None
    text = state.get("consent_id")
    text_id = text if text in (CONSENT_TEXT, FACE_CONSENT_TEXT) else CONSENT_TEXT
    return Consent(text_id=str(text_id), given_at=datetime.fromtimestamp(at, UTC))
