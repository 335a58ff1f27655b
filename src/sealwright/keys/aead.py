"""Per-document envelope encryption that streams: the ``SWE1`` format.

Each document gets a fresh 256-bit data key (DEK), wrapped by the keyring; the document is
cut into segments of at most 64 KiB, each sealed with AES-256-GCM under the DEK following the
STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015), as Tink's streaming AEAD does.
Memory use is bounded by a few segments (plus the largest input chunk) whatever the
document's size. The byte format is
specified in ``docs/keys.md``; the short version::

    header  = "SWE1" || 0x01 || len(kek_id) (1) || kek_id || len(wrapped) (2, BE) || wrapped
              || nonce_prefix (7)
    segment = AES-256-GCM(DEK, nonce = prefix || counter (4, BE) || last (1),
                          aad = SHA-256(header) || caller aad)

Why hand-assembled: no well-kept Python library offers streaming AEAD in a format like this
one around a pluggable keyring (Tink's Python package has streaming AEAD, but only inside its
own keyset management and binary format). So the framing is built here on the one primitive
that is well kept, pyca/cryptography's ``AESGCM``, and kept small enough to audit and to
re-implement from the document.

Streaming caveat for consumers of :func:`decrypt_stream`: each segment's plaintext is
released only after its tag verified, but a truncated or extended stream is detected only at
its end. Treat the output as provisional (e.g. a temporary file) until the iterator finishes
without raising.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealwright.clock import Random, SystemRandom
from sealwright.errors import DecryptionFailed
from sealwright.keys.keyring import Keyring, WrappedKey

MAGIC = b"SWE1"
VERSION = 1
SEGMENT_SIZE = 64 * 1024
"""Plaintext bytes per segment; every segment but the last holds exactly this many."""

_TAG_SIZE = 16
_CIPHER_SEGMENT_SIZE = SEGMENT_SIZE + _TAG_SIZE
_DEK_SIZE = 32
_NONCE_PREFIX_SIZE = 7
_MAX_SEGMENTS = 2**32  # the counter is 4 bytes; a nonce must never repeat under one DEK
_MAX_WRAPPED_SIZE = 0xFFFF


def encrypt_stream(
    chunks: Iterable[bytes], *, keyring: Keyring, aad: bytes, random: Random | None = None
) -> Iterator[bytes]:
    """Encrypt a stream of plaintext chunks (any sizes) into ``SWE1`` ciphertext chunks.

    Lazy: nothing happens (no key is generated) until the result is iterated. Yields the
    header, then one chunk per sealed segment.
    """
    rng = random if random is not None else SystemRandom()
    dek = rng.token_bytes(_DEK_SIZE)
    wrapped = keyring.wrap(dek, aad=_wrap_aad(aad))
    prefix = rng.token_bytes(_NONCE_PREFIX_SIZE)
    header = _encode_header(wrapped, prefix)
    yield header
    sealer = AESGCM(dek)
    segment_aad = hashlib.sha256(header).digest() + aad
    for counter, (piece, last) in enumerate(_pieces(chunks, SEGMENT_SIZE)):
        if counter >= _MAX_SEGMENTS:
            raise ValueError("document too large for one SWE1 stream")
        yield sealer.encrypt(_nonce(prefix, counter, last), piece, segment_aad)


def decrypt_stream(chunks: Iterable[bytes], *, keyring: Keyring, aad: bytes) -> Iterator[bytes]:
    """Decrypt ``SWE1`` ciphertext chunks (any sizes) into plaintext, one chunk per segment.

    Raises ``DecryptionFailed`` for a damaged header, an unknown KEK, a wrong ``aad``, or a
    segment that was changed, reordered, dropped, or appended -- including a stream cut at a
    segment boundary, which fails at the end because its last segment lacks the final flag.
    """
    reader = _HeaderReader(iter(chunks))
    header, wrapped, prefix = reader.read_header()
    dek = keyring.unwrap(wrapped, aad=_wrap_aad(aad))
    if len(dek) != _DEK_SIZE:
        raise DecryptionFailed("cannot decrypt document")
    opener = AESGCM(dek)
    segment_aad = hashlib.sha256(header).digest() + aad
    for counter, (piece, last) in enumerate(_pieces(reader.rest(), _CIPHER_SEGMENT_SIZE)):
        if counter >= _MAX_SEGMENTS or len(piece) < _TAG_SIZE:
            raise DecryptionFailed("cannot decrypt document")
        try:
            # AESGCM.decrypt verifies the tag before returning anything: no unauthenticated
            # plaintext ever leaves this function.
            plaintext = opener.decrypt(_nonce(prefix, counter, last), piece, segment_aad)
        except InvalidTag as exc:
            raise DecryptionFailed("cannot decrypt document") from exc
        yield plaintext


def encrypt_bytes(
    plaintext: bytes, *, keyring: Keyring, aad: bytes, random: Random | None = None
) -> bytes:
    return b"".join(encrypt_stream([plaintext], keyring=keyring, aad=aad, random=random))


def decrypt_bytes(ciphertext: bytes, *, keyring: Keyring, aad: bytes) -> bytes:
    return b"".join(decrypt_stream([ciphertext], keyring=keyring, aad=aad))


def _wrap_aad(aad: bytes) -> bytes:
    # Binds the wrapped DEK to this format and to the caller's context, so a wrapped key
    # lifted from one document's header does not unwrap for another document.
    return MAGIC + bytes([VERSION]) + aad


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def _encode_header(wrapped: WrappedKey, prefix: bytes) -> bytes:
    kek_id = wrapped.kek_id.encode("utf-8")
    if not 1 <= len(kek_id) <= 0xFF:
        raise ValueError("keyring returned a KEK id that does not fit the SWE1 header")
    if not 1 <= len(wrapped.ciphertext) <= _MAX_WRAPPED_SIZE:
        raise ValueError("keyring returned a wrapped key that does not fit the SWE1 header")
    return b"".join(
        (
            MAGIC,
            bytes([VERSION, len(kek_id)]),
            kek_id,
            struct.pack(">H", len(wrapped.ciphertext)),
            wrapped.ciphertext,
            prefix,
        )
    )


class _HeaderReader:
    """Reads the variable-length header off a chunk stream, then hands back the rest."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._consumed = bytearray()

    def _take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise DecryptionFailed("cannot decrypt document")
            self._buffer += chunk
        taken = bytes(self._buffer[:n])
        del self._buffer[:n]
        self._consumed += taken
        return taken

    def read_header(self) -> tuple[bytes, WrappedKey, bytes]:
        if self._take(len(MAGIC)) != MAGIC or self._take(1)[0] != VERSION:
            raise DecryptionFailed("not an SWE1 ciphertext")
        try:
            kek_id = self._take(self._take(1)[0]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecryptionFailed("cannot decrypt document") from exc
        (wrapped_size,) = struct.unpack(">H", self._take(2))
        wrapped = WrappedKey(kek_id=kek_id, ciphertext=self._take(wrapped_size))
        prefix = self._take(_NONCE_PREFIX_SIZE)
        return bytes(self._consumed), wrapped, prefix

    def rest(self) -> Iterator[bytes]:
        if self._buffer:
            yield bytes(self._buffer)
        yield from self._chunks


def _pieces(chunks: Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Re-cut a chunk stream into pieces of exactly ``size`` bytes plus a final short one.

    Yields ``(piece, is_last)``. The last piece holds 0..``size`` bytes: a stream whose length
    is a multiple of ``size`` ends with a full last piece, an empty stream with one empty
    piece. A full piece is held back until the next byte (or the end) shows whether it is
    the last, so at most one piece plus the current chunk is buffered.
    """
    buffer = bytearray()
    held: bytes | None = None
    for chunk in chunks:
        view = memoryview(chunk)
        position = 0
        while position < len(view):
            take = min(size - len(buffer), len(view) - position)
            buffer += view[position : position + take]
            position += take
            if len(buffer) == size:
                if held is not None:
                    yield held, False
                held = bytes(buffer)
                buffer.clear()
    if held is not None and not buffer:
        yield held, True
        return
    if held is not None:
        yield held, False
    yield bytes(buffer), True
