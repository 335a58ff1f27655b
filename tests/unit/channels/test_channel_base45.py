"""Base45 (channels/base45.py) against RFC 9285's examples, and round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealwright.channels.base45 import b45decode, b45encode

EXAMPLES = json.loads(
    (Path(__file__).parents[2] / "vectors" / "rfc9285" / "examples.json").read_text()
)


@pytest.mark.parametrize("case", EXAMPLES["valid"], ids=lambda c: c["encoded"])
def test_rfc9285_examples(case: dict[str, str]) -> None:
    assert b45encode(case["decoded"].encode()) == case["encoded"]
    assert b45decode(case["encoded"]) == case["decoded"].encode()


@pytest.mark.parametrize("text", EXAMPLES["invalid"])
def test_invalid_input_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        b45decode(text)


@given(st.binary(max_size=300))
def test_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data
