"""Webhook signing keys in the Standard Webhooks serialisations.

* ``v1`` (symmetric): HMAC-SHA256 with a random secret of 24 to 64 bytes, shown to the
  receiver as ``whsec_`` + base64.
* ``v1a`` (asymmetric): Ed25519. The signing key is ``whsk_`` + base64 of its 32-byte seed
  (RFC 8032's private key; a 64-byte seed || public key, libsodium's layout, is accepted
  too); the receiver is given only the public key, ``whpk_`` + base64 of its 32 bytes.

The specification fixes the prefixes and base64 but not the byte layout of Ed25519 keys;
ours is written down in ``docs/webhooks.md``. Secrets are parsed leniently the way the
specification's own libraries do (padding optional, ``whsec_`` optional), since receivers
paste them from configuration; everything else about them is strict.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sealwright.clock import Random
from sealwright.errors import ValidationError

HMAC_PREFIX = "whsec_"
SECRET_KEY_PREFIX = "whsk_"  # noqa: S105 -- a prefix, not a secret
PUBLIC_KEY_PREFIX = "whpk_"
V1, V1A = "v1", "v1a"
SCHEMES = (V1, V1A)
HMAC_MIN, HMAC_MAX = 24, 64
#: Length of the HMAC secrets Sealwright generates (bytes).
HMAC_GENERATED = 32


def b64decode_lenient(text: str) -> bytes:
    """Standard base64, padding optional (as the reference libraries accept)."""
    text = text.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("not valid base64") from None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class HmacSecret:
    """A ``v1`` key. Its ``repr`` never shows the key."""

    key: bytes = field(repr=False)
    version: str = V1

    @classmethod
    def generate(cls, random: Random) -> HmacSecret:
        return cls(random.token_bytes(HMAC_GENERATED))

    @classmethod
    def parse(cls, text: str, *, strict_length: bool = True) -> HmacSecret:
        """``whsec_<base64>`` (the prefix may be left out). ``strict_length`` enforces the
        specification's 24..64 bytes; the reference libraries' tests use a shorter one."""
        body = text[len(HMAC_PREFIX) :] if text.startswith(HMAC_PREFIX) else text
        key = b64decode_lenient(body)
        if not key:
            raise ValidationError("the webhook secret is empty")
        if strict_length and not HMAC_MIN <= len(key) <= HMAC_MAX:
            raise ValidationError(f"a whsec_ secret holds {HMAC_MIN} to {HMAC_MAX} bytes")
        return cls(key)

    def serialize(self) -> str:
        return HMAC_PREFIX + b64(self.key)

    def sign(self, content: bytes) -> bytes:
        mac = hmac.HMAC(self.key, hashes.SHA256())
        mac.update(content)
        return mac.finalize()

    def check(self, content: bytes, signature: bytes) -> bool:
        """Constant time (pyca's ``verify`` compares with ``constant_time.bytes_eq``)."""
        mac = hmac.HMAC(self.key, hashes.SHA256())
        mac.update(content)
        try:
            mac.verify(signature)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Ed25519Public:
    """A ``v1a`` verification key, as given to receivers."""

    raw: bytes
    version: str = V1A

    @classmethod
    def parse(cls, text: str) -> Ed25519Public:
        if not text.startswith(PUBLIC_KEY_PREFIX):
            raise ValidationError("an Ed25519 webhook public key starts with whpk_")
        raw = b64decode_lenient(text[len(PUBLIC_KEY_PREFIX) :])
        if len(raw) != 32:
            raise ValidationError("a whpk_ key holds 32 bytes")
        return cls(raw)

    def serialize(self) -> str:
        return PUBLIC_KEY_PREFIX + b64(self.raw)

    def check(self, content: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, content)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Ed25519Secret:
    """A ``v1a`` signing key. Its ``repr`` never shows the seed."""

    seed: bytes = field(repr=False)
    version: str = V1A

    @classmethod
    def generate(cls, random: Random) -> Ed25519Secret:
        return cls(random.token_bytes(32))

    @classmethod
    def parse(cls, text: str) -> Ed25519Secret:
        if not text.startswith(SECRET_KEY_PREFIX):
            raise ValidationError("an Ed25519 webhook signing key starts with whsk_")
        raw = b64decode_lenient(text[len(SECRET_KEY_PREFIX) :])
        if len(raw) == 64:
            secret = cls(raw[:32])
            if secret.public().raw != raw[32:]:
                raise ValidationError("the whsk_ key's public half does not match its seed")
            return secret
        if len(raw) != 32:
            raise ValidationError("a whsk_ key holds a 32-byte seed (or seed || public key)")
        return cls(raw)

    def serialize(self) -> str:
        return SECRET_KEY_PREFIX + b64(self.seed)

    def public(self) -> Ed25519Public:
        key = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Ed25519Public(key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, content: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(content)


SigningSecret = HmacSecret | Ed25519Secret
VerificationKey = HmacSecret | Ed25519Public


def parse_signing_secret(text: str) -> SigningSecret:
    if text.startswith(SECRET_KEY_PREFIX):
        return Ed25519Secret.parse(text)
    if text.startswith(HMAC_PREFIX):
        return HmacSecret.parse(text)
    raise ValidationError("a webhook signing secret starts with whsec_ or whsk_")


def parse_verification_key(text: str, *, strict_length: bool = True) -> VerificationKey:
    """What a receiver configures: a ``whpk_`` public key, or a ``whsec_`` secret (bare
    base64 is read as a ``whsec_`` secret, as the reference libraries do)."""
    if text.startswith(PUBLIC_KEY_PREFIX):
        return Ed25519Public.parse(text)
    if text.startswith(SECRET_KEY_PREFIX):
        raise ValidationError("give the receiver the whpk_ public key, not the whsk_ secret")
    return HmacSecret.parse(text, strict_length=strict_length)


def generate(scheme: str, random: Random) -> SigningSecret:
    if scheme == V1:
        return HmacSecret.generate(random)
    if scheme == V1A:
        return Ed25519Secret.generate(random)
    raise ValidationError(f"unknown signature scheme {scheme!r} (v1 or v1a)")


def shown_to_receiver(secret: SigningSecret) -> str:
    """What the receiver needs to verify: the HMAC secret itself, or only the public key."""
    if isinstance(secret, Ed25519Secret):
        return secret.public().serialize()
    return secret.serialize()
