"""The keys of the verification channels, each its own purpose so none can stand in for
another (nor for a token, manifest or checkpoint key):

* ``assertions`` -- Ed25519 key set (keys/signing.py) signing assertions;
* ``qr-codes`` -- Ed25519 key set signing QR codes (COSE_Sign1);
* ``pin-key`` -- 32-byte HMAC key ``k_pin`` the callback PINs are derived with;
* ``pseudonym-key`` -- 32-byte root of the per-tenant recipient pseudonyms.

Created on first run (owner-only files), like every other key of the service.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from sealwright.clock import Random
from sealwright.keys.files import create_private_file, read_private_file
from sealwright.keys.signing import SigningKeys

__all__ = ["ASSERTION_PURPOSE", "QR_PURPOSE", "ChannelKeys"]

ASSERTION_PURPOSE = "assertions"
QR_PURPOSE = "qr-codes"


@dataclass(frozen=True)
class ChannelKeys:
    assertions: SigningKeys
    qr: SigningKeys
    pin_key: bytes
    pseudonym_key: bytes

    @classmethod
    def open(cls, keys_dir: Path, random: Random) -> ChannelKeys:
        """``keys_dir`` is the service's key directory (``settings.keys_dir``)."""
        return cls(
            assertions=SigningKeys.open(keys_dir / "signing", ASSERTION_PURPOSE),
            qr=SigningKeys.open(keys_dir / "signing", QR_PURPOSE),
            pin_key=_secret(keys_dir / "pin-key", random),
            pseudonym_key=_secret(keys_dir / "pseudonym-key", random),
        )

    def __repr__(self) -> str:  # never the secrets
        return f"ChannelKeys(assertions={self.assertions!r}, qr={self.qr!r})"


def _secret(path: Path, random: Random) -> bytes:
    if not path.exists():
        # Another process may create it first: then use theirs.
        with contextlib.suppress(FileExistsError):
            create_private_file(path, random.token_bytes(32))
    return read_private_file(path)
