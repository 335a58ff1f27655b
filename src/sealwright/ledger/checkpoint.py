"""C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the signed tree head of the ledger.

A checkpoint is the text of a signed note (see :mod:`sealwright.ledger.note`)::

    <origin>\\n<tree size, decimal>\\n<base64 root hash>\\n[<extension line>\\n ...]

This module parses and formats that body. Signing and verifying the note are
re-exported from :mod:`sealwright.ledger.note` so callers need one import.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from sealwright.errors import ProofError, ValidationError
from sealwright.ledger.merkle import HASH_SIZE
from sealwright.ledger.note import (
    NoteSigner,
    NoteVerifier,
    check_note_text,
    open_note,
    sign_note,
    strict_b64decode,
)

__all__ = [
    "Checkpoint",
    "NoteSigner",
    "NoteVerifier",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
    "sign_note",
]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise ValidationError("checkpoint origin must be one non-empty line")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValidationError("checkpoint size must be a non-negative int")
        if len(self.root_hash) != HASH_SIZE:
            raise ValidationError(f"checkpoint root hash must have {HASH_SIZE} bytes")
        for line in self.extensions:
            if not line or "\n" in line:
                raise ValidationError("checkpoint extension lines must be non-empty single lines")
        try:
            check_note_text(self.to_body(), "checkpoint")
        except ProofError as exc:
            raise ValidationError(str(exc)) from exc

    def to_body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode("ascii")]
        return "".join(line + "\n" for line in (*lines, *self.extensions))

    @classmethod
    def from_body(cls, body: str) -> Checkpoint:
        """Strict inverse of :meth:`to_body`; raises :class:`ProofError` if malformed."""
        if not body.endswith("\n"):
            raise ProofError("malformed checkpoint: no final newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise ProofError("malformed checkpoint: needs at least three non-empty lines")
        origin, size_text, root_text, *extensions = lines
        if (
            not size_text.isascii()
            or not size_text.isdigit()
            or (size_text != "0" and size_text.startswith("0"))
        ):
            raise ProofError("malformed checkpoint: tree size is not a plain decimal")
        try:
            root = strict_b64decode(root_text)
        except ValueError as exc:
            raise ProofError(f"malformed checkpoint: root hash: {exc}") from exc
        try:
            return cls(origin, int(size_text), root, tuple(extensions))
        except ValidationError as exc:
            raise ProofError(f"malformed checkpoint: {exc}") from exc


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[NoteSigner]) -> str:
    return sign_note(checkpoint.to_body(), signers)


def open_checkpoint(
    text: str | bytes, verifiers: Sequence[NoteVerifier], *, origin: str
) -> Checkpoint:
    """Verify a signed checkpoint from the log ``origin``.

    Requires a verified signature by a known key *named* ``origin`` (the log's own key;
    witness cosignatures alone are not enough) and that the body's origin line is
    ``origin``. Raises :class:`ProofError` otherwise.
    """
    body, names = open_note(text, verifiers)
    if origin not in names:
        raise ProofError(f"checkpoint is not signed by the log key {origin!r}")
    checkpoint = Checkpoint.from_body(body)
    if checkpoint.origin != origin:
        raise ProofError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
