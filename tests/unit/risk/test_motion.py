"""Behavioural biometrics of drawn signatures (D5) on scripted signatures.

A scripted "signer" is a few smooth strokes (a seeded family of curves). A natural signing
of it moves along each stroke with a minimum-jerk (bell-shaped) speed profile, trembles
(a ~9 Hz oscillation plus noise), varies its shape a little from one signing to the next,
and is sampled like a browser's pointermove events (about every 16.7 ms, jittered,
whole milliseconds, coordinates rounded to 1e-4). Bots draw the same path at constant
speed with exact 16 ms sampling, or join key points with straight lines, or replay.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.domain.signature import SignatureInput
from sealwright.risk.motion import MotionTemplate, assess, features, template

Strokes = list[list[list[float]]]


def _curve(signer: int, k: int, s: np.ndarray, wobble: np.random.Generator | None) -> np.ndarray:
    """Stroke ``k`` of a signer's signature at parameters ``s`` in 0..1 (dense, smooth)."""
    p = np.random.default_rng(1000 + signer * 10 + k)
    x0, y0 = 0.1 + 0.28 * k, 0.35 + p.uniform(-0.05, 0.05)
    ax, ay = p.uniform(0.03, 0.06), p.uniform(0.08, 0.15)
    fx, fy = p.uniform(1.0, 2.0), p.uniform(1.5, 3.0)
    phx, phy = p.uniform(0, 2 * np.pi), p.uniform(0, 2 * np.pi)
    da, dphi, extra = 0.0, 0.0, 0.0
    if wobble is not None:  # one signing differs a little (and not affinely) from the next
        da, dphi, extra = wobble.normal(0, 0.04), wobble.normal(0, 0.06), wobble.normal(0, 0.006)
    x = x0 + 0.2 * s + ax * (1 + da) * np.sin(2 * np.pi * fx * s + phx + dphi)
    y = y0 + ay * (1 + da) * np.sin(2 * np.pi * fy * s + phy) + extra * np.sin(7 * np.pi * s)
    return np.c_[x, y]


def _arc_sampler(xy: np.ndarray) -> tuple[np.ndarray, float]:
    arc = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    return arc, float(arc[-1])


def _at_arc(xy: np.ndarray, arc: np.ndarray, where: np.ndarray) -> np.ndarray:
    return np.c_[np.interp(where, arc, xy[:, 0]), np.interp(where, arc, xy[:, 1])]


def _emit(points: np.ndarray, times: np.ndarray) -> list[list[float]]:
    xy = np.clip(np.round(points, 4), 0, 1)
    return [[float(x), float(y), float(t)] for (x, y), t in zip(xy, times, strict=True)]


def natural(signer: int, seed: int, strokes: int = 3) -> Strokes:
    rng = np.random.default_rng(seed)
    out: Strokes = []
    t = 0.0
    for k in range(strokes):
        dense = _curve(signer, k, np.linspace(0, 1, 2000), rng)
        arc, length = _arc_sampler(dense)
        duration = length / rng.uniform(0.35, 0.5) * 1000  # ms, mean speed ~0.4 units/s
        times = [t]
        while times[-1] - t < duration:
            times.append(times[-1] + max(4.0, rng.normal(16.7, 1.6)))
        tau = np.clip((np.array(times) - t) / duration, 0, 1)
        progress = 10 * tau**3 - 15 * tau**4 + 6 * tau**5  # minimum jerk: bell-shaped speed
        xy = _at_arc(dense, arc, progress * length)
        secs = np.array(times) / 1000
        tremor = 0.0006 * np.c_[np.sin(2 * np.pi * 9 * secs), np.cos(2 * np.pi * 9.5 * secs)]
        xy = xy + tremor + rng.normal(0, 0.0003, xy.shape)
        out.append(_emit(xy, np.round(times)))
        t = round(times[-1]) + rng.uniform(150, 400)
    return out


def constant_speed_bot(signer: int, strokes: int = 3) -> Strokes:
    out: Strokes = []
    t = 0.0
    for k in range(strokes):
        dense = _curve(signer, k, np.linspace(0, 1, 2000), None)
        arc, length = _arc_sampler(dense)
        n = int(length / 0.4 / 0.016)
        times = t + 16.0 * np.arange(n + 1)
        out.append(_emit(_at_arc(dense, arc, np.linspace(0, length, n + 1)), times))
        t = float(times[-1]) + 200
    return out


def linear_bot(signer: int, seed: int, strokes: int = 3) -> Strokes:
    """Straight lines between 10 key points per stroke, with human-like timing."""
    rng = np.random.default_rng(seed)
    out: Strokes = []
    t = 0.0
    for k in range(strokes):
        keys = _curve(signer, k, np.linspace(0, 1, 10), None)
        arc, length = _arc_sampler(keys)
        duration = length / 0.4 * 1000
        times = [t]
        while times[-1] - t < duration:
            times.append(times[-1] + max(4.0, rng.normal(16.7, 1.6)))
        tau = np.clip((np.array(times) - t) / duration, 0, 1)
        progress = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
        out.append(_emit(_at_arc(keys, arc, progress * length), np.round(times)))
        t = round(times[-1]) + rng.uniform(150, 400)
    return out


def affine_copy(strokes: Strokes, *, shift_ms: float = 0.0) -> Strokes:
    """The same points, slanted, stretched and moved (as a replaying bot might)."""
    a = np.array([[0.9, 0.12], [-0.05, 1.1]])
    b = np.array([0.03, -0.02])
    out = []
    for stroke in strokes:
        arr = np.array(stroke)
        xy = arr[:, :2] @ a.T + b
        out.append(_emit(xy, arr[:, 2] + shift_ms))
    return out


# -- the scripted signatures are what the page submits -----------------------------------


def test_scripted_signatures_pass_the_pages_validation() -> None:
    for strokes in (natural(1, 1), constant_speed_bot(1), linear_bot(1, 2)):
        SignatureInput("drawn", "", strokes).validate()
        assert json.loads(json.dumps(strokes)) == strokes


# -- bot-like drawing ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_natural_signature_scores_low(seed: int) -> None:
    result = assess(natural(signer=seed, seed=seed * 7))
    assert result.bot_likeness < 0.2, result.to_json()
    assert not result.replay
    assert result.reasons == []
    f = result.features
    assert f["speed_peak_ratio"] > 1.5
    assert f["dt_cv"] > 0.05
    assert 0 < f["pen_up_ratio"] < 0.5
    assert f["strokes"] == 3


@pytest.mark.parametrize("signer", [1, 2, 3])
def test_constant_speed_exact_sampling_without_noise_is_a_bot(signer: int) -> None:
    result = assess(constant_speed_bot(signer))
    assert result.bot_likeness > 0.85, result.to_json()
    assert {"constant-speed", "regular-sampling", "no-micro-variation"} <= set(result.reasons)
    assert result.features["dt_cv"] == 0
    assert result.features["dt_mode_share"] == 1


@pytest.mark.parametrize("signer", [1, 2, 3])
def test_straight_line_interpolation_is_a_bot_even_with_human_timing(signer: int) -> None:
    result = assess(linear_bot(signer, seed=signer))
    assert result.bot_likeness > 0.6, result.to_json()
    assert "straight-segments" in result.reasons
    assert "regular-sampling" not in result.reasons  # the timing alone looks human
    assert result.features["straight_share"] > 0.7


def on_pixels(strokes: Strokes, width: int = 500) -> Strokes:
    """As a mouse on a 500 px pad reports it: whole pixels."""
    return [[[round(round(x * width) / width, 4), round(round(y * width) / width, 4), t]
             for x, y, t in stroke] for stroke in strokes]  # fmt: skip


@pytest.mark.parametrize("signer", [1, 2, 3])
def test_a_pixel_grid_neither_hides_a_bot_nor_makes_one(signer: int) -> None:
    human = assess(on_pixels(natural(signer, seed=signer * 11)))
    assert human.bot_likeness < 0.2, human.to_json()
    assert "straight-segments" not in human.reasons  # rows of pixels are not straight lines
    bot = assess(on_pixels(constant_speed_bot(signer)))
    assert bot.bot_likeness > 0.75, bot.to_json()
    assert {"constant-speed", "regular-sampling"} <= set(bot.reasons)


def test_too_little_motion_is_undecided() -> None:
    result = assess([[[0.1, 0.1, 0], [0.2, 0.2, 16]]])
    assert result.bot_likeness == 0.5
    assert result.reasons == ["too-little-motion"]


# -- replays -------------------------------------------------------------------------------


def test_a_replayed_signature_is_flagged() -> None:
    first = natural(signer=4, seed=40)
    old = template(first)
    assert old is not None
    replayed = [[[x, y, t + 5000] for x, y, t in stroke] for stroke in first]
    result = assess(replayed, previous=[old])
    assert result.replay
    assert result.bot_likeness >= 0.95
    assert "replay" in result.reasons
    # Its cadence alone looked human: only the replay gives it away.
    assert assess(replayed).bot_likeness < 0.2


def test_an_affine_copy_with_new_timing_is_a_replay() -> None:
    first = natural(signer=5, seed=50)
    old = template(first)
    assert old is not None
    copy = affine_copy(first, shift_ms=1234)
    rng = np.random.default_rng(3)
    for stroke in copy:  # new timestamps too, so only the geometry can tell
        for i, point in enumerate(stroke[1:], start=1):
            point[2] = stroke[i - 1][2] + float(round(rng.normal(16.7, 1.6)))
    result = assess(copy, previous=[old])
    assert result.replay, result.to_json()


def test_a_fresh_signing_by_the_same_signer_is_not_a_replay() -> None:
    old = [t for s in (60, 61, 62) if (t := template(natural(signer=6, seed=s)))]
    result = assess(natural(signer=6, seed=63), previous=old)
    assert not result.replay
    assert result.bot_likeness < 0.2


# -- similarity to an enrolled signature ---------------------------------------------------


@pytest.mark.parametrize("signer", [1, 2, 3, 4])
def test_same_signer_is_similar_and_another_path_is_not(signer: int) -> None:
    enrolled = template(natural(signer, seed=100 + signer))
    assert enrolled is not None
    same = assess(natural(signer, seed=200 + signer), enrolled=enrolled).similarity
    other = assess(natural(signer + 10, seed=300 + signer), enrolled=enrolled).similarity
    assert same is not None
    assert other is not None
    assert same > 0.6, (same, other)
    assert other < 0.35, (same, other)
    assert same > other + 0.3


def test_similarity_is_none_without_enrolment() -> None:
    assert assess(natural(1, 1)).similarity is None


def test_template_round_trips_through_json() -> None:
    t = template(natural(2, 9))
    assert t is not None
    again = MotionTemplate.from_json(json.loads(json.dumps(t.to_json())))
    assert again == t
    result = assess(natural(2, 9), previous=[again], enrolled=again)
    assert result.replay
    assert result.similarity is not None
    assert result.similarity > 0.99


def test_to_json_holds_scalars_only() -> None:
    doc = assess(natural(3, 3), enrolled=template(natural(3, 4))).to_json()
    assert set(doc) == {"bot_likeness", "similarity", "replay", "features", "reasons"}
    assert all(isinstance(v, float) for v in doc["features"].values())
    assert "template" not in json.dumps(doc)


# -- properties ----------------------------------------------------------------------------

coord = st.floats(0, 1, allow_nan=False)
point = st.tuples(coord, coord, st.integers(-50, 100_000).map(float)).map(list)
strokes_st = st.lists(st.lists(point, min_size=0, max_size=40), min_size=0, max_size=6)


@settings(max_examples=150, deadline=None)
@given(strokes_st, strokes_st)
def test_features_are_finite_and_scores_in_range(a: Strokes, b: Strokes) -> None:
    feats = features(a)
    assert all(math.isfinite(v) for v in feats.values())
    enrolled = template(b)
    result = assess(a, previous=[enrolled] if enrolled else [], enrolled=enrolled)
    assert 0.0 <= result.bot_likeness <= 1.0
    assert result.similarity is None or 0.0 <= result.similarity <= 1.0
    json.dumps(result.to_json(), allow_nan=False)


def test_the_risk_signal_context_takes_an_assessment() -> None:
    from sealwright.risk.context import MotionResult

    result = assess(constant_speed_bot(1), enrolled=template(natural(1, 1)))
    taken = MotionResult.of(result)
    assert taken.bot_likeness == result.bot_likeness
    assert taken.similarity == result.similarity
    assert taken.replay is False
