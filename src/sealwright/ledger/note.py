"""C2SP signed-note (c2sp.org/signed-note), Ed25519 signatures only.

A note is ``text`` (ending in a newline), a blank line, then one or more lines
``"— <key name> <base64(4-byte key id || signature)>\\n"``. Parsing is strict: anything
that is not exactly that shape is malformed and raises :class:`ProofError`, because a
lenient parser is where two implementations start to disagree about what was signed.

Signatures by unknown keys are ignored (they may be witnesses or a rotated log key), but
a note verifies only if at least one known key's signature verifies, and a signature
from a known key that does *not* verify rejects the whole note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from sealwright.errors import ProofError, ValidationError

__all__ = [
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "ParsedNote",
    "check_note_text",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
    "strict_b64decode",
]

#: Signature type byte for plain Ed25519 note signatures (signed-note §Signature types).
ED25519_TYPE = 0x01
_SIG_PREFIX = "\u2014 "  # em dash, space
#: The spec says verifiers MUST accept at least 16; Go's sumdb/note stops at 100.
MAX_SIGNATURES = 100


def is_valid_key_name(name: str) -> bool:
    """Non-empty, no Unicode whitespace, no ``+`` (signed-note §Format)."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + public_key).digest()[:4]


def strict_b64decode(text: str) -> bytes:
    """Standard base64 with padding, and only the one canonical spelling of each value."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("invalid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("non-canonical base64")
    return raw


def check_note_text(text: str, what: str) -> None:
    """UTF-8 encodable, no ASCII control characters other than newline."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProofError(f"{what} is not valid UTF-8") from exc
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise ProofError(f"{what} contains a control character")


def split_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """``<name>+<8 lowercase hex key id>+<base64 key material>`` → (name, key id, material).

    Shared by note keys and witness cosignature keys; the caller checks the type byte."""
    # Neither the name nor the hex id may contain '+'; the base64 material may.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise ValidationError("a verifier key is <name>+<key id>+<key material>")
    name, hex_id, b64_key = parts
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise ValidationError("key id must be 8 lowercase hex digits")
    try:
        material = strict_b64decode(b64_key)
    except ValueError as exc:
        raise ValidationError(f"verifier key material: {exc}") from exc
    return name, bytes.fromhex(hex_id), material


def format_vkey(name: str, key_id_bytes: bytes, key_type: int, public_key: bytes) -> str:
    material = base64.b64encode(bytes([key_type]) + public_key).decode("ascii")
    return f"{name}+{key_id_bytes.hex()}+{material}"


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 note key: name, 4-byte key id and 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise ValidationError(f"invalid note key name {self.name!r}")
        if len(self.public_key) != 32:
            raise ValidationError("an Ed25519 public key has 32 bytes")
        if self.key_id != key_id(self.name, self.public_key):
            raise ValidationError(f"key id does not match key {self.name!r}")

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        raw = public_key.public_bytes_raw()
        return cls(name=name, key_id=key_id(name, raw), public_key=raw)

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<8 lowercase hex key id>+<base64(0x01 || public key)>``."""
        name, key_id_bytes, material = split_vkey(vkey)
        if len(material) != 33 or material[0] != ED25519_TYPE:
            raise ValidationError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        return cls(name=name, key_id=key_id_bytes, public_key=material[1:])

    @property
    def vkey(self) -> str:
        return format_vkey(self.name, self.key_id, ED25519_TYPE, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """A note signing key. The log's key name is its origin (see docs/ledger.md)."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise ValidationError(f"invalid note key name {self.name!r}")

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier.from_public_key(self.name, self.private_key.public_key())

    @property
    def vkey(self) -> str:
        return self.verifier.vkey

    def signature_line(self, text: str) -> str:
        sig = self.verifier.key_id + self.private_key.sign(text.encode("utf-8"))
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(sig).decode('ascii')}\n"


def sign_note(body: str, signers: Sequence[NoteSigner]) -> str:
    """The signed note: ``body``, a blank line, one signature line per signer."""
    if not body.endswith("\n"):
        raise ValidationError("note text must end with a newline")
    if not signers:
        raise ValidationError("a note needs at least one signer")
    try:
        check_note_text(body, "note text")
    except ProofError as exc:
        raise ValidationError(str(exc)) from exc
    return body + "\n" + "".join(s.signature_line(body) for s in signers)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line, not yet verified."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class ParsedNote:
    """A structurally valid note whose signatures have NOT been checked. Its text must
    not be acted on; :func:`open_note` is the function that decides trust."""

    text: str
    signatures: tuple[NoteSignature, ...]


def parse_note(note: str | bytes) -> ParsedNote:
    """Split a signed note into text and signature lines, strictly; verifies nothing.

    Raises :class:`ProofError` if the note is malformed.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProofError("malformed note: not valid UTF-8") from exc
    check_note_text(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise ProofError("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise ProofError("malformed note: no signature lines, or no final newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ProofError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIG_PREFIX):
            raise ProofError(f"malformed note: signature line {number} lacks the em-dash prefix")
        name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            raw = strict_b64decode(b64)
        except ValueError as exc:
            raise ProofError(f"malformed note: signature line {number}: {exc}") from exc
        if not space or not is_valid_key_name(name) or len(raw) < 5:
            raise ProofError(f"malformed note: signature line {number} is not well-formed")
        signatures.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
    return ParsedNote(text=text, signatures=tuple(signatures))


def open_note(text: str | bytes, verifiers: Sequence[NoteVerifier]) -> tuple[str, tuple[str, ...]]:
    """Parse and verify a signed note.

    Returns the note text (with its final newline) and the names of the known keys whose
    signatures verified, in order of appearance. Raises :class:`ProofError` if the note
    is malformed, if a known key's signature fails, if two known keys share name and key
    id, or if no known key signed it.
    """
    note = parse_note(text)
    message = note.text.encode("utf-8")
    verified: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in note.signatures:
        known = [v for v in verifiers if v.name == sig.name and v.key_id == sig.key_id]
        if not known:
            continue  # unknown keys are ignored, per the spec
        label = f"{sig.name}+{sig.key_id.hex()}"
        if len({v.public_key for v in known}) > 1:
            raise ProofError(f"ambiguous key {label}")
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not known[0].verify(message, sig.signature):
            raise ProofError(f"invalid signature for key {label}")
        verified.append(sig.name)
    if not verified:
        raise ProofError("note has no verifiable signature from a known key")
    return note.text, tuple(verified)
