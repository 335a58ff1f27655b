"""The signing-motion signal consumes the precomputed analysis (bot-likeness, similarity)."""

from __future__ import annotations

import pytest

from sealwright.risk.context import MotionResult
from sealwright.risk.signals import SigningMotion
from tests.unit.risk.risk_support import make_ctx


@pytest.mark.parametrize(
    ("bot", "similarity", "points"),
    [(0.1, 0.9, 0), (0.7, 0.9, 40), (0.2, 0.3, 20), (0.95, 0.1, 60), (None, 0.49, 20)],
)
def test_points(bot: float | None, similarity: float | None, points: int) -> None:
    result = SigningMotion().evaluate(make_ctx(motion=MotionResult(bot, similarity)))
    assert result.contribution == points


def test_no_analysis() -> None:
    for ctx in (make_ctx(), make_ctx(motion=MotionResult())):
        result = SigningMotion().evaluate(ctx)
        assert result.contribution == 0
        assert result.explanation.startswith("no data")


def test_replay_and_the_analysis_object() -> None:
    class Analysis:  # shaped like risk.motion.MotionAssessment
        bot_likeness = 0.95
        similarity = 0.99
        replay = True

    motion = MotionResult.of(Analysis())
    assert motion == MotionResult(0.95, 0.99, True)
    result = SigningMotion().evaluate(make_ctx(motion=motion))
    assert result.contribution == 40 + 50
    assert result.facts["replay"] is True
    assert "replay" in result.explanation
    assert SigningMotion().evaluate(make_ctx(motion=MotionResult(replay=False))).contribution == 0
