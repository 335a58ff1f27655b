"""Base45 (RFC 9285), the encoding QR codes' alphanumeric mode carries most compactly.

Hand-written: it is twenty lines, and the PyPI packages for it are small unmaintained
one-author projects; RFC 9285's own examples are the test vectors
(tests/vectors/rfc9285/). Decoding is strict: characters outside the alphabet, a dangling
single character, and groups whose value does not fit (e.g. ``GGW`` = 65535 + 1) are errors.
"""

from __future__ import annotations

__all__ = ["b45decode", "b45encode"]

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        e, n = divmod(n, 45 * 45)
        d, c = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Raises :class:`ValueError` for anything that is not canonical base45."""
    try:
        values = [_VALUE[c] for c in text]
    except KeyError as exc:
        raise ValueError("invalid base45 character") from exc
    if len(values) % 3 == 1:
        raise ValueError("invalid base45 length")
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        n = sum(v * 45**k for k, v in enumerate(group))
        if len(group) == 3:
            if n > 0xFFFF:
                raise ValueError("base45 group out of range")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise ValueError("base45 group out of range")
            out.append(n)
    return bytes(out)
