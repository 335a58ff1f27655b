"""Persisted Ed25519 signing keys, one key set per purpose (tokens, evidence, checkpoints).

Each purpose has its own keys so that a signature made for one purpose can never be replayed
as another, and so each can be rotated on its own schedule. Layout of
``<directory>/<purpose>/`` (``0o700``)::

    index.json      {"format": "sealwright-signing-keys/1", "purpose": "<purpose>",
                     "current": "<kid>", "kids": ["<kid>", ...]}   oldest first
    <kid>.pem       PKCS#8 PEM private key, 0o600

``kid`` is the RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of the public
key, so anyone holding the public key can recompute it. Rotation makes a new key current;
retired keys stay in the set and stay published in the JWKS, because signatures they made
(evidence bundles, checkpoints) must remain verifiable for years.

Like the local keyring, these private keys are plain files on the host; an HSM-backed
signer can replace this class behind the same methods later.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from joserfc.jwk import KeySet, OKPKey

from sealwright.errors import ConfigurationError
from sealwright.keys import files

_log = structlog.get_logger(__name__)

_FORMAT = "sealwright-signing-keys/1"
_PURPOSE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_KID = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a 32-byte SHA-256 digest


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of an Ed25519 public key (RFC 8037 section 2 members)."""
    x = _b64url(public_key.public_bytes_raw())
    # RFC 7638 section 3: the required members only, sorted, no whitespace.
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """The public half of one signing key, under its ``kid``."""

    kid: str
    public_key: Ed25519PublicKey

    def to_jwk(self) -> dict[str, str]:
        """The public JWK as published in the JWKS, with ``alg`` ``"Ed25519"``."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.public_key.public_bytes_raw()),
            "kid": self.kid,
            "use": "sig",
            "alg": "Ed25519",
        }


class SigningKeys:
    """The Ed25519 key set of one purpose; build it with :meth:`open`."""

    def __init__(
        self,
        directory: Path,
        purpose: str,
        private_keys: dict[str, Ed25519PrivateKey],
        current: str,
    ) -> None:
        self._directory = directory
        self._purpose = purpose
        self._private_keys = private_keys  # insertion order = creation order
        self._current = current
        self._lock = threading.Lock()

    @classmethod
    def open(cls, directory: Path, purpose: str) -> SigningKeys:
        """Open (or on first run create) the key set for ``purpose`` under ``directory``."""
        if not _PURPOSE.fullmatch(purpose):
            raise ConfigurationError(f"invalid signing key purpose {purpose!r}")
        files.ensure_private_directory(directory)
        home = directory / purpose
        files.ensure_private_directory(home)

        def create() -> dict[str, object]:
            kid = _create_key(home)
            return {"format": _FORMAT, "purpose": purpose, "current": kid, "kids": [kid]}

        index, created = files.read_or_create_index(home, create)
        current, kids = _parse_index(home, purpose, index)
        if created:
            _log.info("signing key created", purpose=purpose, kid=current)
        return cls(home, purpose, {kid: _load_key(home, kid) for kid in kids}, current)

    @property
    def purpose(self) -> str:
        return self._purpose

    @property
    def current(self) -> VerificationKey:
        kid, private_key = self._current_pair()
        return VerificationKey(kid, private_key.public_key())

    @property
    def keys(self) -> tuple[VerificationKey, ...]:
        """Every key of this purpose, current and retired, oldest first."""
        with self._lock:
            items = list(self._private_keys.items())
        return tuple(VerificationKey(kid, key.public_key()) for kid, key in items)

    def sign(self, data: bytes) -> tuple[str, bytes]:
        """Sign with the current key; returns ``(kid, 64-byte signature)``."""
        kid, private_key = self._current_pair()
        return kid, private_key.sign(data)

    def private_key_for_current(self) -> Ed25519PrivateKey:
        """The current private key, for callers that sign through another library
        (pyHanko, note signers). Pair it with ``current.kid`` only if no ``rotate`` can run
        in between; :meth:`current_jwk` and :meth:`sign` carry their kid with them."""
        return self._current_pair()[1]

    def current_jwk(self) -> OKPKey:
        """The current private key as a joserfc key with its ``kid``, for signing JWTs.

        No ``alg`` member, for the reason given in :meth:`joserfc_keyset`.
        """
        kid, private_key = self._current_pair()
        return OKPKey.import_key(private_key, parameters={"kid": kid, "use": "sig"})

    def _current_pair(self) -> tuple[str, Ed25519PrivateKey]:
        # Read together, so a concurrent rotate cannot pair one key with the other's kid.
        with self._lock:
            return self._current, self._private_keys[self._current]

    def rotate(self) -> str:
        """Create a new current key and return its kid; the previous keys stay published."""
        with self._lock, files.directory_lock(self._directory):
            index = files.read_index(self._directory)
            if index is None:
                raise ConfigurationError(f"signing key index missing from {self._directory}")
            _, kids = _parse_index(self._directory, self._purpose, index)
            new_kid = _create_key(self._directory)
            kids.append(new_kid)
            files.write_index(
                self._directory,
                {"format": _FORMAT, "purpose": self._purpose, "current": new_kid, "kids": kids},
            )
            # Rebuild in index order so keys rotated by another process are included too.
            self._private_keys = {
                kid: self._private_keys.get(kid) or _load_key(self._directory, kid) for kid in kids
            }
            self._current = new_kid
        _log.info("signing key rotated", purpose=self._purpose, kid=new_kid)
        return new_kid

    def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        """A JWK Set (RFC 7517) of every key, retired ones included, oldest first."""
        return {"keys": [key.to_jwk() for key in self.keys]}

    def joserfc_keyset(self) -> KeySet:
        """The public keys as a joserfc ``KeySet`` for verifying.

        Unlike :meth:`public_jwks`, the keys carry no ``alg`` member, because joserfc
        refuses a key whose ``alg`` differs from the token's. Pin the algorithm with
        ``algorithms=["Ed25519"]`` instead.
        """
        return KeySet(
            [
                OKPKey.import_key(key.public_key, parameters={"kid": key.kid, "use": "sig"})
                for key in self.keys
            ]
        )

    def __repr__(self) -> str:
        return f"SigningKeys(purpose={self._purpose!r}, current={self._current!r})"


def _create_key(home: Path) -> str:
    private_key = Ed25519PrivateKey.generate()
    kid = jwk_thumbprint(private_key.public_key())
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    files.create_private_file(home / f"{kid}.pem", pem)
    return kid


def _load_key(home: Path, kid: str) -> Ed25519PrivateKey:
    path = home / f"{kid}.pem"
    try:
        key = serialization.load_pem_private_key(files.read_private_file(path), password=None)
    except ValueError as exc:
        raise ConfigurationError(f"signing key file {path} is damaged") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"signing key file {path} is not an Ed25519 key")
    if jwk_thumbprint(key.public_key()) != kid:
        raise ConfigurationError(f"signing key file {path} does not hold the key its name says")
    return key


def _parse_index(home: Path, purpose: str, index: dict[str, object]) -> tuple[str, list[str]]:
    return files.parse_index(
        home,
        index,
        fixed={"format": _FORMAT, "purpose": purpose},
        ids_member="kids",
        id_pattern=_KID,
        label="signing key index",
    )
