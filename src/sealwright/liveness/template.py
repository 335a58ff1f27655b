"""A weak face template: offline, on the CPU, with OpenCV's Haar cascade, HOG and LBP.

``extract(video)`` finds the face in the capture's frontal frames at the head's resting
position (the shipped frontal-face Haar cascade, as the liveness check uses), crops it to
the detected box, normalises the crop (64x64 grayscale, histogram-equalised) and describes
it twice: a HOG descriptor (``cv2.HOGDescriptor``, shape) and uniform-LBP histograms on a
4x4 grid (texture, in numpy). Both are averaged over the frames and L2-normalised: the
template is one float32 vector of ``SIZE`` values (about 11 KiB), never logged.

``similarity(a, b)`` is 0..1: the cosine of the two vectors after removing what every face
crop has in common (a fixed bias measured on the crops themselves would need a face set; we
subtract each part's mean instead), rescaled so that unrelated crops land near 0.

This is a **weak matcher**: good enough to flag an obvious substitution (another person
finishing a ceremony enrolled by someone else), not biometric-grade identification. Pose,
light, glasses and the camera move it a lot; see docs/channel-video.md. Strong matching
needs a vendor's face-recognition model behind an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from statistics import median

import cv2
import numpy as np
import numpy.typing as npt

from sealwright.liveness.decode import Unreadable, decode

__all__ = [
    "SIZE",
    "VERSION",
    "NoFace",
    "Template",
    "extract",
    "from_bytes",
    "similarity",
    "to_bytes",
]

VERSION = b"SWFT1"
CROP = 64
#: At most this many frames (evenly spread over the capture) are searched for the face.
MAX_FRAMES = 40
MIN_FRAMES = 3
#: A frame counts as "at rest" when its face is this close to the median box.
REST_SHIFT, REST_SCALE = 0.12, 0.15

Template = npt.NDArray[np.float32]
Gray = npt.NDArray[np.uint8]


class NoFace(Exception):
    """Too few frontal faces at rest in the capture to build a template."""


@cache
def _hog() -> cv2.HOGDescriptor:
    return cv2.HOGDescriptor((CROP, CROP), (16, 16), (8, 8), (8, 8), 9)


@cache
def _cascade() -> cv2.CascadeClassifier:
    root: str = cv2.data.haarcascades  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(root + "haarcascade_frontalface_default.xml")
    if cascade.empty():
        raise RuntimeError("OpenCV's Haar cascades are missing from the installed wheel")
    return cascade


@cache
def _uniform_lut() -> npt.NDArray[np.uint8]:
    """Maps the 256 LBP codes to 59 bins: the 58 uniform patterns, then all the others."""
    lut = np.full(256, 58, dtype=np.uint8)
    index = 0
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        if sum(bits[i] != bits[(i + 1) % 8] for i in range(8)) <= 2:
            lut[code] = index
            index += 1
    return lut


LBP_GRID, LBP_BINS = 4, 59
HOG_SIZE = 1764  # 7x7 blocks of 2x2 cells of 9 bins for a 64x64 window
SIZE = HOG_SIZE + LBP_GRID * LBP_GRID * LBP_BINS


def _lbp(crop: Gray) -> npt.NDArray[np.float32]:
    c = crop.astype(np.int16)
    centre = c[1:-1, 1:-1]
    code = np.zeros(centre.shape, dtype=np.uint8)
    shifts = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
    for bit, (dy, dx) in enumerate(shifts):
        neighbour = c[1 + dy : c.shape[0] - 1 + dy, 1 + dx : c.shape[1] - 1 + dx]
        code |= (neighbour >= centre).astype(np.uint8) << bit
    bins = _uniform_lut()[code]
    step = bins.shape[0] // LBP_GRID
    hists = [
        np.bincount(
            bins[y * step : (y + 1) * step, x * step : (x + 1) * step].ravel(),
            minlength=LBP_BINS,
        )
        for y in range(LBP_GRID)
        for x in range(LBP_GRID)
    ]
    return np.sqrt(np.concatenate(hists).astype(np.float32))  # Hellinger: tames big bins


def describe(crop: Gray) -> Template:
    """The descriptor of one normalised crop (``CROP`` x ``CROP``, equalised)."""
    hog = np.asarray(_hog().compute(crop), dtype=np.float32).ravel()
    return np.concatenate([_unit(hog), _unit(_lbp(crop))]).astype(np.float32)


def normalise(gray: Gray, box: Sequence[int]) -> Gray:
    x, y, w, h = (int(v) for v in box)
    crop = cv2.resize(gray[y : y + h, x : x + w], (CROP, CROP), interpolation=cv2.INTER_AREA)
    return np.asarray(cv2.equalizeHist(crop), dtype=np.uint8)


def faces_at_rest(frames: Sequence[Gray]) -> list[tuple[Gray, tuple[int, int, int, int]]]:
    """The frames with a frontal face near the head's median position and size."""
    found: list[tuple[Gray, tuple[int, int, int, int]]] = []
    step = max(1, -(-len(frames) // MAX_FRAMES))
    for gray in frames[::step]:
        side = max(24, gray.shape[1] // 8)
        boxes = _cascade().detectMultiScale(gray, 1.1, 5, minSize=(side, side))
        if len(boxes):
            x, y, w, h = max(boxes, key=lambda b: int(b[2]) * int(b[3]))
            found.append((gray, (int(x), int(y), int(w), int(h))))
    if not found:
        return []
    mx = median(b[0] + b[2] / 2 for _, b in found)
    my = median(b[1] + b[3] / 2 for _, b in found)
    mw = median(b[2] for _, b in found)
    return [
        (g, b)
        for g, b in found
        if abs(b[0] + b[2] / 2 - mx) <= REST_SHIFT * mw
        and abs(b[1] + b[3] / 2 - my) <= REST_SHIFT * mw
        and abs(b[2] - mw) <= REST_SCALE * mw
    ]


def extract_frames(frames: Sequence[Gray]) -> Template:
    rest = faces_at_rest(frames)
    if len(rest) < MIN_FRAMES:
        raise NoFace("too few frontal faces to build a template")
    vectors = [describe(normalise(g, b)) for g, b in rest]
    mean = np.mean(vectors, axis=0)
    return np.concatenate([_unit(mean[:HOG_SIZE]), _unit(mean[HOG_SIZE:])]).astype(np.float32)


def extract(video: bytes) -> Template:
    """The template of a capture (WebM/MP4); ``NoFace`` or ``Unreadable`` if there is none."""
    return extract_frames(decode(video).gray)


def similarity(a: Template, b: Template) -> float:
    """0..1: the mean over the two parts (HOG, LBP) of the centred cosine, clipped at 0."""
    if a.shape != (SIZE,) or b.shape != (SIZE,):
        raise ValueError("not a face template of this version")
    scores = []
    for part in (slice(0, HOG_SIZE), slice(HOG_SIZE, SIZE)):
        x, y = a[part] - a[part].mean(), b[part] - b[part].mean()
        denominator = float(np.linalg.norm(x) * np.linalg.norm(y))
        scores.append(float(x @ y) / denominator if denominator else 0.0)
    return float(min(1.0, max(0.0, sum(scores) / len(scores))))


def to_bytes(template: Template) -> bytes:
    if template.shape != (SIZE,):
        raise ValueError("not a face template of this version")
    return VERSION + template.astype("<f4").tobytes()


def from_bytes(data: bytes) -> Template:
    if not data.startswith(VERSION) or len(data) != len(VERSION) + 4 * SIZE:
        raise ValueError("not a face template of this version")
    out: Template = np.frombuffer(data[len(VERSION) :], dtype="<f4").astype(np.float32)
    return out


def _unit(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


__all__ += ["Unreadable", "describe", "extract_frames", "faces_at_rest", "normalise"]
