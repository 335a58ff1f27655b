"""Fast paths to exactly the bytes and decisions of the RFC 8785 reference implementation.

:mod:`sealwright.ledger.canonical` uses these and falls back to the reference (the
``rfc8785`` package, pure Python, tens of microseconds per ledger event) wherever they do
not apply. Tests compare both paths with the reference on hypothesis-generated values.

**Writing** (:func:`encode_plain`). For the values audit events are made of, the
C-accelerated ``json`` encoder already writes RFC 8785:

- ``null``, ``true``, ``false`` and integers are spelled the same (integers must lie
  within I-JSON's +-(2**53 - 1));
- strings are written as UTF-8 with exactly the escapes RFC 8785 §3.2.2.2 requires:
  ``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t`` and ``\\u00xx`` (lowercase hex) for the
  other control characters; everything else, DEL and U+2028/9 included, is written as is;
- ``sort_keys`` orders members by code point, which is the UTF-16 code-unit order that
  RFC 8785 §3.2.3 asks for unless a key holds a character beyond U+FFFF.

What the encoder would get wrong is left to the reference: floats (ECMAScript number
formatting), integers outside the safe range (an error there), keys beyond the BMP, lone
surrogates, and every type that is not exactly ``dict``, ``list``, ``tuple``, ``str``,
``int``, ``bool`` or ``None`` (subclasses such as enums, which the reference coerces its
own way, and anything unsupported, which it refuses).

**Checking** (:func:`parse_plain`). Bytes are canonical if and only if they are the
canonical form of the value they parse to. First :func:`accept_orjson` (below) tries to
accept them outright; failing that, the C decoder parses and the value is "plain" as
above when the text holds no float, no constant (``NaN``...), no integer beyond the safe
range (the number hooks below see every number, and only numbers) and no character
beyond the BMP. The last is checked on the bytes: without a UTF-8 lead byte 0xF0-0xF4 the
text holds none, so a value that does can only have it from a ``\\ud83d\\ude00``-style
escape; both encoders write the character itself instead, so neither output equals the
input and both refuse it. Everything else -- lone surrogates, invalid UTF-8 or JSON (so
that the reference words the error) -- goes to the reference.

**Accepting at once** (:func:`accept_orjson`, about four times faster than the C ``json``
round trip: orjson parses and writes in Rust). It only ever *accepts*; whatever it does
not accept takes the paths above, so every refusal is still theirs. Bytes are accepted
when ``orjson.loads`` reads them, ``orjson.dumps`` writes exactly them back (members
sorted, integers within +-(2**53 - 1), else it raises), and:

- no byte is a backslash: so no string of the value holds ``"``, ``\\`` or a control
  character (which any JSON writer must escape), and each was written raw -- as RFC 8785
  writes such a string (DEL and U+2028/9 included);
- no byte is 0xF0-0xF4, the lead bytes of 4-byte UTF-8 (orjson read the bytes, so they
  are valid UTF-8): all text is in the BMP, where orjson's member order (UTF-8 bytes,
  i.e. code points) is RFC 8785's UTF-16 code-unit order;
- the value holds no ``float`` (orjson spells some differently from ECMAScript, e.g.
  ``1e+16``; floats are the reference's). This is checked on the parsed value: cheaper,
  and simpler to get right, than telling number tokens from strings such as
  ``"12:00:05.000015Z"`` in the bytes.

Such bytes are a compact JSON text of ``null``/``true``/``false``, safe integers and raw
BMP strings in sorted members, without duplicates (they came from a ``dict``): exactly
what RFC 8785 writes for the value the standard ``json`` module reads from them, which
is that same value (the same ``dict``/``list``/``str``/``int``/``bool``/``None``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["accept_orjson", "canonicalize_fast", "encode_plain", "parse_plain"]

_MAX_SAFE_INTEGER = 2**53 - 1
_BMP_MAX = "\uffff"
_BEYOND_BMP_UTF8 = re.compile(b"[\xf0-\xff]")  # lead bytes of 4-byte sequences (and invalid)

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    sort_keys=True,
    allow_nan=False,
    check_circular=False,
)


def _direct_encoder() -> Callable[[object], str]:
    """``_ENCODER.encode``, minus the Python layers around the C encoder that it rebuilds
    on every call (a microsecond per event); ``_ENCODER.encode`` itself without the C
    accelerator. Same arguments as ``JSONEncoder.iterencode`` passes."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    e = _ENCODER
    encoder = make(
        None,  # markers: check_circular=False
        e.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        e.key_separator,
        e.item_separator,
        e.sort_keys,
        e.skipkeys,
        e.allow_nan,
    )
    return lambda obj: "".join(encoder(obj, 0))


_encode = _direct_encoder()


def encode_plain(obj: object) -> bytes | None:
    """The RFC 8785 bytes of ``obj`` if the C encoder provably writes them, else ``None``
    (then only the reference implementation can canonicalize or refuse ``obj``)."""
    if _plain(obj):
        try:
            return _encode(obj).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference implementation refuse it
    return None


def canonicalize_fast(obj: object) -> bytes:
    """``canonicalize(obj)``, byte for byte and error for error.

    Kept for callers from before :func:`~sealwright.ledger.canonical.canonicalize` took
    the fast path itself; the two now do the same."""
    data = encode_plain(obj)
    if data is not None:
        return data
    # Imported here, off the fast path: canonical imports this module.
    from sealwright.ledger.canonical import canonicalize_reference

    return canonicalize_reference(obj)


def _plain(obj: object) -> bool:
    """True if the json encoder writes ``obj`` exactly as RFC 8785 does.

    Scalar members are checked inline rather than by a call each: this runs for every
    ledger event, and the calls would cost about as much as the encoding."""
    if type(obj) is dict:
        for key, value in obj.items():
            if type(key) is not str or (not key.isascii() and max(key) > _BMP_MAX):
                return False
            kind = type(value)
            if kind is str or value is None or kind is bool:
                continue
            if type(value) is int:
                if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
                    continue
                return False
            if not _plain(value):
                return False
        return True
    if type(obj) is list or type(obj) is tuple:
        for item in obj:
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if type(item) is int:
                if -_MAX_SAFE_INTEGER <= item <= _MAX_SAFE_INTEGER:
                    continue
                return False
            if not _plain(item):
                return False
        return True
    if type(obj) is str or obj is None or type(obj) is bool:
        return True
    if type(obj) is int:
        return -_MAX_SAFE_INTEGER <= obj <= _MAX_SAFE_INTEGER
    return False


class _NotPlain(Exception):
    """Raised from the decoder's number hooks: only the reference can decide this text."""


def _safe_int(text: str) -> int:
    value = int(text)
    if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
        return value
    raise _NotPlain


def _not_plain(text: str) -> Any:
    raise _NotPlain


# Numbers go through the hooks; strings, objects, arrays and literals never do.
_DECODER = json.JSONDecoder(parse_int=_safe_int, parse_float=_not_plain, parse_constant=_not_plain)


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_ORJSON_ERRORS = (orjson.JSONDecodeError, orjson.JSONEncodeError)
_UTF8_4_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")  # of characters beyond U+FFFF


def accept_orjson(data: bytes) -> tuple[Any] | None:
    """``(value,)`` if ``data`` is provably the canonical form of ``value`` by the orjson
    round trip (module docstring); ``None`` decides nothing."""
    if b"\\" in data or (not data.isascii() and any(lead in data for lead in _UTF8_4_LEADS)):
        return None
    try:
        value = orjson.loads(data)
        if orjson.dumps(value, option=_ORJSON_OPTIONS) != data:
            return None
    except _ORJSON_ERRORS:  # not JSON, or an integer beyond the safe range, too deep...
        return None
    return (value,) if _no_float(value) else None


def _no_float(value: object) -> bool:
    """Whether a parsed JSON value holds no ``float`` (scalars inline: this runs per line)."""
    if type(value) is dict:
        items: Any = value.values()
    elif type(value) is list:
        items = value
    else:
        return type(value) is not float
    for item in items:
        kind = type(item)
        if kind is str or kind is int or item is None or kind is bool:
            continue
        if kind is float or not _no_float(item):
            return False
    return True


def parse_plain(data: bytes) -> tuple[bool, Any] | None:
    """Decide quickly whether ``data`` is canonical RFC 8785 JSON.

    ``(True, value)``: ``data`` is exactly the canonical form of ``value``, which is what
    a JSON parser reads from it. ``(False, None)``: valid JSON, but not in canonical form
    (whitespace, member order, duplicate members, escapes, number spelling). ``None``:
    only the reference can tell (see the module docstring) -- it is not a verdict.
    """
    accepted = accept_orjson(data)
    if accepted is not None:
        return True, accepted[0]
    if not data.isascii() and _BEYOND_BMP_UTF8.search(data):
        return None
    try:
        text = data.decode("utf-8")
        value, end = _DECODER.raw_decode(text)
        # Compared as text: UTF-8 maps text to bytes one to one.
        canonical = _encode(value)
    except (ValueError, _NotPlain):  # invalid UTF-8 or JSON, or a number for the reference
        return None
    if end != len(text):
        return None  # trailing text: invalid JSON, which the reference reports
    if canonical == text:
        return True, value
    try:
        canonical.encode("utf-8")
    except UnicodeEncodeError:
        return None  # a lone surrogate: the reference refuses it, in its own words
    # Duplicate members collapse into one on parsing, so they cannot be written back.
    return False, None
