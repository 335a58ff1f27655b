"""Hashing of long-lived credentials (client secrets) with scrypt, a memory-hard KDF, and
short random tokens whose SHA-256 is all we store."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """For high-entropy random tokens a plain SHA-256 is enough; it lets us look them up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.urlsafe_b64decode(salt_b64)
        expected = base64.urlsafe_b64decode(digest_b64)
        got = hashlib.scrypt(
            secret.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):  # hashlib.scrypt raises TypeError for n, r or p < 0
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def dummy_hash() -> str:
    """A valid hash to check against when the client id is unknown, so that unknown and
    known-but-wrong clients take the same time (no enumeration oracle)."""
    return hash_secret("sealwright-dummy-secret")
