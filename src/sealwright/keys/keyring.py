"""The keyring port: key-encryption keys (KEKs) that wrap per-document data keys.

Sealwright never stores a document key in the clear. Each document is encrypted with a fresh
data key (DEK, see :mod:`sealwright.keys.aead`); the DEK is *wrapped* by a KEK held by a
keyring, and only the wrapped form is stored. Rotating the KEK changes which key wraps new
DEKs; every KEK that ever wrapped a stored DEK stays available for ``unwrap``.

Adapters
--------
``LocalKeyring`` (:mod:`sealwright.keys.local_keyring`)
    The embedded default: KEKs are files next to the data. It is for development and small
    single-host installations and says so in the log, because whoever can read the disk can
    read the keys.

Further adapters belong in their own modules and implement the same four methods:

``pkcs11_keyring.py`` (planned)
    KEKs are non-extractable AES keys in an HSM reached through PKCS#11 (e.g. with
    ``python-pkcs11``); ``wrap``/``unwrap`` call ``C_Encrypt``/``C_Decrypt`` with
    ``CKM_AES_GCM`` so the KEK never leaves the token. ``kek_id`` is the object's
    ``CKA_LABEL``; ``rotate`` generates a new key object.

``kms_keyring.py`` (planned)
    A cloud KMS (AWS KMS, Google Cloud KMS, Azure Key Vault, HashiCorp Vault Transit):
    ``wrap``/``unwrap`` are the service's ``Encrypt``/``Decrypt`` calls with ``aad`` passed
    as the encryption context / additional authenticated data; ``kek_id`` is the key's
    resource name plus version, so ``unwrap`` of old ciphertexts keeps working after the
    service rotates the key.

Every adapter must: bind ``aad`` to the wrapped key (unwrapping with a different ``aad``
fails), raise :class:`sealwright.errors.DecryptionFailed` for every unwrap failure (unknown
KEK, tampered ciphertext, wrong ``aad``) without saying which, keep ``kek_id`` to at most
255 bytes of UTF-8 (it is written into ciphertext headers), and never log key material.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under the KEK named ``kek_id``; opaque to everyone but its keyring."""

    kek_id: str
    ciphertext: bytes

    def __repr__(self) -> str:
        # The ciphertext is not secret, but it is noise in logs and tracebacks.
        return f"WrappedKey(kek_id={self.kek_id!r}, ciphertext=<{len(self.ciphertext)} bytes>)"


class Keyring(Protocol):
    def current_kek_id(self) -> str:
        """The id of the KEK that ``wrap`` uses now."""
        ...

    def wrap(self, dek: bytes, *, aad: bytes) -> WrappedKey:
        """Encrypt ``dek`` under the current KEK, authenticating ``aad`` with it."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, aad: bytes) -> bytes:
        """Recover the data key; raises ``DecryptionFailed`` for any failure."""
        ...

    def rotate(self) -> str:
        """Make a new KEK current and return its id; earlier KEKs still unwrap."""
        ...
