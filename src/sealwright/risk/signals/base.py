"""The common shape of every risk signal (D1): a name and ``evaluate(ctx) -> SignalResult``.

A signal never raises on missing data: it returns contribution 0 and says that it had no
data. Contributions are whole points; most are >= 0, an allow list (a corporate range) may
lower the score with a negative contribution. ``facts`` are non-personal scalars only (no
IP address, phone number or coordinates): they go into the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from sealwright.risk.context import SignalContext

__all__ = ["Fact", "Signal", "SignalResult", "no_data"]

Fact = str | int | float | bool | None


@dataclass(frozen=True)
class SignalResult:
    name: str
    #: The signal's own reading (a level, a count, a distance...), or None without data.
    value: Fact
    contribution: int
    explanation: str
    facts: Mapping[str, Fact] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "value": self.value,
            "contribution": self.contribution,
            "explanation": self.explanation,
            "facts": dict(self.facts),
        }


@runtime_checkable
class Signal(Protocol):
    name: str

    def evaluate(self, ctx: SignalContext) -> SignalResult: ...


def no_data(name: str, what: str) -> SignalResult:
    return SignalResult(name, None, 0, f"no data: {what}; contributes 0")
