"""The video channel with a face matcher: enrol on the first live capture, match later
ones (real templates, an in-memory enrolment standing in for the encrypted table), fail a
mismatch as an attempt, consent wording and id, and nothing asked of the matcher for a
capture that failed liveness."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import numpy as np
import pytest

from sealwright.channels.port import ChannelResult, DetailValue, Outcome, SignerEvidence
from sealwright.channels.port import VerificationRequest as Req
from sealwright.channels.video import (
    CONSENT_TEXT,
    FACE_CONSENT_TEXT,
    MAX_ATTEMPTS,
    FaceMatch,
    VideoChannel,
)
from sealwright.clock import SystemRandom
from sealwright.liveness import template as t
from sealwright.liveness.builtin import HaarLiveness
from sealwright.simulators.camera import challenge_video, encode, still_frames
from tests.unit.channels.test_video_channel import Uploads
from tests.unit.liveness.test_template import THRESHOLD, other_video

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NONCE = bytes(range(16))
REQ = Req("e1", "r1", ("a" * 64,), NONCE, T0, reference="v1")


class Seeded:
    """A repeatable challenge: these tests are about the face match, not the draw."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def token_bytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    def randbelow(self, n: int) -> int:
        return self.rng.randrange(n)


class Enrolled:
    """The face-matcher port over one in-memory template (the real one encrypts it in
    ``face_templates``: services/channel_flow/face_templates.py)."""

    def __init__(self) -> None:
        self.template: np.ndarray | None = None  # type: ignore[type-arg]
        self.calls: list[str] = []

    def match(self, upload_id: str, verification_id: str, video: bytes) -> FaceMatch | None:
        self.calls.append(upload_id)
        probe = t.extract(video)
        if self.template is None:
            self.template = probe
            return FaceMatch(passed=True, enrolled=True)
        score = round(100 * t.similarity(self.template, probe))
        return FaceMatch(passed=score >= THRESHOLD * 100, similarity=score)


@pytest.fixture
def uploads() -> Uploads:
    return Uploads()


@pytest.fixture
def faces() -> Enrolled:
    return Enrolled()


@pytest.fixture
def channel(uploads: Uploads, faces: Enrolled) -> VideoChannel:
    return VideoChannel(liveness=HaarLiveness(), captures=uploads, random=Seeded(7), faces=faces)


def run(channel: VideoChannel) -> tuple[dict[str, DetailValue], list[str]]:
    challenge = channel.start(REQ)
    assert "face template" in challenge.display["consent_text"]
    assert challenge.display["consent_id"] == CONSENT_TEXT  # what the page's form posts
    state = dict(challenge.state)
    result = channel.complete(REQ, state, SignerEvidence("consent", CONSENT_TEXT), now=T0)
    return dict(result.state), str(state["actions"]).split(",")


def submit(
    channel: VideoChannel, uploads: Uploads, state: dict[str, DetailValue], video: bytes
) -> ChannelResult:
    upload = f"u{len(uploads.videos)}"
    uploads.videos[upload] = video
    h = hashlib.sha256(video + NONCE).hexdigest()
    result = channel.complete(REQ, state, SignerEvidence("video", f"{upload}:{h}"), now=T0)
    state.clear()
    state.update(result.state)
    return result


def test_enrol_then_match_then_mismatch_counts_as_an_attempt(
    channel: VideoChannel, uploads: Uploads, faces: Enrolled
) -> None:
    state, actions = run(channel)
    first = submit(channel, uploads, state, challenge_video(actions, seed=11))
    assert (first.outcome, first.final) == (Outcome.PASSED, True)
    assert first.details["face_enrolled"] is True
    assert "face_match" not in first.details
    assert first.consent is not None
    assert first.consent.text_id == FACE_CONSENT_TEXT
    assert faces.template is not None

    state, actions = run(channel)
    other = submit(channel, uploads, state, other_video(0, actions, seed=12))
    assert (other.outcome, other.final) == (Outcome.FAILED, False)
    assert other.details["reason"] == "face-mismatch"
    assert other.details["face_match_passed"] is False
    score = other.details["face_match"]
    assert isinstance(score, int)
    assert 0 <= score < THRESHOLD * 100
    assert isinstance(other.details["liveness"], int)
    assert other.details["liveness"] >= 60
    assert state["attempts"] == 1
    # A mismatched capture is rejected: its fingerprint is not kept for the replay check.
    assert uploads.recorded["u1"][1] is False
    assert len(uploads.accepted) == 1

    same = submit(channel, uploads, state, challenge_video(actions, seed=13))
    assert (same.outcome, same.final) == (Outcome.PASSED, True)
    assert same.details["face_match_passed"] is True
    assert isinstance(same.details["face_match"], int)
    assert same.details["face_match"] >= THRESHOLD * 100
    assert same.details["attempts"] == 2
    for details in (first.details, other.details, same.details):
        assert all(isinstance(v, (str, int, bool)) for v in details.values())


def test_the_last_mismatch_fails_the_run_and_liveness_failures_skip_the_match(
    channel: VideoChannel, uploads: Uploads, faces: Enrolled
) -> None:
    state, actions = run(channel)
    assert submit(channel, uploads, state, challenge_video(actions, seed=21)).final
    state, actions = run(channel)
    still = submit(channel, uploads, state, encode(still_frames()))
    assert still.details["reason"] == "still-image"
    assert "face_match" not in still.details
    assert faces.calls == ["u0"]  # not asked for a capture that failed liveness
    results = [
        submit(channel, uploads, state, other_video(11, actions, seed=22 + i))
        for i in range(MAX_ATTEMPTS - 1)
    ]
    assert [r.details["reason"] for r in results] == ["face-mismatch"] * (MAX_ATTEMPTS - 1)
    assert results[-1].final
    assert results[-1].outcome is Outcome.FAILED
    assert results[-1].consent is not None


def test_without_a_matcher_the_consent_does_not_mention_a_template(uploads: Uploads) -> None:
    plain = VideoChannel(liveness=HaarLiveness(), captures=uploads, random=SystemRandom())
    challenge = plain.start(REQ)
    assert "template" not in challenge.display["consent_text"]
    state = dict(challenge.state)
    done = plain.complete(REQ, state, SignerEvidence("camera-denied", ""), now=T0)
    assert done.consent is None  # no consent given yet
    given = plain.complete(REQ, state, SignerEvidence("consent", CONSENT_TEXT), now=T0)
    denied = plain.complete(REQ, given.state, SignerEvidence("camera-denied", ""), now=T0)
    assert denied.consent is not None
    assert denied.consent.text_id == CONSENT_TEXT
