"""The embedded keyring: AES-256 KEKs kept as owner-only files in a local directory.

FOR DEVELOPMENT AND SMALL SINGLE-HOST INSTALLATIONS. The KEKs sit unencrypted on the same
machine as the documents they protect, so anyone who can read the disk (a backup, a stolen
volume, a root shell) can decrypt everything. It exists so that Sealwright runs out of the
box; production should use a keyring whose KEKs live in an HSM or KMS (see
:mod:`sealwright.keys.keyring`). It logs a warning saying so when opened.

Layout of ``directory`` (``0o700``)::

    index.json                  {"format": "sealwright-local-keyring/1",
                                 "current": "<kek id>", "keks": ["<kek id>", ...]}
    <kek id>.key                32 random bytes, 0o600, one per KEK ever created
    .lock                       flock target serialising creation and rotation

A KEK id is ``local-`` followed by 16 lowercase hex digits. Wrapping is AES-256-GCM with a
random 96-bit nonce; the wrapped form is ``nonce(12) || ciphertext || tag(16)`` and the
authenticated data is ``"sealwright/local-keyring/v1" 0x00 || kek id || 0x00 || aad``, so a
wrapped key only unwraps under the KEK and the ``aad`` it was wrapped for.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealwright.clock import Random, SystemRandom
from sealwright.errors import ConfigurationError, DecryptionFailed
from sealwright.keys import files
from sealwright.keys.keyring import WrappedKey

_log = structlog.get_logger(__name__)

_FORMAT = "sealwright-local-keyring/1"
_KEK_ID = re.compile(r"local-[0-9a-f]{16}")
_KEK_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_WRAP_CONTEXT = b"sealwright/local-keyring/v1\x00"


class LocalKeyring:
    """A :class:`~sealwright.keys.keyring.Keyring` backed by files; build it with ``open``."""

    def __init__(
        self, directory: Path, keks: dict[str, bytes], current: str, random: Random
    ) -> None:
        self._directory = directory
        self._keks = keks
        self._current = current
        self._random = random
        self._lock = threading.Lock()

    @classmethod
    def open(cls, directory: Path, *, random: Random | None = None) -> LocalKeyring:
        """Open the keyring in ``directory``, creating it and a first KEK on first run.

        Raises ``ConfigurationError`` if the directory or a key file is accessible to
        group/others, or if the index or a key file is damaged.
        """
        rng = random if random is not None else SystemRandom()
        files.ensure_private_directory(directory)

        def create() -> dict[str, object]:
            kek_id = _create_kek(directory, rng)
            return {"format": _FORMAT, "current": kek_id, "keks": [kek_id]}

        index, created = files.read_or_create_index(directory, create)
        current, kek_ids = _parse_index(directory, index)
        if created:
            _log.info("local keyring created", directory=str(directory), kek_id=current)
        keks = {kek_id: _load_kek(directory, kek_id) for kek_id in kek_ids}
        _log.warning(
            "local keyring in use: key-encryption keys are stored unencrypted on this host; "
            "this is for development and single-host installs only -- use an HSM/KMS keyring "
            "in production",
            directory=str(directory),
            current_kek_id=current,
        )
        return cls(directory, keks, current, rng)

    def current_kek_id(self) -> str:
        return self._current

    def wrap(self, dek: bytes, *, aad: bytes) -> WrappedKey:
        if not dek:
            raise ValueError("refusing to wrap an empty data key")
        with self._lock:
            kek_id, kek = self._current, self._keks[self._current]
        nonce = self._random.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(kek).encrypt(nonce, dek, _wrap_aad(kek_id, aad))
        return WrappedKey(kek_id=kek_id, ciphertext=nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, *, aad: bytes) -> bytes:
        kek = self._kek(wrapped.kek_id)
        blob = wrapped.ciphertext
        if kek is None or len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionFailed("cannot unwrap data key")
        try:
            return AESGCM(kek).decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _wrap_aad(wrapped.kek_id, aad)
            )
        except InvalidTag as exc:
            raise DecryptionFailed("cannot unwrap data key") from exc

    def rotate(self) -> str:
        with self._lock, files.directory_lock(self._directory):
            # Start from the index on disk: another process may have rotated meanwhile.
            index = files.read_index(self._directory)
            if index is None:
                raise ConfigurationError(f"key index missing from {self._directory}")
            _, kek_ids = _parse_index(self._directory, index)
            new_id = _create_kek(self._directory, self._random)
            kek_ids.append(new_id)
            files.write_index(
                self._directory, {"format": _FORMAT, "current": new_id, "keks": kek_ids}
            )
            for kek_id in kek_ids:
                if kek_id not in self._keks:
                    self._keks[kek_id] = _load_kek(self._directory, kek_id)
            self._current = new_id
        _log.info("local keyring rotated", directory=str(self._directory), kek_id=new_id)
        return new_id

    def _kek(self, kek_id: str) -> bytes | None:
        with self._lock:
            kek = self._keks.get(kek_id)
            if kek is not None or not _KEK_ID.fullmatch(kek_id):
                return kek
            # A DEK wrapped by a KEK that another process created after we opened.
            index = files.read_index(self._directory)
            if index is None:
                return None
            current, kek_ids = _parse_index(self._directory, index)
            if kek_id not in kek_ids:
                return None
            for known in kek_ids:
                if known not in self._keks:
                    self._keks[known] = _load_kek(self._directory, known)
            self._current = current
            return self._keks[kek_id]

    def __repr__(self) -> str:
        return f"LocalKeyring(directory={str(self._directory)!r}, current={self._current!r})"


def _wrap_aad(kek_id: str, aad: bytes) -> bytes:
    return _WRAP_CONTEXT + kek_id.encode("ascii") + b"\x00" + aad


def _create_kek(directory: Path, random: Random) -> str:
    kek_id = f"local-{random.token_bytes(8).hex()}"
    files.create_private_file(directory / f"{kek_id}.key", random.token_bytes(_KEK_BYTES))
    return kek_id


def _load_kek(directory: Path, kek_id: str) -> bytes:
    kek = files.read_private_file(directory / f"{kek_id}.key")
    if len(kek) != _KEK_BYTES:
        raise ConfigurationError(f"key file {directory / kek_id}.key is damaged (wrong length)")
    return kek


def _parse_index(directory: Path, index: dict[str, object]) -> tuple[str, list[str]]:
    return files.parse_index(
        directory, index, fixed={"format": _FORMAT}, ids_member="keks", id_pattern=_KEK_ID
    )
