"""Telephony attestation of the phone channel's call (STIR/SHAKEN level, D1/C1).

``A`` (full: the carrier knows the caller and the number) contributes nothing; ``B``
(partial), ``C`` (gateway) and ``none`` (no attestation) contribute increasing points.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import SignalResult, no_data

__all__ = ["DEFAULT_LEVEL_POINTS", "TelephonyAttestation"]

DEFAULT_LEVEL_POINTS: Mapping[str, int] = {"A": 0, "B": 10, "C": 20, "none": 25}


class TelephonyAttestation:
    name = "telephony-attestation"

    def __init__(self, *, level_points: Mapping[str, int] = DEFAULT_LEVEL_POINTS) -> None:
        self.level_points = dict(level_points)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TelephonyAttestation:
        return cls(level_points={**DEFAULT_LEVEL_POINTS, **config.get("level_points", {})})

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        raw = ctx.attestation
        if raw is None:
            return no_data(self.name, "no phone call placed")
        level = raw.strip().upper() if raw.strip().upper() in {"A", "B", "C"} else "none"
        points = self.level_points.get(level, self.level_points.get("none", 0))
        text = f"STIR/SHAKEN attestation {level}" if level != "none" else "call not attested"
        return SignalResult(self.name, level, points, text, {"level": level})
