"""The built-in liveness provider: offline, on the CPU, with OpenCV's Haar cascades.

The cascades (frontal face, profile face, eyes) are XML files inside the
``opencv-python-headless`` wheel (``cv2.data.haarcascades``): nothing is fetched at run time.
Per sampled frame (10 per second, 320 px wide) it finds the head (frontal, else profile in
either direction) and, for a frontal face, the eyes. Relative to the head's resting position
(the median of the first frames), a head moved by at least ``TURN`` face widths sideways is a
turn, ``NOD`` face heights down a nod, and a centred frontal face whose eyes were visible at
rest but are not is a blink. Runs of the same posture collapse into events; the head
movements must be exactly the asked ones in the asked order (blinks in between are natural
and ignored unless asked for). Boxes, not landmarks: see docs/channel-video.md for what this
does not catch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from statistics import median

import cv2
import numpy as np
import numpy.typing as npt

from sealwright.liveness import fingerprint as fp
from sealwright.liveness.decode import Frames, Unreadable, decode
from sealwright.liveness.port import (
    ActionFinding,
    LivenessChallenge,
    LivenessResult,
    Reason,
)

__all__ = ["HaarLiveness"]

TURN, CENTRE, NOD = 0.2, 0.1, 0.15
MIN_FRAMES = 10
#: Mean absolute grey-level change below which the whole capture is one picture.
STILL = 2.0
HEAD_ACTIONS = frozenset({"turn-left", "turn-right", "nod"})

Gray = npt.NDArray[np.uint8]
_Cascade = cv2.CascadeClassifier


@dataclass(frozen=True, slots=True)
class _Pose:
    x: float
    y: float
    w: float
    frontal: bool
    eyes: int


class HaarLiveness:
    name = "builtin-haar/1"

    @cached_property
    def _cascades(self) -> tuple[_Cascade, _Cascade, _Cascade]:
        root: str = cv2.data.haarcascades  # type: ignore[attr-defined]
        found = tuple(
            cv2.CascadeClassifier(root + f)
            for f in (
                "haarcascade_frontalface_default.xml",
                "haarcascade_profileface.xml",
                "haarcascade_eye.xml",
            )
        )
        if any(c.empty() for c in found):
            raise RuntimeError("OpenCV's Haar cascades are missing from the installed wheel")
        return found[0], found[1], found[2]

    def check(
        self, video: bytes, challenge: LivenessChallenge, *, known: Sequence[Sequence[int]] = ()
    ) -> LivenessResult:
        try:
            frames = decode(video)
        except Unreadable:
            return self._fail(0, (Reason.UNREADABLE,))
        if len(frames.gray) < MIN_FRAMES:
            return self._fail(0, (Reason.TOO_SHORT,))
        print_ = fp.fingerprint(frames.gray)
        if _motion(frames.gray) < STILL or fp.distinct(print_) <= 1:
            return self._fail(0, (Reason.STILL_IMAGE,), print_)
        if any(fp.near_match(print_, old) for old in known):
            return self._fail(0, (Reason.REPLAY,), print_)
        poses = [self._pose(g) for g in frames.gray]
        coverage = sum(p is not None for p in poses) / len(poses)
        if coverage < 0.5:
            return self._fail(round(coverage * 30), (Reason.NO_FACE,), print_)
        events = _events(poses, frames)
        findings, reasons = _match(challenge.actions, events)
        found = sum(f.found for f in findings) / len(findings)
        score = round(100 * (0.3 * coverage + 0.6 * found + 0.1))
        if reasons:
            return LivenessResult(False, min(score, 59), self.name, findings, reasons, print_)
        return LivenessResult(True, max(score, 60), self.name, findings, (), print_)

    def _fail(
        self, score: int, reasons: tuple[Reason, ...], print_: tuple[int, ...] = ()
    ) -> LivenessResult:
        return LivenessResult(False, score, self.name, (), tuple(r.value for r in reasons), print_)

    def _pose(self, gray: Gray) -> _Pose | None:
        frontal, profile, eye = self._cascades
        min_side = max(24, gray.shape[1] // 8)
        faces = frontal.detectMultiScale(gray, 1.1, 5, minSize=(min_side, min_side))
        if len(faces):
            x, y, w, h = max(faces, key=lambda f: int(f[2]) * int(f[3]))
            upper = gray[y : y + h * 3 // 5, x : x + w]
            eyes = eye.detectMultiScale(upper, 1.1, 4, minSize=(max(8, w // 8),) * 2)
            return _Pose(x + w / 2, y + h / 2, float(w), True, len(eyes))
        width = gray.shape[1]
        for flipped in (False, True):
            image = cv2.flip(gray, 1) if flipped else gray
            found = profile.detectMultiScale(image, 1.1, 5, minSize=(min_side, min_side))
            if len(found):
                x, y, w, h = max(found, key=lambda f: int(f[2]) * int(f[3]))
                cx = width - (x + w / 2) if flipped else x + w / 2
                return _Pose(cx, y + h / 2, float(w), False, 0)
        return None


def _motion(frames: Sequence[Gray]) -> float:
    first = frames[0].astype(np.int16)
    return max(float(np.abs(f.astype(np.int16) - first).mean()) for f in frames[1:])


def _events(poses: Sequence[_Pose | None], frames: Frames) -> list[tuple[str, int]]:
    """The capture as a sequence of (posture, ms) events, each a run of >= 2 frames
    (a blink may be one frame)."""
    rest = [p for p in poses[: max(5, len(poses) // 8)] if p is not None and p.frontal]
    if not rest:
        rest = [p for p in poses if p is not None and p.frontal][:5]
    if not rest:
        return []
    bx, by, bw = median(p.x for p in rest), median(p.y for p in rest), median(p.w for p in rest)
    eyes_at_rest = sum(p.eyes > 0 for p in rest) >= len(rest) / 2
    labels: list[str] = []
    for p in poses:
        if p is None:
            labels.append("none")
            continue
        dx, dy = (p.x - bx) / bw, (p.y - by) / bw
        if dx >= TURN:
            labels.append("turn-left")
        elif dx <= -TURN:
            labels.append("turn-right")
        elif dy >= NOD and abs(dx) < CENTRE:
            labels.append("nod")
        elif abs(dx) < CENTRE and abs(dy) < CENTRE and p.frontal:
            labels.append("blink" if eyes_at_rest and p.eyes == 0 else "rest")
        else:
            labels.append("moving")
    events: list[tuple[str, int]] = []
    i = 0
    while i < len(labels):
        j = i
        while j < len(labels) and labels[j] == labels[i]:
            j += 1
        label = labels[i]
        wanted = (label in HEAD_ACTIONS and j - i >= 2) or label == "blink"
        if wanted and (not events or events[-1][0] != label):
            events.append((label, frames.times_ms[i]))
        i = j
    return events


def _match(
    asked: Sequence[str], events: Sequence[tuple[str, int]]
) -> tuple[tuple[ActionFinding, ...], tuple[str, ...]]:
    """Each asked action in turn; a head movement before the next asked one is out of order."""
    findings: list[ActionFinding] = []
    out_of_order = False
    pos = 0
    for action in asked:
        hit: int | None = None
        skipped_head = False
        k = pos
        while k < len(events):
            label, at = events[k]
            if label == action:
                hit = at
                break
            skipped_head = skipped_head or label in HEAD_ACTIONS
            k += 1
        findings.append(ActionFinding(action, hit is not None, hit))
        if hit is not None:
            out_of_order = out_of_order or skipped_head
            pos = k + 1
    if any(label in HEAD_ACTIONS for label, _ in events[pos:]):
        out_of_order = True
    reasons: list[str] = []
    if out_of_order:
        reasons.append(Reason.ACTIONS_OUT_OF_ORDER.value)
    if not all(f.found for f in findings):
        reasons.append(Reason.ACTION_MISSING.value)
    return tuple(findings), tuple(reasons)
