"""Document class and transaction value."""

from __future__ import annotations

import pytest

from sealwright.risk.signals import DocumentSensitivity
from tests.unit.risk.risk_support import make_ctx


@pytest.mark.parametrize(
    ("cls", "value", "points"),
    [
        ("payroll", 25_000, 30),
        ("payroll", None, 15),
        ("wire-transfer", 10_000, 15),  # the threshold itself is not "above"
        ("nda", 10_000.01, 15),
        ("nda", 500, 0),
        (None, 50_000, 15),
    ],
)
def test_class_and_value(cls: str | None, value: float | None, points: int) -> None:
    result = DocumentSensitivity().evaluate(make_ctx(document_class=cls, transaction_value=value))
    assert result.contribution == points
    assert str(value) not in str(result.facts)  # the amount is not evidence material


def test_configured_classes_and_no_data() -> None:
    signal = DocumentSensitivity.from_config({"sensitive_classes": ["m-and-a"]})
    assert signal.evaluate(make_ctx(document_class="m-and-a")).contribution == 15
    assert signal.evaluate(make_ctx(document_class="payroll")).contribution == 0
    empty = signal.evaluate(make_ctx())
    assert empty.contribution == 0
    assert empty.explanation.startswith("no data")
