"""The risk score with its explanation (D2).

Formula: every signal's contribution (whole points, possibly negative for an allow list)
is summed, and the sum is clamped to 0..100. A signal never raises; one that does (a bug)
is recorded as contributing 0 with an error note rather than hiding the other signals. The
:class:`RiskAssessment` serialises to RFC 8785 canonical JSON for storing with the decision
and in evidence bundles.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sealwright.ledger.canonical import canonicalize
from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import Signal, SignalResult

__all__ = ["MAX_SCORE", "SCORE_FORMULA", "RiskAssessment", "assess"]

MAX_SCORE = 100
SCORE_FORMULA = "clamp(sum(contributions), 0, 100)"


@dataclass(frozen=True)
class RiskAssessment:
    score: int
    results: tuple[SignalResult, ...]
    assessed_at: datetime
    #: Sum of contributions before clamping (shows how far past a limit it was).
    raw: int

    def contribution(self, name: str) -> int:
        return sum(r.contribution for r in self.results if r.name == name)

    def to_json(self) -> dict[str, object]:
        return {
            "score": self.score,
            "raw": self.raw,
            "formula": SCORE_FORMULA,
            "assessed_at": self.assessed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "signals": [r.to_json() for r in self.results],
        }

    def canonical(self) -> bytes:
        return canonicalize(self.to_json())

    def digest(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    def explain(self) -> list[str]:
        lines = [f"score {self.score} = {SCORE_FORMULA} (sum {self.raw})"]
        lines += [f"{r.name}: {r.contribution:+d} -- {r.explanation}" for r in self.results]
        return lines


def assess(ctx: SignalContext, signals: Iterable[Signal]) -> RiskAssessment:
    results = []
    for signal in signals:
        try:
            results.append(signal.evaluate(ctx))
        except Exception as exc:  # one broken signal must not hide the rest
            results.append(
                SignalResult(signal.name, None, 0, f"signal failed ({type(exc).__name__})")
            )
    raw = sum(r.contribution for r in results)
    score = max(0, min(MAX_SCORE, raw))
    return RiskAssessment(score=score, results=tuple(results), assessed_at=ctx.request.at, raw=raw)
