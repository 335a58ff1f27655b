"""RFC 8785 (JCS) canonical JSON: the one byte form of every signed or hashed record.

Two functions: ``canonicalize`` turns JSON-compatible Python data into canonical bytes;
``parse_canonical`` is its strict inverse for verifiers, which must refuse any byte
string that is not already canonical (otherwise two different files could carry the
same hash input, and a single changed byte might go unnoticed).

Both first try the fast paths of :mod:`sealwright.ledger.fast_canonical` (orjson's round
trip, which can only accept, then the C ``json`` encoder and decoder, for the values where
they provably give the reference's bytes and decisions: every audit event) and otherwise
use the reference implementation, the ``rfc8785`` package (:func:`canonicalize_reference`),
which the tests check the fast paths against.
"""

from __future__ import annotations

import json
from typing import Any, cast

import rfc8785

from sealwright.errors import ValidationError
from sealwright.ledger.fast_canonical import encode_plain, parse_plain

__all__ = ["canonicalize", "canonicalize_reference", "parse_canonical"]


def canonicalize(obj: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``obj``.

    ``obj`` may hold dicts with ``str`` keys, lists/tuples, ``str``, ``int`` (within
    I-JSON's +-(2**53 - 1)), finite ``float``, ``bool`` and ``None``. Anything else
    raises :class:`ValidationError`, because a record we cannot canonicalize is a record
    nobody can verify later.
    """
    data = encode_plain(obj)
    return data if data is not None else canonicalize_reference(obj)


def canonicalize_reference(obj: object) -> bytes:
    """:func:`canonicalize` through the reference implementation only (slow)."""
    try:
        # The library's own type is narrower than ``object``; it checks at run time.
        return rfc8785.dumps(cast(Any, obj))
    except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeError) as exc:
        raise ValidationError(f"cannot canonicalize: {exc}") from exc


def _no_constants(name: str) -> Any:
    # json.loads accepts NaN/Infinity by default; JSON (and JCS) does not.
    raise ValueError(f"non-JSON constant {name}")


_MAX_SAFE_INTEGER = 2**53 - 1
_NOT_CANONICAL = "JSON is valid but not in RFC 8785 canonical form"


def _parse_int(text: str) -> int | float:
    # JSON numbers are IEEE doubles (I-JSON, RFC 8785 §3.2.2.3): a float such as 2.0**53
    # canonicalizes to "9007199254740992", which must read back as that same double.
    value = int(text)
    return value if abs(value) <= _MAX_SAFE_INTEGER else float(value)


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` as JSON and require that it is exactly its own canonical form.

    Raises :class:`ValidationError` for invalid UTF-8, invalid JSON, duplicate keys
    (re-serialisation would lose one, so the bytes differ) or any non-canonical
    spelling (whitespace, key order, escapes, number format).
    """
    decided = parse_plain(data)
    if decided is not None:
        canonical, value = decided
        if not canonical:
            raise ValidationError(_NOT_CANONICAL)
        return value
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constants, parse_int=_parse_int)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"not valid JSON: {exc}") from exc
    if canonicalize_reference(value) != data:
        raise ValidationError(_NOT_CANONICAL)
    return value
