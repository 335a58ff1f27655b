"""Velocity (D1): envelopes and verifications of the same identity, requests from the same
address, in the caller's window. Each count above its limit adds ``points``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import Fact, SignalResult, no_data

__all__ = ["Velocity"]


class Velocity:
    name = "velocity"

    def __init__(
        self,
        *,
        max_identity_envelopes: int = 5,
        max_identity_verifications: int = 10,
        max_ip_requests: int = 30,
        points: int = 15,
    ) -> None:
        self.limits = {
            "identity_envelopes": max_identity_envelopes,
            "identity_verifications": max_identity_verifications,
            "ip_requests": max_ip_requests,
        }
        self.points = points

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Velocity:
        return cls(
            max_identity_envelopes=config.get("max_identity_envelopes", 5),
            max_identity_verifications=config.get("max_identity_verifications", 10),
            max_ip_requests=config.get("max_ip_requests", 30),
            points=config.get("points", 15),
        )

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        counts = ctx.velocity
        if counts is None:
            return no_data(self.name, "no counts for the window")
        facts: dict[str, Fact] = {"window_s": counts.window_seconds}
        over = []
        for key, limit in self.limits.items():
            count = getattr(counts, key)
            if count is None:
                continue
            facts[key] = count
            if count > limit:
                over.append(f"{key.replace('_', ' ')} {count} > {limit}")
        if len(facts) == 1:
            return no_data(self.name, "no counts for the window")
        if not over:
            return SignalResult(self.name, 0, 0, "counts within limits", facts)
        window = f"in {counts.window_seconds} s"
        text = "; ".join(over) + f" {window}"
        return SignalResult(self.name, len(over), self.points * len(over), text, facts)
