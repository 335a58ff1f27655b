"""The fast paths write exactly the bytes of the rfc8785 package, and fail exactly where it
fails, for any JSON-like value; the fast canonical check accepts and refuses exactly what
the reference check does, for any bytes; audit events never leave the fast paths."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.domain.events import EventTag
from sealwright.errors import ValidationError
from sealwright.ledger import fast_canonical
from sealwright.ledger.canonical import canonicalize, canonicalize_reference, parse_canonical
from sealwright.ledger.fast_canonical import canonicalize_fast

VECTORS = Path(__file__).parents[2] / "vectors" / "rfc8785"
REFUSED = (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeError)


def reference(value: object) -> bytes | None:
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except REFUSED:
        return None


def fast(value: object) -> bytes | None:
    try:
        return canonicalize_fast(value)
    except ValidationError:
        return None


# Text with everything RFC 8785 cares about: controls, quotes, backslashes, DEL, U+2028,
# characters on both sides of the surrogate range and beyond the BMP, lone surrogates.
any_char = st.characters(exclude_categories=())
tricky_char = st.sampled_from(
    ["\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", '"', "\\", "/", "\x7f", "\u2028",
     "\ud800", "\udfff", "\ue000", "\uffff", "\U00010000", "\U0001f600", "é", "a", "A"]
)  # fmt: skip
texts = st.text(st.one_of(any_char, tricky_char), max_size=12)


class Tag(str):
    """A str subclass: the reference writes its value; the fast path must defer to it."""


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.integers(),  # beyond the safe range too: refused by both
    st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 0, -1]),
    st.floats(),  # nan and infinities included: refused by both
    texts,
    st.sampled_from(list(EventTag)),
    texts.map(Tag),
    st.just(b"bytes"),  # unsupported: refused by both
)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(texts, inner, max_size=4),
        st.dictionaries(st.one_of(texts, st.integers()), inner, max_size=3),
    ),
    max_leaves=20,
)


@settings(max_examples=2000, deadline=None)
@given(json_like)
def test_same_bytes_and_same_refusals_as_rfc8785(value: Any) -> None:
    assert fast(value) == reference(value)


hex64 = st.text("0123456789abcdef", min_size=64, max_size=64)
ids = st.text("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-", max_size=40)
event_data = st.dictionaries(
    st.text(st.characters(max_codepoint=0xFFFF, codec="utf-8"), max_size=20),
    st.one_of(st.text(), st.integers(0, 2**53 - 1), st.booleans(), st.none(), hex64),
    max_size=6,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    envelope = draw(st.none() | ids)
    return {
        "v": 1,
        "id": draw(st.text("0123456789abcdef", min_size=32, max_size=32)),
        "tag": str(draw(st.sampled_from(list(EventTag)))),
        "tenant": draw(ids),
        "envelope": envelope,
        "seq": None if envelope is None else draw(st.integers(0, 10**6)),
        "prev": None if envelope is None else draw(st.none() | hex64),
        "time": "2024-05-01T12:00:00.123456Z",
        "actor": draw(st.sampled_from(["system", "client:c1", "recipient:r1", "operator:o"])),
        "data": draw(event_data),
    }


@settings(max_examples=500, deadline=None)
@given(events())
def test_audit_events_take_the_fast_path(event: dict[str, Any]) -> None:
    assert fast_canonical._plain(event)
    assert canonicalize_fast(event) == rfc8785.dumps(event)


@pytest.mark.parametrize(
    "value",
    [
        # Code-point order and UTF-16 order disagree here: U+E000 < U+10000 by code point,
        # but 0xE000 > 0xD800 (the lead surrogate of U+10000) in UTF-16.
        {"\ue000": 1, "\U00010000": 2},
        {"a\U0001f600": 1, "a\uffff": 2, "a": 3},
        {"\x7f\u2028\x00\x1f": '\x7f\u2028\x00\x1f"\\/'},
        [1e21, 1e-7, -0.0, 0.1, 2.0**53, 1.0],
        [2**53 - 1, -(2**53) + 1],
        {"tag": EventTag.OTP_FAILED, "n": True},
    ],
)
def test_edge_cases_match(value: object) -> None:
    assert canonicalize_fast(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [2**53, [-(2**53)], {"x": float("nan")}, {1: "a"}, "\ud800", {"\udfff": 1}, {b"k": 1}, {1, 2}],
)
def test_refuses_what_the_reference_refuses(value: object) -> None:
    assert reference(value) is None
    with pytest.raises(ValidationError):
        canonicalize_fast(value)


@pytest.mark.parametrize("name", ["arrays", "french", "structures", "unicode", "values", "weird"])
def test_published_vectors(name: str) -> None:
    source = json.loads((VECTORS / "input" / f"{name}.json").read_bytes())
    assert canonicalize_fast(source) == (VECTORS / "output" / f"{name}.json").read_bytes()


# -- the canonical check (parse_canonical's fast path) ------------------------------------


def _reference_parse(data: bytes) -> tuple[str, Any]:
    """parse_canonical as it was, through the reference only: ("ok", value) or ("refused",)."""
    try:
        value = json.loads(
            data.decode("utf-8"), parse_constant=_refuse_constant, parse_int=_parse_int
        )
        if rfc8785.dumps(value) == data:
            return "ok", value
    except (ValueError, *REFUSED):
        pass
    return "refused", None


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _parse_int(text: str) -> int | float:
    value = int(text)
    return value if abs(value) <= 2**53 - 1 else float(value)


def _fast_parse(data: bytes) -> tuple[str, Any]:
    try:
        return "ok", parse_canonical(data)
    except ValidationError:
        return "refused", None


def _typed(value: Any) -> Any:
    """``value`` with its types spelled out: 1, 1.0 and True compare equal in Python."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def assert_same_verdict(data: bytes) -> None:
    fast_verdict, reference_verdict = _fast_parse(data), _reference_parse(data)
    assert fast_verdict[0] == reference_verdict[0], data
    assert _typed(fast_verdict[1]) == _typed(reference_verdict[1]), data


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def _renderings(value: Any) -> list[bytes]:
    """The canonical bytes of ``value`` and other spellings of it, if it has any."""
    out = []
    canonical = reference(value)
    if canonical is not None:
        out.append(canonical)
    for options in (
        {"separators": (",", ":"), "ensure_ascii": False, "sort_keys": True},
        {"separators": (",", ":"), "ensure_ascii": False},
        {"separators": (",", ":"), "ensure_ascii": True, "sort_keys": True},
        {"sort_keys": True},
        {"indent": 1, "sort_keys": True, "ensure_ascii": False},
    ):
        with contextlib.suppress(ValueError):  # NaN, or integers too long to print
            out.append(json.dumps(value, **options).encode("utf-8", "surrogatepass"))  # type: ignore[arg-type]
    return out


@settings(max_examples=1000, deadline=None)
@given(json_values, st.data())
def test_the_canonical_check_decides_as_the_reference(value: Any, data: st.DataObject) -> None:
    for text in _renderings(value):
        assert_same_verdict(text)
        if text:
            # And a changed spelling: a byte inserted, dropped or changed.
            pos = data.draw(st.integers(0, len(text) - 1))
            byte = data.draw(st.sampled_from(b' ,:"\\{}[]0123456789-eE.tfnu\x00\x7f\xc3\xf0'))
            assert_same_verdict(text[:pos] + bytes([byte]) + text[pos:])
            assert_same_verdict(text[:pos] + text[pos + 1 :])
            assert_same_verdict(text[:pos] + bytes([byte]) + text[pos + 1 :])


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40))
def test_the_canonical_check_decides_any_bytes_as_the_reference(data: bytes) -> None:
    assert_same_verdict(data)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":1,"a":1}',
        b'{"a":{"b":1,"b":2}}',
        b'[{"b":1,"a":2}]',
        b'{"a":1} ',
        b' {"a":1}',
        b'{"a":1}\n',
        b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
        '{"a":1}'.encode("utf-16"),
        b'"\\u001F"',  # upper-case hex
        b'"\\u001f"',
        b'"\\u0041"',
        b'"\\/"',
        b'"\\t"',
        b'"\\u0009"',
        b'"\t"',
        b'"\x7f\xe2\x80\xa8"',
        b'"\\ud800"',  # a lone surrogate
        b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8
        b'"\\ud83d\\ude00"',  # an escaped pair: canonical is the raw character
        b'"\xf0\x9f\x98\x80"',
        b'{"\xf0\x9f\x98\x80":1,"\xee\x80\x80":2}',  # UTF-16 order: U+1F600 < U+E000
        b'{"\xee\x80\x80":2,"\xf0\x9f\x98\x80":1}',
        b'{"\\ud83d\\ude00":1,"a":2}',
        b"9007199254740991",
        b"9007199254740992",
        b"9007199254740993",
        b"-9007199254740992",
        b"-0",
        b"0",
        b"01",
        b"1.0",
        b"1e2",
        b"100",
        b"1e+21",
        b"1e21",
        b"0.1",
        b"NaN",
        b"[-Infinity]",
        b"true",
        b"True",
        b"null",
        b"",
        b"[]",
        b"{}",
        b"[1,]",
        b'{"a":1,}',
    ],
)
def test_the_canonical_check_on_edge_cases(text: bytes) -> None:
    assert_same_verdict(text)


def test_audit_event_lines_take_the_fast_check() -> None:
    line = b'{"event":{"a":[1,true,null,"x\\n"],"b":"\xc3\xa9"},"index":7}'
    assert fast_canonical.parse_plain(line) == (True, parse_canonical(line))
    assert fast_canonical.parse_plain(b'{"b":1,"a":2}') == (False, None)
    assert fast_canonical.parse_plain(b"1.0") is None  # floats: the reference decides


@pytest.mark.parametrize("function", [canonicalize, canonicalize_fast])
def test_canonicalize_is_the_fast_path(function: Any) -> None:
    event = {"v": 1, "data": {"k": ["é", None, 2**53 - 1]}}
    assert function(event) == rfc8785.dumps(event)
    assert fast_canonical.encode_plain(event) == rfc8785.dumps(event)
    assert fast_canonical.encode_plain({"x": 0.5}) is None
    assert canonicalize_reference({"x": 0.5}) == canonicalize({"x": 0.5}) == b'{"x":0.5}'
