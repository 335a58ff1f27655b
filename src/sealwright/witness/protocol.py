"""The C2SP tlog-witness wire formats, both directions, parsed strictly.

Request body of ``POST <prefix>/add-checkpoint``::

    old <size>\\n                    decimal, no leading zeros ("0" for zero)
    <base64 hash>\\n ...             0..63 consistency proof lines, 32-byte hashes
    \\n
    <signed checkpoint note>

Answers: ``200`` with one or more cosignature lines; ``409 Conflict`` with
``Content-Type: text/x.tlog.size`` and the witness's size (``<size>\\n``) as the body; other
refusals (400, 403, 404, 422) with a one-line reason in ``text/plain``.

Parsing here decides only whether bytes have the right *shape*; nothing is trusted until
:mod:`sealwright.witness.service` has verified the note and the proof.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sealwright.errors import ProofError, ValidationError
from sealwright.ledger.merkle import HASH_SIZE
from sealwright.ledger.note import (
    NoteSignature,
    check_note_text,
    is_valid_key_name,
    strict_b64decode,
)
from sealwright.witness.errors import BadWitnessResponse, WitnessRefused

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "SIZE_MEDIA_TYPE",
    "AddCheckpointRequest",
    "format_cosignature_lines",
    "format_size",
    "origin_hash",
    "parse_cosignature_lines",
    "parse_decimal",
    "parse_size",
]

#: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
#: The media type of a 409 answer's body.
SIZE_MEDIA_TYPE = "text/x.tlog.size"
#: Proof lines are at most 63 * 45 bytes; a note allows 100 signatures. 256 KiB leaves
#: room for post-quantum signatures (nearly 5 kB each) without inviting abuse.
MAX_REQUEST_BYTES = 256 * 1024
#: Sizes are Go int64 in the reference implementations; refusing more keeps us in step.
MAX_SIZE = 2**63 - 1
_SIG_PREFIX = "\u2014 "


def parse_decimal(text: str) -> int:
    """ASCII decimal with no leading zeros (``0`` itself allowed), at most 2^63-1.

    Raises :class:`ValueError`. ``int()`` alone would accept ``+1``, ``1_000``, spaces and
    non-ASCII digits, each a way for two parsers to read different numbers.
    """
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"{text!r} is not a decimal number")
    if len(text) > 1 and text[0] == "0":
        raise ValueError(f"{text!r} has a leading zero")
    value = int(text)
    if value > MAX_SIZE:
        raise ValueError(f"{text!r} exceeds 2^63-1")
    return value


def origin_hash(origin: str) -> str:
    """Lowercase hex SHA-256 of the origin: the monitoring path ``/<origin hash>/checkpoint``."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An add-checkpoint request. ``note`` is the signed checkpoint exactly as sent."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def __post_init__(self) -> None:
        if isinstance(self.old_size, bool) or not isinstance(self.old_size, int):
            raise ValidationError("old size must be an int")
        if not 0 <= self.old_size <= MAX_SIZE:
            raise ValidationError("old size must lie in 0..2^63-1")
        if len(self.proof) > MAX_PROOF_LINES:
            raise ValidationError(f"at most {MAX_PROOF_LINES} consistency proof lines")
        if any(len(h) != HASH_SIZE for h in self.proof):
            raise ValidationError(f"every proof hash has {HASH_SIZE} bytes")
        if not self.note or not self.note.endswith("\n"):
            raise ValidationError("the checkpoint note must end with a newline")
        try:
            check_note_text(self.note, "checkpoint note")
        except ProofError as exc:
            raise ValidationError(str(exc)) from exc

    def to_body(self) -> bytes:
        lines = [f"old {self.old_size}"] + [base64.b64encode(h).decode("ascii") for h in self.proof]
        return ("".join(line + "\n" for line in lines) + "\n" + self.note).encode("utf-8")

    @classmethod
    def from_body(cls, body: bytes) -> AddCheckpointRequest:
        """Parse a request body; raises :class:`WitnessRefused` (400) with the reason."""

        def bad(reason: str) -> WitnessRefused:
            return WitnessRefused(400, f"malformed request: {reason}")

        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise bad("not UTF-8") from exc
        end = text.find("\n\n")
        if end < 0:
            raise bad("no empty line between the proof and the checkpoint")
        header, note = text[:end].split("\n"), text[end + 2 :]
        old_line, proof_lines = header[0], header[1:]
        if not old_line.startswith("old "):
            raise bad("the first line must be 'old <size>'")
        try:
            old_size = parse_decimal(old_line[4:])
        except ValueError as exc:
            raise bad(f"old size: {exc}") from exc
        if len(proof_lines) > MAX_PROOF_LINES:
            raise bad(f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = []
        for number, line in enumerate(proof_lines, start=1):
            try:
                node = strict_b64decode(line)
            except ValueError as exc:
                raise bad(f"proof line {number}: {exc}") from exc
            if len(node) != HASH_SIZE:
                raise bad(f"proof line {number} is not a {HASH_SIZE}-byte hash")
            proof.append(node)
        if not note:
            raise bad("no checkpoint after the empty line")
        try:
            return cls(old_size, tuple(proof), note)
        except ValidationError as exc:
            raise bad(str(exc)) from exc


def format_size(size: int) -> bytes:
    """The body of a 409 answer."""
    return f"{size}\n".encode("ascii")


def parse_size(body: bytes) -> int:
    """Read a 409 answer's body, ``<decimal>\\n``; raises :class:`BadWitnessResponse`."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise BadWitnessResponse("size body is not ASCII") from exc
    if not text.endswith("\n"):
        raise BadWitnessResponse("size body does not end with a newline")
    try:
        return parse_decimal(text[:-1])
    except ValueError as exc:
        raise BadWitnessResponse(f"size body: {exc}") from exc


def format_cosignature_lines(lines: Sequence[str]) -> bytes:
    """The body of a 200 answer: the cosignature lines, each ending in a newline."""
    if not lines or any(not ln.startswith(_SIG_PREFIX) or not ln.endswith("\n") for ln in lines):
        raise ValidationError("a 200 answer is one or more signature lines")
    return "".join(lines).encode("utf-8")


def parse_cosignature_lines(body: bytes) -> tuple[NoteSignature, ...]:
    """Split a 200 answer into note signature lines, not yet verified.

    Checks their shape only -- ``— <key name> <canonical base64 of at least 5 bytes>\\n``
    -- because a witness may add lines for keys the client does not know (another
    algorithm), which the client must ignore. Raises :class:`BadWitnessResponse`.
    """
    try:
        text = body.decode("utf-8")
        check_note_text(text, "answer")
    except (UnicodeDecodeError, ProofError) as exc:
        raise BadWitnessResponse("cosignature answer is not clean UTF-8 text") from exc
    if not text.endswith("\n"):
        raise BadWitnessResponse("cosignature answer does not end with a newline")
    signatures = []
    for number, line in enumerate(text[:-1].split("\n"), start=1):
        name, space, b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
        try:
            raw = strict_b64decode(b64)
        except ValueError:
            raw = b""
        if not line.startswith(_SIG_PREFIX) or not space or not is_valid_key_name(name):
            raise BadWitnessResponse(f"answer line {number} is not a note signature line")
        if len(raw) < 5:
            raise BadWitnessResponse(f"answer line {number} has no valid signature")
        signatures.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
    return tuple(signatures)
