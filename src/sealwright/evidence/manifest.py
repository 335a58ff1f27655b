"""manifest.json: the signed table of contents of an evidence bundle.

    {"format": "sealwright-evidence/1",
     "envelope": {"id", "tenant", "title", "status", "created_at", "completed_at"},
     "documents": [{"id", "name", "sha256", "size", "sealed_path", "sealed_sha256"}, ...],
     "files": {"<entry name>": "<sha256 hex>", ...},
     "ledger": {"origin", "tree_size"},
     "exported_at"}

It is stored as RFC 8785 canonical JSON, and :meth:`Manifest.parse` refuses anything else,
including unknown or missing members: the verifier must understand every byte it vouches for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sealwright.clock import parse_rfc3339
from sealwright.errors import ValidationError, VerificationFailed
from sealwright.ledger.canonical import canonicalize, parse_canonical

__all__ = [
    "MANIFEST_FORMAT",
    "Manifest",
    "ManifestDocument",
    "ManifestEnvelope",
    "is_hex_sha256",
    "is_int",
    "is_timestamp",
    "sealed_path",
]

MANIFEST_FORMAT = "sealwright-evidence/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.jws"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_DOC_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def is_hex_sha256(value: object) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def is_timestamp(value: object) -> bool:
    """The one time format of signed records: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, a real date."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return False
    try:
        if value.isascii():
            # In this exact shape, the same verdict as parse_rfc3339 (a real date and time
            # of day), in C: it runs for every event of a bundle.
            datetime.fromisoformat(value)
        else:
            parse_rfc3339(value)  # other decimal digits, which \d admits
    except ValueError:
        return False
    return True


def is_int(value: object) -> bool:
    """A JSON integer (``bool`` is an ``int`` subclass in Python; JSON says otherwise)."""
    return isinstance(value, int) and not isinstance(value, bool)


def sealed_path(document_id: str) -> str:
    if not _DOC_ID.fullmatch(document_id):
        raise ValidationError(f"document id {document_id!r} cannot name a bundle entry")
    return f"documents/{document_id}.sealed.pdf"


@dataclass(frozen=True)
class ManifestEnvelope:
    id: str
    tenant: str
    title: str
    status: str
    created_at: str
    completed_at: str | None


@dataclass(frozen=True)
class ManifestDocument:
    id: str
    name: str
    sha256: str
    size: int
    sealed_path: str
    sealed_sha256: str


@dataclass(frozen=True)
class Manifest:
    envelope: ManifestEnvelope
    documents: tuple[ManifestDocument, ...]
    files: Mapping[str, str]
    log_origin: str
    tree_size: int
    exported_at: str

    def to_json(self) -> bytes:
        e = self.envelope
        return canonicalize(
            {
                "format": MANIFEST_FORMAT,
                "envelope": {
                    "id": e.id,
                    "tenant": e.tenant,
                    "title": e.title,
                    "status": e.status,
                    "created_at": e.created_at,
                    "completed_at": e.completed_at,
                },
                "documents": [
                    {
                        "id": d.id,
                        "name": d.name,
                        "sha256": d.sha256,
                        "size": d.size,
                        "sealed_path": d.sealed_path,
                        "sealed_sha256": d.sealed_sha256,
                    }
                    for d in self.documents
                ],
                "files": dict(self.files),
                "ledger": {"origin": self.log_origin, "tree_size": self.tree_size},
                "exported_at": self.exported_at,
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Strictly parse manifest.json; raises :class:`VerificationFailed` naming the
        first problem."""
        try:
            doc = parse_canonical(data)
        except ValidationError as exc:
            raise VerificationFailed(f"manifest.json: {exc}") from exc
        try:
            return _manifest(doc)
        except (KeyError, TypeError) as exc:
            raise VerificationFailed(f"manifest.json: malformed ({exc!r})") from exc


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise VerificationFailed(f"manifest.json: {problem}")


def _members(value: Any, names: set[str], where: str) -> dict[str, Any]:
    _require(isinstance(value, dict), f"{where} must be an object")
    _require(set(value) == names, f"{where} must have exactly the members {sorted(names)}")
    return dict(value)


def _manifest(doc: Any) -> Manifest:
    top = _members(
        doc, {"format", "envelope", "documents", "files", "ledger", "exported_at"}, "top level"
    )
    _require(top["format"] == MANIFEST_FORMAT, f"format must be {MANIFEST_FORMAT!r}")
    env = _members(
        top["envelope"],
        {"id", "tenant", "title", "status", "created_at", "completed_at"},
        "envelope",
    )
    for name in ("id", "tenant", "title", "status"):
        _require(isinstance(env[name], str) and env[name] != "", f"envelope.{name} must be text")
    _require(is_timestamp(env["created_at"]), "envelope.created_at is not a timestamp")
    _require(
        env["completed_at"] is None or is_timestamp(env["completed_at"]),
        "envelope.completed_at is not a timestamp or null",
    )
    _require(
        isinstance(top["documents"], list) and len(top["documents"]) > 0,
        "documents must be a non-empty list",
    )
    documents = tuple(_document(d, i) for i, d in enumerate(top["documents"]))
    _require(
        len({d.id for d in documents}) == len(documents), "documents has a repeated document id"
    )
    files = top["files"]
    _require(isinstance(files, dict), "files must be an object")
    for path, digest in files.items():
        _require(is_hex_sha256(digest), f"files[{path!r}] is not a lowercase SHA-256 hex")
    ledger = _members(top["ledger"], {"origin", "tree_size"}, "ledger")
    _require(isinstance(ledger["origin"], str) and ledger["origin"] != "", "ledger.origin")
    _require(
        is_int(ledger["tree_size"]) and ledger["tree_size"] > 0,
        "ledger.tree_size must be a positive integer",
    )
    _require(is_timestamp(top["exported_at"]), "exported_at is not a timestamp")
    return Manifest(
        envelope=ManifestEnvelope(**env),
        documents=documents,
        files=dict(files),
        log_origin=ledger["origin"],
        tree_size=ledger["tree_size"],
        exported_at=top["exported_at"],
    )


def _document(value: Any, index: int) -> ManifestDocument:
    where = f"documents[{index}]"
    d = _members(value, {"id", "name", "sha256", "size", "sealed_path", "sealed_sha256"}, where)
    _require(isinstance(d["id"], str) and _DOC_ID.fullmatch(d["id"]) is not None, f"{where}.id")
    _require(isinstance(d["name"], str), f"{where}.name must be text")
    _require(is_hex_sha256(d["sha256"]), f"{where}.sha256 is not a lowercase SHA-256 hex")
    _require(is_int(d["size"]) and d["size"] >= 0, f"{where}.size must be a non-negative integer")
    _require(
        d["sealed_path"] == sealed_path(d["id"]),
        f"{where}.sealed_path must be {sealed_path(d['id'])!r}",
    )
    _require(is_hex_sha256(d["sealed_sha256"]), f"{where}.sealed_sha256 is not a SHA-256 hex")
    return ManifestDocument(**d)
