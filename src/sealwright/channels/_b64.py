"""Unpadded base64url (RFC 7515 section 2), strict on decode: the same rules as
evidence/manifest_jws.py, kept here so the channel modules do not import the evidence
package (whose verifier imports them)."""

from __future__ import annotations

import base64
import binascii

__all__ = ["b64url_decode", "b64url_encode"]


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Raises :class:`ValueError` for anything but the one canonical spelling."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64url") from exc
    if b64url_encode(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw
