"""C2SP tlog-cosignature, Ed25519 flavour: timestamped cosignatures on checkpoints.

A cosignature is a signed-note signature line (see :mod:`sealwright.ledger.note`)::

    — <cosigner name> base64(4-byte key id || 8-byte big-endian timestamp || 64-byte signature)

- key id  = SHA-256(name || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]
- message = "cosignature/v1\\n" "time <timestamp>\\n" <the whole checkpoint body>
- vkey    = <name>+<8 hex of key id>+base64(0x04 || public key)

The type byte 0x04 (not the 0x01 of plain note signatures) gives a cosigner key a
different key id from the same key used as a plain note key, so a cosignature can never be
taken for a log signature or the reverse: :func:`sealwright.ledger.checkpoint.open_checkpoint`
ignores cosignature lines as signatures by unknown keys, and the verifiers here ignore the
log's lines.

A cosignature states: "as of <timestamp>, this is the largest tree of this origin that I
have verified to be consistent with everything I saw before". It says nothing about the
checkpoint's extension lines, though they are signed.

Parsing is strict, like the note parser: one canonical base64 spelling, exactly 76 bytes,
a timestamp below 2^63.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from sealwright.clock import Clock
from sealwright.errors import ProofError, ValidationError
from sealwright.ledger.checkpoint import Checkpoint, NoteVerifier, open_checkpoint
from sealwright.ledger.note import (
    NoteSignature,
    check_note_text,
    format_vkey,
    is_valid_key_name,
    parse_note,
    split_vkey,
    strict_b64decode,
)

__all__ = [
    "COSIGNATURE_TYPE",
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "CosignedCheckpoint",
    "add_cosignatures",
    "cosignature_key_id",
    "open_cosigned_checkpoint",
    "signed_message",
    "verify_cosignatures",
]

#: Signature type byte of timestamped Ed25519 cosignatures (signed-note, "Signature types").
COSIGNATURE_TYPE = 0x04
#: tlog-cosignature: "It MUST NOT exceed 2^63 - 1".
MAX_TIMESTAMP = 2**63 - 1
_HEADER = "cosignature/v1\n"
_SIG_PREFIX = "\u2014 "  # em dash, space
_KEY_ID_SIZE = 4
_TIMESTAMP_SIZE = 8
_ED25519_SIGNATURE_SIZE = 64
_RAW_SIZE = _KEY_ID_SIZE + _TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4]."""
    material = name.encode("utf-8") + b"\n" + bytes([COSIGNATURE_TYPE]) + public_key
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


def signed_message(body: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 cosignature signs: header, time line, checkpoint body."""
    _check_timestamp(timestamp)
    if not body.endswith("\n"):
        raise ValidationError("a checkpoint body ends with a newline")
    return f"{_HEADER}time {timestamp}\n{body}".encode()


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise ValidationError("a cosignature timestamp is an int")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValidationError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")


@dataclass(frozen=True)
class Cosignature:
    """One cosignature line, parsed but not verified."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise ValidationError(f"invalid cosigner name {self.name!r}")
        if len(self.key_id) != _KEY_ID_SIZE:
            raise ValidationError("a key id has 4 bytes")
        _check_timestamp(self.timestamp)
        if len(self.signature) != _ED25519_SIGNATURE_SIZE:
            raise ValidationError("an Ed25519 signature has 64 bytes")

    @classmethod
    def from_note_signature(cls, sig: NoteSignature) -> Cosignature:
        """Read the timestamped structure out of a parsed note signature line."""
        if len(sig.signature) != _TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE:
            raise ProofError(
                f"signature by {sig.name!r} is not an Ed25519 cosignature "
                f"({_KEY_ID_SIZE + len(sig.signature)} bytes, expected {_RAW_SIZE})"
            )
        (timestamp,) = struct.unpack(">Q", sig.signature[:_TIMESTAMP_SIZE])
        try:
            return cls(sig.name, sig.key_id, timestamp, sig.signature[_TIMESTAMP_SIZE:])
        except ValidationError as exc:
            raise ProofError(f"malformed cosignature by {sig.name!r}: {exc}") from exc

    @classmethod
    def from_line(cls, line: str) -> Cosignature:
        """Parse ``— <name> <base64>`` with or without its final newline, strictly.

        Raises :class:`ProofError` for anything else.
        """
        text = line[:-1] if line.endswith("\n") else line
        try:
            check_note_text(text, "cosignature line")
        except ProofError as exc:
            raise ProofError(f"malformed cosignature line: {exc}") from exc
        if "\n" in text or not text.startswith(_SIG_PREFIX):
            raise ProofError("malformed cosignature line: not one '— <name> <base64>' line")
        name, space, b64 = text[len(_SIG_PREFIX) :].partition(" ")
        if not space or not is_valid_key_name(name):
            raise ProofError("malformed cosignature line: bad key name")
        try:
            raw = strict_b64decode(b64)
        except ValueError as exc:
            raise ProofError(f"malformed cosignature line: {exc}") from exc
        return cls.from_note_signature(
            NoteSignature(name=name, key_id=raw[:_KEY_ID_SIZE], signature=raw[_KEY_ID_SIZE:])
        )

    def to_line(self) -> str:
        raw = self.key_id + struct.pack(">Q", self.timestamp) + self.signature
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(raw).decode('ascii')}\n"


@dataclass(frozen=True)
class CosignatureVerifier:
    """A trusted cosigner (witness): name, 4-byte key id, 32-byte Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise ValidationError(f"invalid cosigner name {self.name!r}")
        if len(self.public_key) != 32:
            raise ValidationError("an Ed25519 public key has 32 bytes")
        if self.key_id != cosignature_key_id(self.name, self.public_key):
            raise ValidationError(f"key id does not match cosigner key {self.name!r}")

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> CosignatureVerifier:
        raw = public_key.public_bytes_raw()
        return cls(name=name, key_id=cosignature_key_id(name, raw), public_key=raw)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse ``<name>+<8 lowercase hex key id>+<base64(0x04 || public key)>``.

        A plain note key (type 0x01) is refused rather than converted: its key id is that
        of a log-style signer, and silently accepting it would let a configuration mix the
        two roles up.
        """
        name, key_id_bytes, material = split_vkey(vkey)
        if material[:1] == b"\x01":
            raise ValidationError(
                f"{name!r} is a plain Ed25519 note key (type 0x01), not a cosigner key (0x04)"
            )
        if len(material) != 33 or material[0] != COSIGNATURE_TYPE:
            raise ValidationError(
                "only Ed25519 cosignature verifier keys (type 0x04, 32 bytes) are supported"
            )
        return cls(name=name, key_id=key_id_bytes, public_key=material[1:])

    @property
    def vkey(self) -> str:
        return format_vkey(self.name, self.key_id, COSIGNATURE_TYPE, self.public_key)

    def matches(self, name: str, key_id: bytes) -> bool:
        """Whether a signature line names this key (signed-note identifies keys this way)."""
        return name == self.name and key_id == self.key_id

    def verify(self, body: str, cosignature: Cosignature | str) -> Cosignature:
        """Check one cosignature (parsed, or its line) on the checkpoint ``body``.

        Returns the cosignature, whose ``timestamp`` the caller may judge (too old, in the
        future). Raises :class:`ProofError` if it is malformed, names another key, or fails.
        """
        cosig = Cosignature.from_line(cosignature) if isinstance(cosignature, str) else cosignature
        if not self.matches(cosig.name, cosig.key_id):
            raise ProofError(
                f"cosignature is by {cosig.name}+{cosig.key_id.hex()}, "
                f"not {self.name}+{self.key_id.hex()}"
            )
        try:
            message = signed_message(body, cosig.timestamp)
        except ValidationError as exc:
            raise ProofError(str(exc)) from exc
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(cosig.signature, message)
        except InvalidSignature as exc:
            raise ProofError(f"invalid cosignature by {self.name}+{self.key_id.hex()}") from exc
        return cosig


class CosignatureSigner:
    """A witness's signing key. Time comes from the injected clock (:meth:`sign`) or is
    given explicitly (:meth:`sign_at`), as pyca's ``encrypt_at_time`` does."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, *, clock: Clock) -> None:
        self._verifier = CosignatureVerifier.from_public_key(name, private_key.public_key())
        self._private_key = private_key
        self._clock = clock

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    @property
    def vkey(self) -> str:
        return self._verifier.vkey

    def now(self) -> int:
        """The current POSIX time in whole seconds, as a cosignature records it."""
        return int(self._clock.now().timestamp())

    def sign(self, body: str) -> str:
        return self.sign_at(body, self.now())

    def sign_at(self, body: str, timestamp: int) -> str:
        """The cosignature line (with its newline) on the checkpoint ``body`` at ``timestamp``.

        Refuses a body that is not a well-formed checkpoint -- a witness must never sign
        anything else with this key -- and a zero timestamp, which tlog-witness forbids.
        """
        _check_timestamp(timestamp)
        if timestamp == 0:
            raise ValidationError("a witness cosignature must carry a timestamp (not zero)")
        try:
            Checkpoint.from_body(body)
        except ProofError as exc:
            raise ValidationError(f"refusing to cosign: {exc}") from exc
        signature = self._private_key.sign(signed_message(body, timestamp))
        return Cosignature(self.name, self._verifier.key_id, timestamp, signature).to_line()

    def __repr__(self) -> str:
        return f"CosignatureSigner({self.vkey!r})"


def verify_cosignatures(
    note: str | bytes, witnesses: Sequence[CosignatureVerifier]
) -> tuple[Cosignature, ...]:
    """The cosignatures on ``note`` by the given witnesses, each verified.

    As signed-note asks: lines by unknown keys are ignored, and a line by a known witness
    that does not verify rejects the whole note (:class:`ProofError`). Nothing about the
    log's own signature is checked here: see :func:`open_cosigned_checkpoint`.
    """
    parsed = parse_note(note)
    found: list[Cosignature] = []
    for sig in parsed.signatures:
        known = [w for w in witnesses if w.matches(sig.name, sig.key_id)]
        if not known:
            continue
        if len({w.public_key for w in known}) > 1:
            raise ProofError(f"ambiguous cosigner key {sig.name}+{sig.key_id.hex()}")
        found.append(known[0].verify(parsed.text, Cosignature.from_note_signature(sig)))
    return tuple(found)


@dataclass(frozen=True)
class CosignedCheckpoint:
    """A checkpoint verified against the log key, with the witness cosignatures on it
    that verified (at most one per witness key, the latest timestamp)."""

    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]

    def cosigned_by(self, witness: CosignatureVerifier) -> Cosignature | None:
        for cosig in self.cosignatures:
            if witness.matches(cosig.name, cosig.key_id):
                return cosig
        return None


def open_cosigned_checkpoint(
    note: str | bytes,
    log_verifiers: Sequence[NoteVerifier],
    *,
    origin: str,
    witnesses: Sequence[CosignatureVerifier],
) -> CosignedCheckpoint:
    """Verify the log's signature (as :func:`open_checkpoint` does) and the cosignatures
    of ``witnesses``. Counting them against a quorum is the caller's policy."""
    checkpoint = open_checkpoint(note, log_verifiers, origin=origin)
    latest: dict[tuple[str, bytes], Cosignature] = {}
    for cosig in verify_cosignatures(note, witnesses):
        key = (cosig.name, cosig.key_id)
        if key not in latest or latest[key].timestamp < cosig.timestamp:
            latest[key] = cosig
    return CosignedCheckpoint(checkpoint, tuple(latest.values()))


def add_cosignatures(note: str, lines: Sequence[str]) -> str:
    """``note`` with the cosignature ``lines`` appended (those not already on it).

    Each line must parse as a cosignature; it is *not* verified here -- verify it with the
    witness's :class:`CosignatureVerifier` first (``WitnessClient`` does).
    """
    parsed = parse_note(note)
    present = {(s.name, s.key_id, s.signature) for s in parsed.signatures}
    out = note
    for line in lines:
        cosig = Cosignature.from_line(line)
        raw = struct.pack(">Q", cosig.timestamp) + cosig.signature
        if (cosig.name, cosig.key_id, raw) not in present:
            present.add((cosig.name, cosig.key_id, raw))
            out += cosig.to_line()
    parse_note(out)  # still a well-formed note (e.g. not over the signature limit)
    return out
