"""RFC 8785 canonical JSON against the published cyberphone/json-canonicalization vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealwright.errors import ValidationError
from sealwright.ledger.canonical import canonicalize, parse_canonical

VECTORS = Path(__file__).parents[2] / "vectors" / "rfc8785"
NAMES = sorted(p.stem for p in (VECTORS / "input").glob("*.json"))


def test_all_published_vectors_are_present() -> None:
    assert NAMES == ["arrays", "french", "structures", "unicode", "values", "weird"]


@pytest.mark.parametrize("name", NAMES)
def test_published_vector(name: str) -> None:
    source = (VECTORS / "input" / f"{name}.json").read_bytes()
    expected = (VECTORS / "output" / f"{name}.json").read_bytes()
    hex_text = (VECTORS / "outhex" / f"{name}.txt").read_text()
    assert bytes.fromhex("".join(hex_text.split())) == expected  # the two forms agree
    assert canonicalize(json.loads(source)) == expected
    assert parse_canonical(expected) == json.loads(source)


@pytest.mark.parametrize("name", NAMES)
def test_non_canonical_input_is_refused_by_the_strict_parser(name: str) -> None:
    with pytest.raises(ValidationError):
        parse_canonical((VECTORS / "input" / f"{name}.json").read_bytes())


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":1}',  # duplicate key
        b'{"b":1,"a":2}',  # key order
        b'{"a": 1}',  # whitespace
        b"[1.0]",  # number form
        b'"\\u0041"',  # needless escape
        b"NaN",
        b"[Infinity]",
        b"\xff",
        b"",
        b'{"a":1}\n',
    ],
)
def test_parse_canonical_refuses(text: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_canonical(text)


@pytest.mark.parametrize("value", [2**53, -(2**53), float("nan"), float("inf"), {1: 2}, b"x"])
def test_canonicalize_refuses_non_json(value: object) -> None:
    with pytest.raises(ValidationError):
        canonicalize(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(exclude_categories=["Cs"])), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_bytes_round_trip(value: object) -> None:
    data = canonicalize(value)
    assert canonicalize(parse_canonical(data)) == data


def test_integers_beyond_the_safe_range_read_back_as_the_doubles_they_are() -> None:
    assert canonicalize(2.0**53) == b"9007199254740992"
    assert parse_canonical(b"9007199254740992") == 2.0**53
