"""The weak face template (liveness/template.py) on synthetic captures: the astronaut
(sealwright/simulators/camera.py) against itself across captures, and against other
people's faces from scikit-image's bundled ``lfw_subset`` (Labeled Faces in the Wild,
25x25 crops shipped inside the scikit-image wheel), upscaled and animated by the same
simulated camera."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import cv2
import numpy as np
import pytest

from sealwright.config import Settings
from sealwright.liveness import template as t
from sealwright.simulators import camera

FaceImages = tuple[np.ndarray, np.ndarray]  # type: ignore[type-arg]


def other_face(index: int) -> FaceImages:
    """Another person for the simulated camera: an ``lfw_subset`` face (open eyes, and with
    the detected eyes painted over for a blink), as the camera's 210x210 crop."""
    from skimage import data

    face = (data.lfw_subset()[index] * 255).astype(np.uint8)  # type: ignore[no-untyped-call]
    big = cv2.resize(face, (100, 100), interpolation=cv2.INTER_CUBIC)
    gray = cv2.copyMakeBorder(big, 55, 55, 55, 55, cv2.BORDER_REPLICATE)
    crop = np.ascontiguousarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB))
    closed = crop.copy()
    cascades: str = cv2.data.haarcascades  # type: ignore[attr-defined]
    eyes = cv2.CascadeClassifier(cascades + "haarcascade_eye.xml")
    skin = crop[125:140, 85:125].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    for x, y, w, h in eyes.detectMultiScale(gray[40:120, 50:160], 1.1, 5):
        closed[40 + y + h // 6 : 40 + y + h * 5 // 6, 50 + x : 50 + x + w] = skin
    return crop, closed


@contextmanager
def filmed(face: FaceImages) -> Iterator[None]:
    """The simulated camera films ``face`` instead of the astronaut."""
    original = camera._face
    camera._face = lambda: face  # type: ignore[assignment]
    try:
        yield
    finally:
        camera._face = original


def other_video(index: int, actions: Sequence[str], *, seed: int = 0, fmt: str = "webm") -> bytes:
    with filmed(other_face(index)):
        return camera.challenge_video(actions, seed=seed, fmt=fmt)


THRESHOLD = Settings().video_face_match_threshold / 100
CAPTURES = [
    (("turn-left", "blink"), 1, "webm"),
    (("nod", "turn-right", "blink"), 2, "webm"),
    (("blink", "turn-left", "nod", "turn-right"), 3, "mp4"),
]
OTHERS = (0, 7, 11)


@pytest.fixture(scope="module")
def astronaut() -> list[t.Template]:
    return [t.extract(camera.challenge_video(a, seed=s, fmt=f)) for a, s, f in CAPTURES]


@pytest.fixture(scope="module")
def others() -> dict[int, t.Template]:
    return {i: t.extract(other_video(i, ("turn-right", "nod"), seed=i)) for i in OTHERS}


def test_a_template_is_a_fixed_size_unit_vector_per_part(astronaut: list[t.Template]) -> None:
    for template in astronaut:
        assert template.shape == (t.SIZE,)
        assert template.dtype == np.float32
        assert np.linalg.norm(template[: t.HOG_SIZE]) == pytest.approx(1.0, abs=1e-5)
        assert np.linalg.norm(template[t.HOG_SIZE :]) == pytest.approx(1.0, abs=1e-5)
    assert t.similarity(astronaut[0], astronaut[0]) == pytest.approx(1.0, abs=1e-5)


def test_the_same_face_matches_across_captures_actions_and_containers(
    astronaut: list[t.Template],
) -> None:
    for i in range(len(astronaut)):
        for j in range(i + 1, len(astronaut)):
            score = t.similarity(astronaut[i], astronaut[j])
            assert score >= THRESHOLD, (i, j, score)
            assert score == pytest.approx(t.similarity(astronaut[j], astronaut[i]))


def test_another_face_does_not_match(
    astronaut: list[t.Template], others: dict[int, t.Template]
) -> None:
    for index, other in others.items():
        for mine in astronaut:
            score = t.similarity(mine, other)
            assert score < THRESHOLD, (index, score)
    # ... and the other people do not match one another either.
    assert t.similarity(others[0], others[7]) < THRESHOLD
    assert t.similarity(others[0], others[11]) < THRESHOLD


def test_another_face_matches_itself_across_captures(others: dict[int, t.Template]) -> None:
    again = t.extract(other_video(7, ("blink", "turn-left"), seed=70, fmt="mp4"))
    assert t.similarity(others[7], again) >= THRESHOLD
    assert t.similarity(others[0], again) < THRESHOLD


def test_bytes_round_trip_and_refusals(astronaut: list[t.Template]) -> None:
    data = t.to_bytes(astronaut[0])
    assert data.startswith(t.VERSION)
    assert len(data) == len(t.VERSION) + 4 * t.SIZE
    assert np.array_equal(t.from_bytes(data), astronaut[0])
    with pytest.raises(ValueError, match="version"):
        t.from_bytes(b"SWFT0" + data[5:])
    with pytest.raises(ValueError, match="version"):
        t.from_bytes(data[:-4])
    with pytest.raises(ValueError, match="version"):
        t.similarity(astronaut[0], astronaut[0][:-1])


def test_no_face_and_unreadable_captures_have_no_template() -> None:
    rng = np.random.default_rng(5)
    noise = [
        rng.integers(0, 255, size=(camera.H, camera.W, 3), dtype=np.uint8) for _ in range(30)
    ]
    with pytest.raises(t.NoFace):
        t.extract(camera.encode(noise))
    with pytest.raises(t.Unreadable):
        t.extract(b"not a video")


def test_lbp_histograms_count_every_pixel_once() -> None:
    crop = np.random.default_rng(1).integers(0, 255, size=(t.CROP, t.CROP), dtype=np.uint8)
    hist = t._lbp(crop) ** 2  # the descriptor takes square roots of the counts
    assert hist.shape == (t.LBP_GRID * t.LBP_GRID * t.LBP_BINS,)
    assert hist.sum() == pytest.approx(((t.CROP - 2) // t.LBP_GRID * t.LBP_GRID) ** 2)
    flat = np.full((t.CROP, t.CROP), 128, dtype=np.uint8)
    assert (t._lbp(flat) ** 2)[t.LBP_BINS - 1] == 0  # a flat patch is a uniform pattern
