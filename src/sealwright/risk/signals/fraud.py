"""Past fraud flags on the signer identity or the envelope's sender (D1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import SignalResult, no_data

__all__ = ["DEFAULT_SEVERITY_POINTS", "FraudFlags"]

DEFAULT_SEVERITY_POINTS: Mapping[str, int] = {"low": 10, "medium": 25, "high": 50}


class FraudFlags:
    """Each flag adds its severity's points (an unknown severity counts as ``high``: a
    flag someone bothered to raise is not ignored), capped at ``cap``."""

    name = "fraud-flags"

    def __init__(
        self, *, severity_points: Mapping[str, int] = DEFAULT_SEVERITY_POINTS, cap: int = 60
    ) -> None:
        self.severity_points = dict(severity_points)
        self.cap = cap

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FraudFlags:
        return cls(
            severity_points=config.get("severity_points", DEFAULT_SEVERITY_POINTS),
            cap=config.get("cap", 60),
        )

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        flags = ctx.fraud_flags
        if flags is None:
            return no_data(self.name, "fraud flags not available")
        if not flags:
            return SignalResult(self.name, 0, 0, "no fraud flags", {"flags": 0})
        worst = max(self.severity_points.values(), default=0)
        raw = sum(self.severity_points.get(f.severity.lower(), worst) for f in flags)
        points = min(raw, self.cap)
        signer = sum(1 for f in flags if f.subject == "signer")
        sender = len(flags) - signer
        facts = {"flags": len(flags), "signer_flags": signer, "sender_flags": sender}
        severities = ", ".join(sorted({f.severity.lower() for f in flags}))
        text = (
            f"{len(flags)} fraud flag(s) ({severities}): "
            f"{signer} on the signer, {sender} on the sender"
        )
        if points < raw:
            text += f"; capped at {self.cap}"
        return SignalResult(self.name, len(flags), points, text, facts)
