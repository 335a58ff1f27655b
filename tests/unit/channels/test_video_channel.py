"""The video channel on its own: the randomized challenge, consent first, vidHash checked
against the stored bytes, liveness through the built-in provider, the attempt limit, and
camera refusal -- with an in-memory capture source standing in for the encrypted store."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from sealwright.channels.port import (
    ChannelResult,
    DetailValue,
    Outcome,
    SignerEvidence,
    VerificationChannel,
    VerificationRequest,
)
from sealwright.channels.video import CONSENT_TEXT, MAX_ATTEMPTS, WORDS, Capture, VideoChannel
from sealwright.clock import SystemRandom
from sealwright.liveness.builtin import HaarLiveness
from sealwright.liveness.port import ACTIONS
from sealwright.simulators.camera import challenge_video, encode, still_frames

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NONCE = bytes(range(16))
REQ = VerificationRequest("e1", "r1", ("a" * 64,), NONCE, T0, reference="v1")


class Uploads:
    """The capture-source port over a dict (the real one is services/.../video_store.py)."""

    def __init__(self) -> None:
        self.videos: dict[str, bytes] = {}
        self.accepted: list[Sequence[int]] = []
        self.recorded: dict[str, tuple[str, bool]] = {}

    def load(self, upload_id: str, verification_id: str) -> Capture | None:
        data = self.videos.get(upload_id) if verification_id == "v1" else None
        return None if data is None else Capture(data, "video/webm")

    def known_fingerprints(self) -> Sequence[Sequence[int]]:
        return self.accepted

    def record(
        self, upload_id: str, *, vid_hash: str, accepted: bool, fingerprint: Sequence[int]
    ) -> None:
        self.recorded[upload_id] = (vid_hash, accepted)
        if accepted:
            self.accepted.append(fingerprint)


@pytest.fixture(scope="module")
def liveness() -> HaarLiveness:
    return HaarLiveness()


@pytest.fixture
def uploads() -> Uploads:
    return Uploads()


@pytest.fixture
def channel(liveness: HaarLiveness, uploads: Uploads) -> VideoChannel:
    return VideoChannel(liveness=liveness, captures=uploads, random=SystemRandom())


def consented(channel: VideoChannel) -> dict[str, DetailValue]:
    state = dict(channel.start(REQ).state)
    result = channel.complete(REQ, state, SignerEvidence("consent", CONSENT_TEXT), now=T0)
    assert (result.outcome, result.final) == (Outcome.PASSED, False)
    return dict(result.state)


def submit(
    channel: VideoChannel, uploads: Uploads, state: dict[str, DetailValue], video: bytes,
    *, client_hash: str | None = None,
) -> ChannelResult:
    upload = f"u{len(uploads.videos)}"
    uploads.videos[upload] = video
    h = client_hash or hashlib.sha256(video + NONCE).hexdigest()
    return channel.complete(REQ, state, SignerEvidence("video", f"{upload}:{h}"), now=T0)


def test_the_challenge_is_random_and_shown(channel: VideoChannel) -> None:
    assert isinstance(channel, VerificationChannel)
    seen = set()
    for _ in range(40):
        c = channel.start(REQ)
        actions = c.display["actions"].split(",")
        assert 2 <= len(actions) <= 4
        assert len(set(actions)) == len(actions)
        assert set(actions) <= set(ACTIONS)
        words = c.display["phrase"].split()
        assert len(words) == 4
        assert set(words) <= set(WORDS)
        assert base64.urlsafe_b64decode(c.display["nonce"] + "==") == NONCE
        assert c.state["actions"] == c.display["actions"]
        assert c.state["phrase"] == c.display["phrase"]
        assert c.expires_at == T0 + timedelta(minutes=10)
        assert c.display["consent_id"] == CONSENT_TEXT
        seen.add(c.display["actions"])
    assert len(seen) > 10


def test_a_capture_before_consent_is_refused(channel: VideoChannel, uploads: Uploads) -> None:
    state = dict(channel.start(REQ).state)
    state["actions"] = "blink,nod"
    result = submit(channel, uploads, state, b"anything")
    assert (result.outcome, result.final, result.details) == (
        Outcome.FAILED, False, {"reason": "no-consent"},
    )
    assert uploads.recorded == {}  # never even looked at
    wrong = channel.complete(REQ, state, SignerEvidence("consent", "other-v9"), now=T0)
    assert wrong.state["consent_at"] is None


def test_a_passing_capture(channel: VideoChannel, uploads: Uploads) -> None:
    state = consented(channel)
    state["actions"] = "turn-left,blink"
    video = challenge_video(("turn-left", "blink"), seed=21)
    result = submit(channel, uploads, state, video)
    assert (result.outcome, result.final) == (Outcome.PASSED, True)
    vid_hash = hashlib.sha256(video + NONCE).hexdigest()
    assert result.details["vid_hash"] == vid_hash
    assert result.details["actions"] == "turn-left,blink"
    assert result.details["provider"] == "builtin-haar/1"
    liveness = result.details["liveness"]
    assert isinstance(liveness, int)
    assert 60 <= liveness <= 100
    assert result.consent is not None
    assert result.consent.text_id == CONSENT_TEXT
    assert result.consent.given_at == T0
    assert uploads.recorded == {"u0": (vid_hash, True)}
    assert len(uploads.accepted) == 1


def test_hash_mismatch_and_failures_count_until_final(
    channel: VideoChannel, uploads: Uploads
) -> None:
    state = consented(channel)
    state["actions"] = "nod,turn-right"
    video = challenge_video(("nod", "turn-right"), seed=22)
    bad = submit(channel, uploads, state, video, client_hash="0" * 64)
    assert (bad.outcome, bad.final) == (Outcome.FAILED, False)
    assert bad.details["reason"] == "hash-mismatch"
    assert bad.details["vid_hash"] == hashlib.sha256(video + NONCE).hexdigest()
    still = submit(channel, uploads, dict(bad.state), encode(still_frames()))
    assert (still.final, still.details["reason"], still.details["attempts"]) == (
        False, "still-image", 2,
    )
    assert MAX_ATTEMPTS == 3
    wrong = submit(channel, uploads, dict(still.state), challenge_video(("turn-right", "nod")))
    assert (wrong.outcome, wrong.final) == (Outcome.FAILED, True)
    assert wrong.details["reason"] == "actions-out-of-order"
    assert wrong.consent is not None  # the final assertion carries the consent


def test_unknown_uploads_and_evidence_cost_nothing(channel: VideoChannel) -> None:
    state = consented(channel)
    missing = channel.complete(REQ, state, SignerEvidence("video", "nope:" + "0" * 64), now=T0)
    assert (missing.final, missing.details, missing.state["attempts"]) == (
        False, {"reason": "upload-missing"}, 0,
    )
    other = channel.complete(REQ, state, SignerEvidence("pin", "123456"), now=T0)
    assert (other.final, other.details) == (False, {"reason": "evidence-unknown"})


def test_camera_denied_is_a_final_failure(channel: VideoChannel) -> None:
    state = dict(channel.start(REQ).state)
    result = channel.complete(REQ, state, SignerEvidence("camera-denied", ""), now=T0)
    assert (result.outcome, result.final) == (Outcome.FAILED, True)
    assert result.details == {"reason": "camera-denied", "attempts": 0}
    assert result.consent is None


def test_after_the_ttl_the_run_expires(channel: VideoChannel, uploads: Uploads) -> None:
    state = consented(channel)
    late = T0 + timedelta(minutes=10)
    result = channel.complete(REQ, state, SignerEvidence("video", "u9:" + "0" * 64), now=late)
    assert (result.outcome, result.final, result.details) == (
        Outcome.EXPIRED, True, {"reason": "ttl"},
    )
    assert uploads.recorded == {}
