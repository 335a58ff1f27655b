"""Behavioural biometrics of a drawn signature (D5): cadence features, bot-like drawing,
replays, and similarity to an enrolled signature. Pure: numbers in, numbers out.

The input is exactly what the signing page submits (``web/static/signature-pad.js``):
strokes of ``[x, y, t_ms]``, x and y in 0..1 rounded to 1e-4, t in whole milliseconds
since the first pen-down, one point per ``pointermove`` event (a browser fires those about
once per display frame, so intervals near 16-17 ms with a millisecond of jitter are normal).

Three results, each documented with its thresholds in ``docs/motion.md``:

- ``bot_likeness`` 0..1: a noisy-OR of indicators of synthetic drawing (constant speed,
  a flat speed profile within strokes, perfectly regular timestamps, no micro-variation of
  the heading, straight runs of collinear points); a replay forces it to at least 0.95.
- ``replay``: the same point sequence as a previous signature of this signer, or an affine
  copy of it (a least-squares affine fit between index-resampled templates leaves almost
  nothing), or the identical per-stroke timing.
- ``similarity`` 0..1 to an enrolled template: dynamic time warping between arc-length
  resampled trajectories normalised for position and size, mapped through a logistic
  curve (0.5 at a distance of 0.14 RMS radii).

A :class:`MotionTemplate` is biometric data: store it encrypted, like the strokes
themselves; ``MotionAssessment.to_json()`` leaves it out and holds only scalars.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MotionAssessment", "MotionTemplate", "assess", "features", "template"]

Strokes = Sequence[Sequence[Sequence[float]]]
Array = npt.NDArray[np.float64]

TEMPLATE_POINTS = 64
#: Residual (relative to the drawing's spread) under which an affine fit is a copy.
REPLAY_RESIDUAL = 0.01
#: The DTW distance (in RMS radii) at which similarity is 0.5, and how fast it falls there
#: (calibrated on scripted signatures: a signer's own signings lie under 0.11, other
#: paths over 0.15; tune on real enrolments).
SIMILARITY_MIDPOINT = 0.14
SIMILARITY_WIDTH = 0.02
#: Fewer segments than this say too little about cadence to judge.
MIN_SEGMENTS = 8
#: A point closer than this to the chord of its neighbours is collinear (1.5 quanta of the
#: page's 1e-4 rounding, so that rounding alone does not bend a straight line).
COLLINEAR = 1.5e-4
#: Chords shorter than this (about 4 px of a 500 px pad) say nothing about straightness.
MIN_CHORD = 0.008
#: (indicator, weight) of the noisy-OR; each indicator's score is a ramp (``_ramp``).
WEIGHTS = {
    "constant-speed": 0.6,
    "flat-speed-profile": 0.4,
    "regular-sampling": 0.5,
    "no-micro-variation": 0.5,
    "straight-segments": 0.7,
}


@dataclass(frozen=True, slots=True)
class MotionTemplate:
    """What later signatures are compared with: ``points`` resampled by point index (an
    affine copy of the strokes is an affine copy of these), ``shape`` resampled by arc
    length and normalised (for DTW), ``counts`` points per stroke, ``timing`` a digest of
    the sampling intervals."""

    points: tuple[float, ...]
    shape: tuple[float, ...]
    counts: tuple[int, ...]
    timing: str

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "points": list(self.points),
            "shape": list(self.shape),
            "counts": list(self.counts),
            "timing": self.timing,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MotionTemplate:
        return cls(
            tuple(float(v) for v in data["points"]),
            tuple(float(v) for v in data["shape"]),
            tuple(int(v) for v in data["counts"]),
            str(data["timing"]),
        )


@dataclass(frozen=True, slots=True)
class MotionAssessment:
    bot_likeness: float
    similarity: float | None
    replay: bool
    features: dict[str, float]
    reasons: list[str]
    template: MotionTemplate | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Scalars only (no template, no coordinates): fit for a risk explanation."""
        return {
            "bot_likeness": round(self.bot_likeness, 4),
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "replay": self.replay,
            "features": {k: round(v, 6) for k, v in sorted(self.features.items())},
            "reasons": list(self.reasons),
        }


def assess(
    strokes: Strokes,
    *,
    previous: Sequence[MotionTemplate] = (),
    enrolled: MotionTemplate | None = None,
) -> MotionAssessment:
    """Assess one drawn signature against the signer's ``previous`` templates (replays) and
    an ``enrolled`` one (similarity)."""
    parts = _clean(strokes)
    feats = _features(parts)
    mine = _template(parts) if parts else None
    reasons: list[str] = []
    if feats["segments"] < MIN_SEGMENTS:
        bot, reasons = 0.5, ["too-little-motion"]
    else:
        bot = _bot_likeness(feats, reasons)
    replay = mine is not None and any(_is_replay(mine, old) for old in previous)
    if replay:
        bot = max(bot, 0.95)
        reasons.append("replay")
    similarity = None
    if enrolled is not None and mine is not None:
        distance = _dtw(_shape(mine), _shape(enrolled))
        similarity = 1.0 / (
            1.0 + float(np.exp((distance - SIMILARITY_MIDPOINT) / SIMILARITY_WIDTH))
        )
    return MotionAssessment(bot, similarity, replay, feats, reasons, mine)


def template(strokes: Strokes) -> MotionTemplate | None:
    """The template of a signature (to enrol, or to keep for replay checks)."""
    parts = _clean(strokes)
    return _template(parts) if parts else None


def features(strokes: Strokes) -> dict[str, float]:
    """Cadence features; every value finite (0 where a feature is undefined)."""
    return _features(_clean(strokes))


def _features(parts: list[Array]) -> dict[str, float]:
    f: dict[str, float] = {"strokes": float(len(parts)), "points": 0.0, "segments": 0.0}
    if not parts:
        return {**f, **dict.fromkeys(_CADENCE, 0.0)}
    f["points"] = float(sum(len(p) for p in parts))
    starts = np.array([p[0, 2] for p in parts])
    ends = np.array([p[-1, 2] for p in parts])
    total = float(ends.max() - starts.min())
    stroke_ms = ends - starts
    pauses = np.clip(starts[1:] - ends[:-1], 0, None)
    dts, speeds, accels, jerks, peaks, turns, jitters, straight = [], [], [], [], [], [], [], []
    for p in parts:
        d = np.diff(p, axis=0)
        ok = d[:, 2] > 0
        dt = d[ok, 2]
        step = np.hypot(d[ok, 0], d[ok, 1])
        dts.append(dt)
        v = step / (dt / 1000.0)
        speeds.append(v)
        if len(v) >= 5 and v.mean() > 0:
            peaks.append(float(v.max() / v.mean()))
        if len(v) >= 2:
            mid = (dt[1:] + dt[:-1]) / 2000.0
            a = np.diff(v) / mid
            accels.append(np.abs(a))
            if len(a) >= 2:
                jerks.append(np.abs(np.diff(a) / mid[1:]))
        moving = p[np.r_[True, np.hypot(d[:, 0], d[:, 1]) > 0]]
        if len(moving) >= 3:
            seg = np.diff(moving[:, :2], axis=0)
            heading = np.arctan2(seg[:, 1], seg[:, 0])
            turn = (np.diff(heading) + np.pi) % (2 * np.pi) - np.pi
            turns.append(turn)
            jitters.append(np.abs(np.diff(turn)))
            straight.append(_collinear(moving[:, :2]))
    dt_all, v_all = _cat(dts), _cat(speeds)
    turn_all = _cat(turns)
    f["segments"] = float(len(v_all))
    f["duration_ms"] = total
    pen_down = _ratio(float(stroke_ms.sum()), total)
    f["pen_up_ratio"] = min(1.0, max(0.0, 1.0 - pen_down)) if total > 0 else 0.0
    f["stroke_ms_mean"], f["stroke_ms_cv"] = _mean_cv(stroke_ms)
    f["pause_ms_mean"], f["pause_ms_cv"] = _mean_cv(pauses)
    f["speed_mean"], f["speed_cv"] = _mean_cv(v_all)
    f["speed_peak_ratio"] = float(np.mean(peaks)) if peaks else 0.0
    f["accel_rel"] = _ratio(_mean(_cat(accels)), f["speed_mean"])
    f["jerk_rel"] = _ratio(_mean(_cat(jerks)), f["speed_mean"])
    f["dt_mean_ms"], f["dt_cv"] = _mean_cv(dt_all)
    f["dt_mode_share"] = _mode_share(dt_all)
    f["turn_mean"] = _mean(np.abs(turn_all))
    f["curvature_mean"] = _ratio(f["turn_mean"], _mean(v_all * dt_all / 1000.0))
    big = turn_all[np.abs(turn_all) > 0.05]
    f["direction_changes"] = float(np.count_nonzero(np.diff(np.sign(big)))) if len(big) else 0.0
    f["heading_jitter"] = float(np.median(_cat(jitters))) if len(_cat(jitters)) else 0.0
    f["straight_share"] = _mean(_cat(straight))
    return f


_CADENCE = (
    *("duration_ms", "pen_up_ratio", "stroke_ms_mean", "stroke_ms_cv", "pause_ms_mean"),
    *("pause_ms_cv", "speed_mean", "speed_cv", "speed_peak_ratio", "accel_rel", "jerk_rel"),
    *("dt_mean_ms", "dt_cv", "dt_mode_share", "turn_mean", "curvature_mean"),
    *("direction_changes", "heading_jitter", "straight_share"),
)


def _bot_likeness(f: Mapping[str, float], reasons: list[str]) -> float:
    scores = {
        "constant-speed": _ramp(f["speed_cv"], 0.15, 0.35),
        "flat-speed-profile": _ramp(f["speed_peak_ratio"], 1.15, 1.45),
        "regular-sampling": _ramp(f["dt_cv"], 0.002, 0.025),
        "no-micro-variation": _ramp(f["heading_jitter"], 0.02, 0.06),
        "straight-segments": 1.0 - _ramp(f["straight_share"], 0.45, 0.8),
    }
    keep = 1.0
    for name, score in scores.items():
        keep *= 1.0 - WEIGHTS[name] * score
        if score >= 0.5:
            reasons.append(name)
    return float(min(1.0, max(0.0, 1.0 - keep)))


def _ramp(value: float, full: float, none: float) -> float:
    """1 at or below ``full``, 0 at or above ``none``, linear between."""
    return float(min(1.0, max(0.0, (none - value) / (none - full))))


def _is_replay(new: MotionTemplate, old: MotionTemplate) -> bool:
    if new.counts == old.counts and new.timing == old.timing:
        return True
    a, b = _points(old), _points(new)
    design = np.c_[a, np.ones(len(a))]
    fit, *_ = np.linalg.lstsq(design, b, rcond=None)
    spread = float(np.sqrt(((b - b.mean(axis=0)) ** 2).sum(axis=1).mean()))
    if spread == 0:
        return False
    residual = float(np.sqrt(((design @ fit - b) ** 2).sum(axis=1).mean()))
    return residual / spread < REPLAY_RESIDUAL


def _dtw(a: Array, b: Array) -> float:
    """Dynamic time warping, Euclidean point cost, divided by the warping path's length."""
    cost = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1))
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            options = (
                (acc[i - 1, j - 1], i - 1, j - 1),
                (acc[i - 1, j], i - 1, j),
                (acc[i, j - 1], i, j - 1),
            )
            best, pi, pj = min(options)
            acc[i, j] = cost[i - 1, j - 1] + best
            steps[i, j] = steps[pi, pj] + 1
    return float(acc[n, m] / steps[n, m])


def _template(parts: list[Array]) -> MotionTemplate:
    path = np.concatenate([p[:, :2] for p in parts])
    index = np.linspace(0, len(path) - 1, TEMPLATE_POINTS)
    pts = np.c_[
        np.interp(index, np.arange(len(path)), path[:, 0]),
        np.interp(index, np.arange(len(path)), path[:, 1]),
    ]
    arc = np.r_[0.0, np.cumsum(np.hypot(*np.diff(path, axis=0).T))]
    if arc[-1] > 0:
        at = np.linspace(0, arc[-1], TEMPLATE_POINTS)
        shape = np.c_[np.interp(at, arc, path[:, 0]), np.interp(at, arc, path[:, 1])]
    else:
        shape = np.repeat(path[:1], TEMPLATE_POINTS, axis=0)
    shape = shape - shape.mean(axis=0)
    radius = float(np.sqrt((shape**2).sum(axis=1).mean()))
    if radius > 0:
        shape = shape / radius
    intervals = np.concatenate([np.diff(p[:, 2]) for p in parts]).round().astype(np.int64)
    timing = hashlib.sha256(intervals.tobytes()).hexdigest()
    return MotionTemplate(
        tuple(round(float(v), 6) for v in pts.ravel()),
        tuple(round(float(v), 6) for v in shape.ravel()),
        tuple(len(p) for p in parts),
        timing,
    )


def _points(t: MotionTemplate) -> Array:
    return np.asarray(t.points, dtype=np.float64).reshape(-1, 2)


def _shape(t: MotionTemplate) -> Array:
    return np.asarray(t.shape, dtype=np.float64).reshape(-1, 2)


def _clean(strokes: Strokes) -> list[Array]:
    """Strokes as float arrays of finite [x, y, t] points; empty strokes dropped."""
    parts = []
    for stroke in strokes:
        rows = [tuple(float(v) for v in point[:3]) for point in stroke if len(point) >= 3]
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        arr = arr[np.isfinite(arr).all(axis=1)]
        if len(arr):
            parts.append(arr)
    return parts


def _collinear(xy: Array) -> Array:
    """For each interior point whose neighbours are at least ``MIN_CHORD`` apart, 1.0 if
    it lies within ``COLLINEAR`` of their chord. Shorter chords are skipped: a slow mouse
    on a pixel grid steps along rows and columns without being a bot."""
    a, b, c = xy[:-2], xy[1:-1], xy[2:]
    chord = c - a
    length = np.hypot(chord[:, 0], chord[:, 1])
    long = length >= MIN_CHORD
    cross = np.abs(chord[:, 0] * (b - a)[:, 1] - chord[:, 1] * (b - a)[:, 0])[long]
    return (cross / length[long] < COLLINEAR).astype(np.float64)


def _cat(arrays: list[Array]) -> Array:
    return np.concatenate(arrays) if arrays else np.zeros(0)


def _mean(a: Array) -> float:
    return _safe(float(a.mean())) if len(a) else 0.0


def _mean_cv(a: Array) -> tuple[float, float]:
    mean = _mean(a)
    return mean, (_safe(float(a.std()) / mean) if mean > 0 else 0.0)


def _mode_share(a: Array) -> float:
    if not len(a):
        return 0.0
    _, counts = np.unique(np.round(a), return_counts=True)
    return float(counts.max() / len(a))


def _ratio(a: float, b: float) -> float:
    return _safe(a / b) if b else 0.0


def _safe(v: float) -> float:
    return v if np.isfinite(v) else 0.0
