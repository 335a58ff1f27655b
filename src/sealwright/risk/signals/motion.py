"""Signing-motion dynamics (D1/D5): consumes the precomputed stroke analysis.

The analysis itself (``sealwright.risk.motion``) yields a bot-likeness and a similarity to
the enrolled signature, both 0..1, and whether the drawing replays an earlier one; this
signal only turns them into points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import Fact, SignalResult, no_data

__all__ = ["SigningMotion"]


class SigningMotion:
    name = "signing-motion"

    def __init__(
        self,
        *,
        bot_threshold: float = 0.7,
        bot_points: int = 40,
        min_similarity: float = 0.5,
        dissimilar_points: int = 20,
        replay_points: int = 50,
    ) -> None:
        self.bot_threshold = bot_threshold
        self.bot_points = bot_points
        self.min_similarity = min_similarity
        self.dissimilar_points = dissimilar_points
        self.replay_points = replay_points

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SigningMotion:
        return cls(
            bot_threshold=config.get("bot_threshold", 0.7),
            bot_points=config.get("bot_points", 40),
            min_similarity=config.get("min_similarity", 0.5),
            dissimilar_points=config.get("dissimilar_points", 20),
            replay_points=config.get("replay_points", 50),
        )

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        motion = ctx.motion
        if motion is None or (
            motion.bot_likeness is None and motion.similarity is None and motion.replay is None
        ):
            return no_data(self.name, "no signing-motion analysis")
        facts: dict[str, Fact] = {}
        points, reasons = 0, []
        if motion.bot_likeness is not None:
            facts["bot_likeness"] = round(motion.bot_likeness, 3)
            if motion.bot_likeness >= self.bot_threshold:
                points += self.bot_points
                reasons.append(f"drawing looks automated ({motion.bot_likeness:.2f})")
        if motion.similarity is not None:
            facts["similarity"] = round(motion.similarity, 3)
            if motion.similarity < self.min_similarity:
                points += self.dissimilar_points
                reasons.append(f"unlike the enrolled signature ({motion.similarity:.2f})")
        if motion.replay is not None:
            facts["replay"] = motion.replay
            if motion.replay:
                points += self.replay_points
                reasons.append("replay of an earlier signature of this signer")
        if not reasons:
            reasons.append("signing motion looks human and consistent")
        value = facts.get("bot_likeness")
        return SignalResult(self.name, value, points, "; ".join(reasons), facts)
