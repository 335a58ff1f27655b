"""A simulated camera for development, demos and tests (C3): synthetic challenge videos
from a face picture that ships offline (scikit-image's ``astronaut``; the optional extra
``sealwright[demo]``, part of ``dev``). The face rests, then performs the asked actions
in order -- a turn is the head shifted sideways and squeezed horizontally, a nod shifted
down, a blink the eyes painted over with skin colour -- and rests again.

``challenge_video(actions, fmt="webm"|"mp4"|"y4m", seed=...)`` returns the encoded bytes;
``write_y4m(path, actions)`` writes a file for Chromium's fake camera
(``--use-file-for-fake-video-capture``), which loops it: the long rest at the end keeps a
recording that starts with the stream from wrapping into the next loop.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from sealwright.errors import ConfigurationError

W, H, FPS = 320, 240, 15
Image = npt.NDArray[np.uint8]


@cache
def _face() -> tuple[Image, Image]:
    """The face crop (RGB) and the same crop with closed eyes."""
    try:
        from skimage import data
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "the simulated camera needs scikit-image: pip install 'sealwright[demo]'"
        ) from exc

    img = np.ascontiguousarray(data.astronaut())  # type: ignore[no-untyped-call]
    # The Haar face box on the 512x512 picture is (177, 66, 95, 95); crop around it.
    crop = np.ascontiguousarray(img[20:230, 120:330])  # 210x210, face near the centre
    closed = crop.copy()
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    cascades: str = cv2.data.haarcascades  # type: ignore[attr-defined]
    eyes = cv2.CascadeClassifier(cascades + "haarcascade_eye.xml")
    skin = crop[125:140, 85:125].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    for x, y, w, h in eyes.detectMultiScale(gray[40:120, 50:160], 1.1, 5):
        # The lid: skin over the eye's middle, a dark lash line across it.
        x0, x1 = 50 + x + w // 6, 50 + x + w - w // 6
        y0, y1 = 40 + y + h // 3, 40 + y + h * 3 // 4
        closed[y0:y1, x0:x1] = skin
        closed[(y0 + y1) // 2, x0:x1] = (60, 40, 30)
    return crop, closed


def _frame(dx: float = 0.0, dy: float = 0.0, squeeze: float = 1.0, blink: bool = False) -> Image:
    """One RGB frame: the face crop shifted by (dx, dy) face widths, squeezed horizontally."""
    open_, closed = _face()
    src = closed if blink else open_
    size = 150
    face = cv2.resize(src, (max(2, round(size * squeeze)), size), interpolation=cv2.INTER_AREA)
    canvas = np.full((H, W, 3), (96, 110, 120), dtype=np.uint8)
    fw = size * 0.45  # the face is about 45 % of the crop's width
    x0 = round((W - face.shape[1]) / 2 + dx * fw)
    y0 = round((H - size) / 2 + dy * fw)
    xs, ys = max(0, x0), max(0, y0)
    xe, ye = min(W, x0 + face.shape[1]), min(H, y0 + size)
    canvas[ys:ye, xs:xe] = face[ys - y0 : ye - y0, xs - x0 : xe - x0]
    return canvas


def _ramp(n: int) -> list[float]:
    return [(i + 1) / n for i in range(n)]


def frames(
    actions: Sequence[str], *, seed: int = 0, tail: float = 1.0, brisk: bool = False
) -> Iterator[Image]:
    """Rest, each action (1-2 s) with a rest between, then ``tail`` seconds of rest.

    ``seed`` moves the whole picture by a few pixels, tints it and varies the timing and
    reach of each movement, so two videos of the same actions are different captures (as
    two real ones are). ``brisk`` keeps every movement and pause at its shortest.
    """
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-0.06, 0.06, size=2)
    tint = rng.integers(-12, 12, size=3)

    def out(frame: Image) -> Image:
        shifted: Image = np.clip(frame.astype(np.int16) + tint, 0, 255).astype(np.uint8)
        return shifted

    def rest(n: int) -> Iterator[Image]:
        for _ in range(n):
            yield out(_frame(jitter[0], jitter[1]))

    pauses = rng.integers(0, 1 if brisk else 15, size=len(actions) + 1)
    yield from rest(FPS + int(pauses[-1]))
    for action, pause in zip(actions, pauses, strict=False):
        if action == "blink":
            for _ in range(4):
                yield out(_frame(jitter[0], jitter[1], blink=True))
        else:
            sign = {"turn-left": 1.0, "turn-right": -1.0, "nod": 0.0}[action]
            reach = rng.uniform(0.85, 1.15)
            hold = 6 if brisk else int(rng.integers(6, 12))
            path = _ramp(4) + [1.0] * hold + _ramp(4)[::-1]
            for t in path:
                if action == "nod":
                    yield out(_frame(jitter[0], jitter[1] + 0.45 * reach * t))
                else:
                    shift = 0.6 * reach * sign * t
                    yield out(_frame(jitter[0] + shift, jitter[1], 1 - 0.25 * reach * t))
        yield from rest(FPS // 2 + int(pause))
    yield from rest(round(FPS * tail))


def still_frames(n: int = 3 * FPS) -> Iterator[Image]:
    """A photo held to the camera: the same frame over and over."""
    frame = _frame()
    for _ in range(n):
        yield frame


def encode(pictures: Sequence[Image] | Iterator[Image], fmt: str = "webm") -> bytes:
    buffer = io.BytesIO()
    codec = {"webm": "libvpx", "mp4": "libx264", "y4m": "rawvideo"}[fmt]
    container_fmt = {"webm": "webm", "mp4": "mp4", "y4m": "yuv4mpegpipe"}[fmt]
    with av.open(buffer, mode="w", format=container_fmt) as container:
        stream = container.add_stream(codec, rate=FPS)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if fmt == "webm":
            stream.bit_rate = 800_000
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def challenge_video(actions: Sequence[str], *, fmt: str = "webm", seed: int = 0) -> bytes:
    """A capture of a face performing ``actions`` in order, as WebM (VP8), MP4 or Y4M."""
    return encode(frames(actions, seed=seed), fmt)


def write_y4m(path: Path, actions: Sequence[str], *, seed: int = 0, tail: float = 12.0) -> Path:
    """A fake-camera file for Chromium performing ``actions`` briskly (about 1 s of rest,
    then 1.4 s per action), then ``tail`` seconds of rest so that a recording which starts
    with the camera ends before the file loops."""
    path.write_bytes(encode(frames(actions, seed=seed, tail=tail, brisk=True), "y4m"))
    return path
