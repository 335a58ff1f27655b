"""The orjson pre-accept of the canonical check (``fast_canonical.accept_orjson``) accepts
only what the reference check accepts, with the very value (types included) that the
reference reads; and it does accept the canonical texts audit events are made of."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from unittest import mock

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.errors import ValidationError
from sealwright.ledger import fast_canonical
from sealwright.ledger.canonical import parse_canonical
from sealwright.ledger.fast_canonical import accept_orjson

REFUSED = (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeError)
SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _parse_int(text: str) -> int | float:
    value = int(text)
    return value if abs(value) <= 2**53 - 1 else float(value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def reference_verdict(data: bytes) -> tuple[str, Any]:
    """The canonical check through the standard json module and rfc8785 only."""
    try:
        value = json.loads(
            data.decode("utf-8"), parse_constant=_refuse_constant, parse_int=_parse_int
        )
        if rfc8785.dumps(value) == data:
            return "ok", value
    except (ValueError, *REFUSED):
        pass
    return "refused", None


def typed(value: Any) -> Any:
    """``value`` with its types spelled out (1, 1.0 and True compare equal in Python)."""
    if isinstance(value, dict):
        return (type(value).__name__, [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__name__, value)


def assert_accepts_only_as_the_reference(data: bytes) -> bool:
    accepted = accept_orjson(data)
    if accepted is None:
        return False
    verdict, value = reference_verdict(data)
    assert verdict == "ok", data
    assert typed(accepted[0]) == typed(value), data
    return True


any_char = st.characters(exclude_categories=())
tricky_char = st.sampled_from(
    ["\x00", "\x1f", "\b", "\f", "\n", "\r", "\t", '"', "\\", "/", "\x7f", "\u2028", "\u2029",
     "\ud800", "\udfff", "\ue000", "\uffff", "\U00010000", "\U0001f600", "é", "a", "A", "0",
     ".", "e", ":"]
)  # fmt: skip
texts = st.text(st.one_of(any_char, tricky_char), max_size=10)
numbers = st.one_of(
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.integers(),
    st.sampled_from([2**53 - 1, 2**53, 2**64, -(2**53) + 1, -(2**53), -(2**63) - 1, 0]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.0, 0.5, 1.0, 1e16, 1e21, 1e-7, 2.0**53, 5e-324]),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def renderings(value: Any) -> list[bytes]:
    """The canonical bytes of ``value``, orjson's and json's spellings of it."""
    out = []
    with contextlib.suppress(*REFUSED):
        out.append(rfc8785.dumps(value))
    for option in (SORTED, orjson.OPT_SORT_KEYS, 0):
        with contextlib.suppress(orjson.JSONEncodeError):
            out.append(orjson.dumps(value, option=option))
    for options in (
        {"separators": (",", ":"), "ensure_ascii": False, "sort_keys": True},
        {"separators": (",", ":"), "ensure_ascii": True, "sort_keys": True},
        {"indent": 1, "sort_keys": True, "ensure_ascii": False},
    ):
        with contextlib.suppress(ValueError):  # integers too long to print
            out.append(json.dumps(value, **options).encode("utf-8", "surrogatepass"))  # type: ignore[arg-type]
    return out


MUTATIONS = b' ,:"\\{}[]0123456789-eE.tfnu\x00\x7f\xc3\xe2\xf0'


@settings(max_examples=1500, deadline=None)
@given(json_values, st.data())
def test_accepts_only_what_the_reference_accepts(value: Any, data: st.DataObject) -> None:
    for text in renderings(value):
        assert_accepts_only_as_the_reference(text)
        if text:
            pos = data.draw(st.integers(0, len(text) - 1))
            byte = bytes([data.draw(st.sampled_from(MUTATIONS))])
            assert_accepts_only_as_the_reference(text[:pos] + byte + text[pos:])
            assert_accepts_only_as_the_reference(text[:pos] + text[pos + 1 :])
            assert_accepts_only_as_the_reference(text[:pos] + byte + text[pos + 1 :])


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=40) | st.binary(max_size=40).map(lambda b: b'{"a":"' + b + b'"}'))
def test_accepts_no_bytes_the_reference_refuses(data: bytes) -> None:
    assert_accepts_only_as_the_reference(data)


# Values that RFC 8785 writes without an escape, a float or a character beyond the BMP:
# what audit events are made of. The pre-accept must take all of them.
plain_char = st.characters(
    max_codepoint=0xFFFF, exclude_categories=["Cs", "Cc"], exclude_characters='"\\'
) | st.sampled_from(["\x7f", "\u2028", "\u2029", "\ue000", "\uffff", "é", "/"])
plain_texts = st.text(plain_char, max_size=10)
plain_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | plain_texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plain_texts, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=1500, deadline=None)
@given(plain_values)
def test_accepts_every_plain_canonical_text(value: Any) -> None:
    canonical = rfc8785.dumps(value)
    assert assert_accepts_only_as_the_reference(canonical), canonical


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"])),
                       st.integers(0, 9), min_size=2, max_size=8))  # fmt: skip
def test_orjson_sorts_members_by_code_point_which_is_utf16_order_in_the_bmp(
    members: dict[str, int],
) -> None:
    written = list(orjson.loads(orjson.dumps(members, option=SORTED)))
    assert written == sorted(members)  # Python orders str by code point
    assert written == sorted(members, key=lambda k: k.encode("utf-16-be"))
    assert written == list(json.loads(rfc8785.dumps(members)))


order_chars = st.sampled_from(
    ["a", "\x7f", "\u00e9", "\ud7ff", "\ue000", "\uffff", "\U00010000", "\U0001f600"]
)
nested_members = st.recursive(
    st.integers(0, 9),
    lambda inner: st.dictionaries(st.text(order_chars, max_size=3), inner, max_size=4),
    max_leaves=8,
)


@settings(max_examples=1000, deadline=None)
@given(nested_members)
def test_member_order_beyond_the_bmp_is_left_to_the_reference(members: Any) -> None:
    for text in renderings(members):
        assert_accepts_only_as_the_reference(text)


def test_beyond_the_bmp_the_orders_differ_so_such_text_is_left_to_the_reference() -> None:
    members = {"\ue000": 1, "\U00010000": 2}
    assert orjson.dumps(members, option=SORTED) != rfc8785.dumps(members)
    assert accept_orjson(orjson.dumps(members, option=SORTED)) is None
    assert accept_orjson(rfc8785.dumps(members)) is None  # 4-byte UTF-8: not decided here


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"null", None),
        (b"[]", []),
        (b"{}", {}),
        (b"[true,false,null,0,-1]", [True, False, None, 0, -1]),
        (b"9007199254740991", 2**53 - 1),
        (b"-9007199254740991", -(2**53) + 1),
        (b'"\x7f\xe2\x80\xa8\xe2\x80\xa9/"', "\x7f\u2028\u2029/"),
        (b'{"":0,"a":{"b":[1,"x"]},"\xc3\xa9":2,"\xee\x80\x80":3}',
         {"": 0, "a": {"b": [1, "x"]}, "é": 2, "\ue000": 3}),
    ],
)  # fmt: skip
def test_accepted(text: bytes, value: Any) -> None:
    assert assert_accepts_only_as_the_reference(text)
    accepted = accept_orjson(text)
    assert accepted is not None
    assert typed(accepted[0]) == typed(value)


@pytest.mark.parametrize(
    "text",
    [
        b"9007199254740992",  # the reference reads it as a float (canonical!)
        b"-9007199254740992",
        b"18446744073709551616",
        b"0.5",  # canonical floats: the reference's
        b"1e+21",
        b"[1e+16]",
        b"-0",
        b"01",
        b'{"a":1,"a":1}',  # duplicates collapse
        b'{"b":1,"a":2}',
        b'{"a":1} ',
        b"\xef\xbb\xbf{}",
        b'"\\n"',  # escapes, even canonical ones
        b'"\\u001f"',
        b'"\\/"',
        b'"\xf0\x9f\x98\x80"',  # beyond the BMP
        b'"\xed\xa0\x80"',
        b'"\x01"',
        b"NaN",
        b"[1,]",
        b"",
        b"[" * 300 + b"]" * 300,  # deeper than orjson writes
    ],
)
def test_not_accepted(text: bytes) -> None:
    assert accept_orjson(text) is None


def test_an_events_jsonl_line_is_accepted() -> None:
    event = {
        "v": 1,
        "id": "0" * 32,
        "tag": "signer:otp:passed",
        "tenant": "t1",
        "envelope": "e1",
        "seq": 3,
        "prev": "ab" * 32,
        "time": "2024-05-01T12:00:05.000015Z",  # ":05." is no number
        "actor": "recipient:r1",
        "data": {"attempt": 1, "ok": True, "note": None, "name": "Zoë"},
    }
    line = rfc8785.dumps({"event": event, "index": 3})
    accepted = accept_orjson(line)
    assert accepted is not None
    assert typed(accepted[0]) == typed(json.loads(line))


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_without_it_the_canonical_check_still_decides_as_the_reference(value: Any) -> None:
    """The C json round trip behind it, on its own: what it does not accept goes there."""
    with mock.patch.object(fast_canonical, "accept_orjson", return_value=None):
        for text in renderings(value):
            try:
                verdict: tuple[str, Any] = ("ok", parse_canonical(text))
            except ValidationError:
                verdict = ("refused", None)
            expected = reference_verdict(text)
            assert verdict[0] == expected[0], text
            assert typed(verdict[1]) == typed(expected[1]), text
