"""Document class and transaction value (D1): sensitive classes and high values add points."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealwright.risk.context import SignalContext
from sealwright.risk.signals.base import Fact, SignalResult

__all__ = ["DocumentSensitivity"]


class DocumentSensitivity:
    name = "document"

    def __init__(
        self,
        *,
        sensitive_classes: frozenset[str] = frozenset({"payroll", "wire-transfer"}),
        sensitive_points: int = 15,
        value_threshold: float = 10_000,
        value_points: int = 15,
    ) -> None:
        self.sensitive_classes = sensitive_classes
        self.sensitive_points = sensitive_points
        self.value_threshold = value_threshold
        self.value_points = value_points

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DocumentSensitivity:
        return cls(
            sensitive_classes=frozenset(
                config.get("sensitive_classes", ["payroll", "wire-transfer"])
            ),
            sensitive_points=config.get("sensitive_points", 15),
            value_threshold=config.get("value_threshold", 10_000),
            value_points=config.get("value_points", 15),
        )

    def evaluate(self, ctx: SignalContext) -> SignalResult:
        cls_, value = ctx.document_class, ctx.transaction_value
        if cls_ is None and value is None:
            return SignalResult(
                self.name, None, 0, "no data: no document class or value; contributes 0"
            )
        facts: dict[str, Fact] = {"document_class": cls_}
        points, reasons = 0, []
        if cls_ is not None and cls_ in self.sensitive_classes:
            points += self.sensitive_points
            reasons.append(f"document class {cls_} is sensitive")
        if value is not None:
            facts["over_threshold"] = value > self.value_threshold
            if value > self.value_threshold:
                points += self.value_points
                reasons.append(f"transaction value above {self.value_threshold:g}")
        if not reasons:
            reasons.append("document class and value raise no concern")
        return SignalResult(self.name, cls_, points, "; ".join(reasons), facts)
