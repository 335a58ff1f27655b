"""Client secrets hashed with scrypt; random tokens stored as SHA-256 digests."""

from __future__ import annotations

import base64
import hashlib

import pytest

from sealwright.identity.secrets import (
    dummy_hash,
    hash_secret,
    new_token,
    token_digest,
    verify_secret,
)


@pytest.fixture(scope="module")
def stored() -> str:
    # scrypt is deliberately slow: hash once for the module.
    return hash_secret("correct horse battery staple")


def test_round_trip(stored: str) -> None:
    assert verify_secret("correct horse battery staple", stored) is True


@pytest.mark.parametrize(
    "wrong",
    [
        "",
        "correct horse battery stapl",
        "correct horse battery staple ",
        "Correct horse battery staple",
    ],
)
def test_wrong_secret_is_refused(stored: str, wrong: str) -> None:
    assert verify_secret(wrong, stored) is False


def test_hash_format(stored: str) -> None:
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(base64.urlsafe_b64decode(salt)) == 16
    assert len(base64.urlsafe_b64decode(digest)) == 32
    assert "correct" not in stored


def test_hash_matches_an_independent_scrypt(stored: str) -> None:
    _, n, r, p, salt, digest = stored.split("$")
    expected = hashlib.scrypt(
        b"correct horse battery staple",
        salt=base64.urlsafe_b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    assert base64.urlsafe_b64decode(digest) == expected


def test_same_secret_hashes_differently_each_time() -> None:
    a, b = hash_secret("s3cret"), hash_secret("s3cret")
    assert a != b  # fresh salt
    assert verify_secret("s3cret", a)
    assert verify_secret("s3cret", b)


def test_non_ascii_secret_round_trips() -> None:
    assert verify_secret("pässwörd-🔑", hash_secret("pässwörd-🔑"))
    assert not verify_secret("passwörd-🔑", hash_secret("pässwörd-🔑"))


def test_parameters_are_read_from_the_stored_hash() -> None:
    # A hash made with other (cheaper) parameters still verifies: cost can be raised later
    # without invalidating existing secrets.
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"s", salt=salt, n=2**10, r=8, p=1, dklen=32)
    b64 = base64.urlsafe_b64encode
    stored = f"scrypt${2**10}$8$1${b64(salt).decode()}${b64(digest).decode()}"
    assert verify_secret("s", stored)
    assert not verify_secret("t", stored)


def test_tampered_digest_is_refused(stored: str) -> None:
    head, digest = stored.rsplit("$", 1)
    raw = bytearray(base64.urlsafe_b64decode(digest))
    raw[-1] ^= 1  # the last byte: a comparison of a prefix would miss it
    assert not verify_secret(
        "correct horse battery staple", f"{head}${base64.urlsafe_b64encode(bytes(raw)).decode()}"
    )


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "plaintext",
        "scrypt",
        "scrypt$16384$8$1$c2FsdA==",  # too few fields
        "scrypt$16384$8$1$c2FsdA==$ZGlnZXN0$extra",  # too many fields
        "bcrypt$16384$8$1$c2FsdHNhbHRzYWx0c2E=$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk=",
        "scrypt$abc$8$1$c2FsdA==$ZGlnZXN0",  # non-numeric n
        "scrypt$16384$x$1$c2FsdA==$ZGlnZXN0",  # non-numeric r
        "scrypt$15$8$1$c2FsdA==$ZGlnZXN0",  # n not a power of two
        "scrypt$16384$8$1$not*base64$ZGlnZXN0",
        "scrypt$16384$8$1$c2FsdA==$not*base64",
        "scrypt$16384$8$1$c2FsdA==$",  # empty digest
        # hashlib.scrypt raises TypeError, not ValueError, for these:
        "scrypt$-1$8$1$c2FsdA==$ZGlnZXN0",
        "scrypt$16384$-8$1$c2FsdA==$ZGlnZXN0",
        "scrypt$16384$8$-1$c2FsdA==$ZGlnZXN0",
        "scrypt$99999999999999999999999$8$1$c2FsdA==$ZGlnZXN0",
        "scrypt$16384$0$1$c2FsdA==$ZGlnZXN0",
        "scrypt$16384$8$1$c2FsdA==$é",  # non-ASCII base64
    ],
)
def test_malformed_stored_hash_returns_false(malformed: str) -> None:
    assert verify_secret("anything", malformed) is False


def test_dummy_hash_is_a_valid_hash_of_nothing_guessable() -> None:
    dummy = dummy_hash()
    assert dummy.startswith("scrypt$")
    assert dummy_hash() is dummy  # computed once
    # It is a real, verifiable hash (so checking against it costs a full scrypt) ...
    assert verify_secret("sealwright-dummy-secret", dummy)
    # ... that an empty or typical secret does not match.
    assert not verify_secret("", dummy)
    assert not verify_secret("secret", dummy)


def test_new_token_is_random_and_urlsafe() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(token) == 43  # 32 bytes, base64url without padding
        assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(new_token(16)) == 22


def test_token_digest_is_hex_sha256() -> None:
    assert token_digest("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert token_digest("abc") != token_digest("abd")
