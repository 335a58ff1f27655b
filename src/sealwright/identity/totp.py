"""TOTP (RFC 6238) second factor: enrolment material and single-use code checks.

Parameters are the ones every authenticator app understands without extra URI fields:
HMAC-SHA-1, 30-second steps, 6 digits, counted from the Unix epoch. A code is accepted
within ``window`` steps either side of the server's clock (default one: 90 s of tolerance
for a phone whose clock drifts or a user who types slowly), and never twice: the caller
stores the step returned by ``verify`` and passes it back as ``last_step``, so a code seen
once -- and every code older than it -- is refused (RFC 6238 §5.2).

Pure: time is a parameter and randomness is injected. The secret is the key itself (the
HMAC needs it in clear), so callers store it encrypted, never hashed, and never log it,
the URI or the QR code that carry it. Malformed codes give ``None`` like wrong ones: the
caller turns every ``None`` into the one opaque AuthenticationFailed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyotp
import segno

from sealwright.clock import Random, SystemRandom

STEP_SECONDS = 30
DIGITS = 6
DEFAULT_WINDOW = 1
#: A wider window only widens what a phished or shoulder-surfed code is good for.
MAX_WINDOW = 10
#: 160 bits: RFC 4226 §4 requires at least 128 and recommends 160 (the SHA-1 output size).
SECRET_BYTES = 20

# Indirection so the tests can count comparisons (every candidate step is compared).
_equal: Callable[[bytes, bytes], bool] = hmac.compare_digest


def new_secret(*, random: Random | None = None) -> str:
    """A fresh shared secret: 20 random bytes in unpadded base32 (32 characters)."""
    raw = (random or SystemRandom()).token_bytes(SECRET_BYTES)
    if len(raw) != SECRET_BYTES:
        raise ValueError("the random source returned the wrong number of bytes")
    return base64.b32encode(raw).decode("ascii")


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://totp/Issuer:account?secret=...&issuer=...`` URI that authenticator
    apps scan (Google's Key URI format; defaults for algorithm, digits and period are left
    out, which every app reads as SHA-1 / 6 / 30 s)."""
    for name, value in (("account", account), ("issuer", issuer)):
        # The label is "issuer:account": a colon in either would make it ambiguous.
        if not value or ":" in value or not value.isprintable():
            raise ValueError(f"{name} must be non-empty, printable and contain no colon")
    return _totp(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str, *, scale: int = 4) -> str:
    """The URI as an inline SVG QR code (no XML declaration, embeddable in HTML). It holds
    the secret: serve it with ``Cache-Control: no-store`` and only on the enrolment page."""
    if not uri.startswith("otpauth://"):
        raise ValueError("not an otpauth URI")
    # Level M survives a smudged screen or a photo of it; the URI fits easily.
    return segno.make_qr(uri, error="m").svg_inline(scale=scale, title="TOTP enrolment")


def current_step(now: datetime) -> int:
    """The RFC 6238 time step ``T`` that ``now`` falls in."""
    if now.tzinfo is None:
        # A naive datetime would be read as local time somewhere: refuse rather than guess.
        raise ValueError("now must be an aware datetime")
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The 6-digit code of ``step`` (for tests and for diagnosing clock drift)."""
    return _totp(secret).generate_otp(step)


def verify(
    secret: str,
    code: str,
    *,
    now: datetime,
    last_step: int | None,
    window: int = DEFAULT_WINDOW,
) -> int | None:
    """The time step ``code`` matched, or None.

    A step at or before ``last_step`` is refused, so a code is single use. ``code`` must be
    exactly six ASCII digits (no spaces, no full-width digits): anything else is None, never
    an exception. Every candidate step is computed and compared in constant time whatever
    the input, so timing says nothing about which step (if any) matched.
    """
    return _verify(
        secret, code, now=now, last_step=last_step, window=window, digits=DIGITS, digest=None
    )


def _verify(
    secret: str,
    code: object,
    *,
    now: datetime,
    last_step: int | None,
    window: int,
    digits: int,
    digest: Any,
) -> int | None:
    """``verify`` with the RFC 6238 variants (8 digits, SHA-256/512) the vectors need."""
    if not 0 <= window <= MAX_WINDOW:
        raise ValueError(f"window must be between 0 and {MAX_WINDOW}")
    totp = _totp(secret, digits=digits, digest=digest)
    well_formed = (
        isinstance(code, str) and len(code) == digits and code.isascii() and code.isdigit()
    )
    # A malformed code is still compared (against a placeholder that can never match a
    # well-formed answer) so that it costs what a wrong code costs.
    candidate = code.encode("ascii") if well_formed and isinstance(code, str) else b"x" * digits
    centre = current_step(now)
    matched: int | None = None
    for step in range(centre - window, centre + window + 1):
        if step < 0:
            continue
        expected = totp.generate_otp(step).encode("ascii")
        fresh = last_step is None or step > last_step
        if _equal(expected, candidate) & fresh:
            matched = step
    return matched if well_formed else None


def _totp(secret: str, *, digits: int = DIGITS, digest: Any = None) -> pyotp.TOTP:
    try:
        return pyotp.TOTP(
            secret, digits=digits, digest=digest or hashlib.sha1, interval=STEP_SECONDS
        )
    except (ValueError, TypeError) as exc:
        # Never echo the secret: it is the key.
        raise ValueError("malformed TOTP secret") from exc
