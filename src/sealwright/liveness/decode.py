"""Decode a browser capture (WebM VP8/VP9 from MediaRecorder, or MP4) into sampled
grayscale frames with PyAV, whose wheels bundle FFmpeg: no system codec is needed."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

#: FFmpeg demuxer names we accept (the WebM and MP4 families); anything else is refused.
CONTAINERS = ("matroska", "webm", "mov", "mp4")
SAMPLE_FPS = 10.0
MAX_SECONDS = 90.0
WIDTH = 320


class Unreadable(Exception):
    """The bytes are not a WebM/MP4 video we can decode."""


@dataclass(frozen=True, slots=True)
class Frames:
    gray: tuple[npt.NDArray[np.uint8], ...]
    times_ms: tuple[int, ...]


def decode(video: bytes) -> Frames:
    try:
        with av.open(io.BytesIO(video), mode="r") as container:
            names = container.format.name.split(",")
            if not any(n in CONTAINERS for n in names) or not container.streams.video:
                raise Unreadable("not a WebM or MP4 video")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            return _sample(container, stream)
    except Unreadable:
        raise
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise Unreadable("the video cannot be decoded") from exc


def _sample(container: av.container.InputContainer, stream: av.VideoStream) -> Frames:
    gray: list[npt.NDArray[np.uint8]] = []
    times: list[int] = []
    next_at = 0.0
    for index, frame in enumerate(container.decode(stream)):
        t = float(frame.time) if frame.time is not None else index / 30.0
        if t > MAX_SECONDS:
            break
        if t + 1e-6 < next_at:
            continue
        next_at = t + 1.0 / SAMPLE_FPS
        height = max(2, round(frame.height * WIDTH / max(1, frame.width)) // 2 * 2)
        plane = frame.reformat(width=WIDTH, height=height, format="gray").to_ndarray()
        gray.append(np.ascontiguousarray(plane, dtype=np.uint8))
        times.append(round(t * 1000))
    return Frames(tuple(gray), tuple(times))
