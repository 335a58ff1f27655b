"""The built-in liveness provider against synthetic captures of a real face picture
(sealwright/simulators/camera.py): what passes, and each way a capture fails."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from sealwright.liveness import fingerprint as fp
from sealwright.liveness.builtin import HaarLiveness
from sealwright.liveness.port import LivenessChallenge, LivenessProvider
from sealwright.liveness.vendor import VendorLiveness
from sealwright.simulators.camera import challenge_video, encode, still_frames

ASKED = ("turn-left", "blink", "turn-right")


@pytest.fixture(scope="module")
def provider() -> HaarLiveness:
    return HaarLiveness()


@pytest.fixture(scope="module")
def accepted(provider: HaarLiveness) -> tuple[bytes, tuple[int, ...]]:
    video = challenge_video(ASKED, seed=1)
    result = provider.check(video, LivenessChallenge(ASKED))
    assert result.passed, result
    return video, result.fingerprint


def test_is_a_provider(provider: HaarLiveness) -> None:
    assert isinstance(provider, LivenessProvider)
    assert isinstance(VendorLiveness(), LivenessProvider)


@pytest.mark.parametrize(
    ("actions", "fmt", "seed"),
    [
        (ASKED, "webm", 2),
        (("nod", "turn-right", "blink", "turn-left"), "webm", 3),
        (("blink", "nod"), "mp4", 4),
    ],
)
def test_the_asked_actions_in_order_pass(
    provider: HaarLiveness, actions: tuple[str, ...], fmt: str, seed: int
) -> None:
    video = challenge_video(actions, fmt=fmt, seed=seed)
    result = provider.check(video, LivenessChallenge(actions))
    assert result.passed
    assert result.reasons == ()
    assert [f.action for f in result.findings] == list(actions)
    assert all(f.found for f in result.findings)
    times = [f.at_ms for f in result.findings]
    assert times == sorted(times)  # type: ignore[type-var]
    assert 60 <= result.score <= 100
    assert len(result.fingerprint) == fp.FRAMES


def test_a_still_photo_fails(provider: HaarLiveness) -> None:
    result = provider.check(encode(still_frames()), LivenessChallenge(ASKED))
    assert not result.passed
    assert result.reasons == ("still-image",)


def test_actions_in_the_wrong_order_fail(provider: HaarLiveness) -> None:
    video = challenge_video(("turn-right", "blink", "turn-left"), seed=5)
    result = provider.check(video, LivenessChallenge(ASKED))
    assert not result.passed
    assert result.reasons[0] == "actions-out-of-order"
    assert result.score < 60


def test_a_missing_action_fails(provider: HaarLiveness) -> None:
    video = challenge_video(("turn-left", "turn-right"), seed=6)
    result = provider.check(video, LivenessChallenge(ASKED))
    assert result.reasons == ("action-missing",)
    assert [f.found for f in result.findings] == [True, False, True]


def test_a_replay_of_an_accepted_capture_fails(
    provider: HaarLiveness, accepted: tuple[bytes, tuple[int, ...]]
) -> None:
    video, print_ = accepted
    again = provider.check(video, LivenessChallenge(ASKED), known=[print_])
    assert again.reasons == ("replay",)
    # Re-encoded into another container, it is still the same capture.
    reencoded = challenge_video(ASKED, fmt="mp4", seed=1)
    assert provider.check(reencoded, LivenessChallenge(ASKED), known=[print_]).reasons == (
        "replay",
    )


def test_another_performance_of_the_same_actions_is_no_replay(
    provider: HaarLiveness, accepted: tuple[bytes, tuple[int, ...]]
) -> None:
    _, print_ = accepted
    other = provider.check(challenge_video(ASKED, seed=7), LivenessChallenge(ASKED), known=[print_])
    assert other.passed, other


def test_no_face_fails(provider: HaarLiveness) -> None:
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8) for _ in range(30)]
    result = provider.check(encode(noise), LivenessChallenge(ASKED))
    assert result.reasons == ("no-face",)


@pytest.mark.parametrize("data", [b"", b"not a video" * 100, b"\x1aE\xdf\xa3" + b"\0" * 64])
def test_unreadable_bytes_fail(provider: HaarLiveness, data: bytes) -> None:
    assert provider.check(data, LivenessChallenge(ASKED)).reasons == ("unreadable",)


def test_other_containers_are_refused(provider: HaarLiveness) -> None:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=15)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for picture in still_frames(20):
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert provider.check(buffer.getvalue(), LivenessChallenge(ASKED)).reasons == ("unreadable",)


def test_a_challenge_needs_known_actions() -> None:
    with pytest.raises(ValueError):
        LivenessChallenge(())
    with pytest.raises(ValueError):
        LivenessChallenge(("smile",))


def test_fingerprint_matching() -> None:
    a = (0, 0, 0xFF, 0xFF00, 0xFFFF, 0xFF0000, 0, 0)
    assert fp.near_match(a, a)
    assert fp.near_match(a, (1, *a[1:]))  # a bit of noise
    assert not fp.near_match(a, (0, 0, 0xFF0000, 0xFFFF, 0xFF00, 0xFF, 0, 0))
    assert not fp.near_match((0,) * 8, (0,) * 8)  # nothing moves: nothing to compare
    assert not fp.near_match(a, ())
