"""SWE1 segmented envelope encryption: round trips, and every kind of tampering fails."""

from __future__ import annotations

import hashlib
import itertools
import random
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from sealwright.errors import DecryptionFailed
from sealwright.keys.aead import (
    SEGMENT_SIZE,
    decrypt_bytes,
    decrypt_stream,
    encrypt_bytes,
    encrypt_stream,
)
from sealwright.keys.keyring import Keyring, WrappedKey
from sealwright.keys.local_keyring import LocalKeyring

SEG = SEGMENT_SIZE
CSEG = SEGMENT_SIZE + 16
AAD = b"document:0f3c"


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyring:
    return LocalKeyring.open(tmp_path_factory.mktemp("aead") / "kek")


def _plaintext(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``data`` at the given offsets (taken modulo its length, any order)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _header_length(ciphertext: bytes) -> int:
    kek_len = ciphertext[5]
    wrapped_len = int.from_bytes(ciphertext[6 + kek_len : 8 + kek_len], "big")
    return 8 + kek_len + wrapped_len + 7


def _segments(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    n = _header_length(ciphertext)
    body = ciphertext[n:]
    return ciphertext[:n], [body[i : i + CSEG] for i in range(0, len(body), CSEG)]


def _fails(ciphertext: bytes, keyring: Keyring, aad: bytes = AAD) -> bool:
    try:
        decrypt_bytes(ciphertext, keyring=keyring, aad=aad)
    except DecryptionFailed:
        return True
    return False


EDGE_SIZES = [0, 1, 15, 16, SEG - 1, SEG, SEG + 1, 2 * SEG, 2 * SEG + 7, 3 * SEG]


@settings(max_examples=60, deadline=None)
@given(
    size=st.sampled_from(EDGE_SIZES) | st.integers(0, 3 * SEG + 100),
    seed=st.integers(0, 2**32),
    plain_cuts=st.lists(st.integers(0, 2**20), max_size=8),
    cipher_cuts=st.lists(st.integers(0, 2**20), max_size=8),
)
def test_round_trip_any_size_any_chunking(
    keyring: LocalKeyring, size: int, seed: int, plain_cuts: list[int], cipher_cuts: list[int]
) -> None:
    plaintext = _plaintext(size, seed)
    ciphertext = b"".join(encrypt_stream(_cut(plaintext, plain_cuts), keyring=keyring, aad=AAD))
    # Full segments except the last, which holds 0..SEG bytes: the length is predictable.
    segments = max(1, -(-size // SEG))
    assert len(ciphertext) == _header_length(ciphertext) + size + 16 * segments
    decrypted = list(decrypt_stream(_cut(ciphertext, cipher_cuts), keyring=keyring, aad=AAD))
    assert b"".join(decrypted) == plaintext
    assert all(len(piece) == SEG for piece in decrypted[:-1])


def test_every_single_byte_change_fails(keyring: LocalKeyring) -> None:
    # Two segments, the second short: header, both tags and the last-segment flag are covered.
    ciphertext = encrypt_bytes(_plaintext(SEG + 100), keyring=keyring, aad=AAD)
    for position in range(len(ciphertext)):
        damaged = bytearray(ciphertext)
        damaged[position] ^= 0x01
        assert _fails(bytes(damaged), keyring), f"flip at {position} went unnoticed"


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, 10**9), mask=st.integers(1, 255))
def test_any_byte_change_in_a_long_stream_fails(
    keyring: LocalKeyring, long_ciphertext: bytes, position: int, mask: int
) -> None:
    damaged = bytearray(long_ciphertext)
    damaged[position % len(damaged)] ^= mask
    assert _fails(bytes(damaged), keyring)


@pytest.fixture(scope="module")
def long_ciphertext(keyring: LocalKeyring) -> bytes:
    return encrypt_bytes(_plaintext(3 * SEG + 5), keyring=keyring, aad=AAD)


def test_every_truncation_fails(keyring: LocalKeyring, long_ciphertext: bytes) -> None:
    header, segments = _segments(long_ciphertext)
    boundaries = [len(header) + i * CSEG for i in range(len(segments))]
    # Every cut inside the header and around every segment boundary, plus a sweep.
    cuts = set(range(len(header) + 20)) | set(range(0, len(long_ciphertext), 997))
    for boundary in boundaries:
        cuts |= set(range(boundary - 17, boundary + 18))
    for cut in sorted(c for c in cuts if 0 <= c < len(long_ciphertext)):
        assert _fails(long_ciphertext[:cut], keyring), f"truncation to {cut} went unnoticed"


def test_stream_cut_at_a_segment_boundary_fails_at_the_end(
    keyring: LocalKeyring, long_ciphertext: bytes
) -> None:
    # The dangerous truncation: every remaining segment is intact, only the last is missing.
    header, segments = _segments(long_ciphertext)
    for keep in range(len(segments)):
        assert _fails(header + b"".join(segments[:keep]), keyring)


def test_swapped_dropped_duplicated_or_appended_segments_fail(
    keyring: LocalKeyring, long_ciphertext: bytes
) -> None:
    header, segments = _segments(long_ciphertext)
    assert len(segments) == 4
    for i in range(len(segments)):
        for j in range(len(segments)):
            if i != j:
                swapped = list(segments)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                assert _fails(header + b"".join(swapped), keyring), (i, j)
        dropped = segments[:i] + segments[i + 1 :]
        assert _fails(header + b"".join(dropped), keyring), i
        duplicated = segments[: i + 1] + segments[i:]
        assert _fails(header + b"".join(duplicated), keyring), i
    assert _fails(long_ciphertext + segments[0], keyring)
    assert _fails(long_ciphertext + b"\x00", keyring)


def test_segments_cannot_move_between_documents(keyring: LocalKeyring) -> None:
    plaintext = _plaintext(2 * SEG + 1)
    header_a, segments_a = _segments(encrypt_bytes(plaintext, keyring=keyring, aad=AAD))
    header_b, segments_b = _segments(encrypt_bytes(plaintext, keyring=keyring, aad=AAD))
    assert _fails(header_a + segments_b[0] + segments_a[1] + segments_a[2], keyring)
    assert _fails(header_b + b"".join(segments_a), keyring)


def test_wrong_aad_fails(keyring: LocalKeyring) -> None:
    ciphertext = encrypt_bytes(b"contract", keyring=keyring, aad=AAD)
    assert _fails(ciphertext, keyring, aad=b"document:other")
    assert _fails(ciphertext, keyring, aad=b"")


def test_garbage_and_foreign_keyring_fail(keyring: LocalKeyring, tmp_path: Path) -> None:
    for garbage in (b"", b"SWE", b"SWE1", b"SWE2" + bytes(200), b"%PDF-1.7\n" * 40):
        assert _fails(garbage, keyring)
    ciphertext = encrypt_bytes(b"contract", keyring=keyring, aad=AAD)
    assert _fails(ciphertext, LocalKeyring.open(tmp_path / "other"))


def test_no_plaintext_of_a_damaged_segment_is_released(
    keyring: LocalKeyring, long_ciphertext: bytes
) -> None:
    header, segments = _segments(long_ciphertext)
    damaged_segment = bytearray(segments[1])
    damaged_segment[10] ^= 0xFF
    stream = decrypt_stream(
        [header, segments[0], bytes(damaged_segment), *segments[2:]], keyring=keyring, aad=AAD
    )
    assert next(stream) == _plaintext(3 * SEG + 5)[:SEG]  # authenticated: released
    with pytest.raises(DecryptionFailed):
        next(stream)  # the damaged segment: nothing of it comes out


def test_old_ciphertexts_decrypt_after_rotation(tmp_path: Path) -> None:
    ring = LocalKeyring.open(tmp_path / "kek")
    before = encrypt_bytes(b"before", keyring=ring, aad=AAD)
    ring.rotate()
    after = encrypt_bytes(b"after", keyring=ring, aad=AAD)
    reopened = LocalKeyring.open(tmp_path / "kek")
    assert decrypt_bytes(before, keyring=reopened, aad=AAD) == b"before"
    assert decrypt_bytes(after, keyring=reopened, aad=AAD) == b"after"


def test_encryption_is_lazy_and_uses_fresh_keys(keyring: LocalKeyring) -> None:
    class Exploding:
        def __iter__(self) -> Iterator[bytes]:
            raise AssertionError("consumed before iteration")

    encrypt_stream(Exploding(), keyring=keyring, aad=AAD)  # builds a generator, no more
    first = encrypt_bytes(b"same", keyring=keyring, aad=AAD)
    second = encrypt_bytes(b"same", keyring=keyring, aad=AAD)
    assert first != second


def test_memory_stays_bounded_for_a_large_stream(keyring: LocalKeyring) -> None:
    total = 48 * 1024 * 1024

    def source() -> Iterator[bytes]:
        block = bytes(range(256)) * 32  # 8 KiB
        for _ in range(total // len(block)):
            yield block

    tracemalloc.start()
    try:
        seen = 0
        for piece in decrypt_stream(
            encrypt_stream(source(), keyring=keyring, aad=AAD), keyring=keyring, aad=AAD
        ):
            seen += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == total
    assert peak < 1024 * 1024, f"peak {peak} bytes for a {total}-byte stream"


class _RecordingKeyring:
    """A keyring that remembers the data key, so the test below can act as an outsider."""

    def __init__(self) -> None:
        self._kek = AESGCM.generate_key(bit_length=256)
        self.deks: list[bytes] = []

    def current_kek_id(self) -> str:
        return "kms:test/1"

    def wrap(self, dek: bytes, *, aad: bytes) -> WrappedKey:
        self.deks.append(dek)
        nonce = bytes(12)  # one wrap per keyring in this test
        return WrappedKey("kms:test/1", AESGCM(self._kek).encrypt(nonce, dek, aad))

    def unwrap(self, wrapped: WrappedKey, *, aad: bytes) -> bytes:
        return AESGCM(self._kek).decrypt(bytes(12), wrapped.ciphertext, aad)

    def rotate(self) -> str:
        raise NotImplementedError


def test_format_matches_docs_keys_md() -> None:
    """An independent reader written from docs/keys.md, not from the module."""
    ring = _RecordingKeyring()
    plaintext = _plaintext(SEG + 3, seed=7)
    ciphertext = encrypt_bytes(plaintext, keyring=ring, aad=AAD)
    (dek,) = ring.deks

    assert ciphertext[:4] == b"SWE1"
    assert ciphertext[4] == 1
    kek_len = ciphertext[5]
    assert ciphertext[6 : 6 + kek_len] == b"kms:test/1"
    offset = 6 + kek_len
    (wrapped_len,) = struct.unpack(">H", ciphertext[offset : offset + 2])
    wrapped = ciphertext[offset + 2 : offset + 2 + wrapped_len]
    assert ring.unwrap(WrappedKey("kms:test/1", wrapped), aad=b"SWE1\x01" + AAD) == dek
    offset += 2 + wrapped_len
    prefix = ciphertext[offset : offset + 7]
    header = ciphertext[: offset + 7]
    body = ciphertext[offset + 7 :]
    aad = hashlib.sha256(header).digest() + AAD
    first = AESGCM(dek).decrypt(prefix + struct.pack(">I", 0) + b"\x00", body[:CSEG], aad)
    last = AESGCM(dek).decrypt(prefix + struct.pack(">I", 1) + b"\x01", body[CSEG:], aad)
    assert first + last == plaintext
