"""Build an evidence bundle (docs/evidence-bundle.md) from plain data.

The caller -- the export service -- gathers the envelope's summary, its sealed documents,
its ledger events with inclusion proofs, and the signed checkpoint those proofs lead to.
``build_bundle`` checks that the proofs really do lead to the checkpoint's root (an
exporter should never hand out evidence that cannot verify), lays out the entries, signs
the manifest and returns the canonical ZIP bytes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sealwright.clock import rfc3339
from sealwright.errors import ValidationError
from sealwright.evidence.container import write_container
from sealwright.evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    Manifest,
    ManifestDocument,
    ManifestEnvelope,
    is_hex_sha256,
    sealed_path,
)
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner, ManifestSigner
from sealwright.ledger.canonical import canonicalize
from sealwright.ledger.checkpoint import Checkpoint
from sealwright.ledger.events import event_leaf_hash
from sealwright.ledger.merkle import verify_inclusion
from sealwright.ledger.note import parse_note

__all__ = [
    "ASSERTIONS_DIR",
    "ASSERTION_JWKS_NAME",
    "CERTIFICATES_NAME",
    "CHECKPOINT_NAME",
    "EVENTS_NAME",
    "JWKS_NAME",
    "PROOFS_NAME",
    "BundleAssertion",
    "BundleContents",
    "Ed25519ManifestSigner",
    "EnvelopeSummary",
    "LedgerEntry",
    "ManifestSigner",
    "SealedDocument",
    "assertion_path",
    "build_bundle",
    "events_jsonl",
    "proofs_json",
]

EVENTS_NAME = "ledger/events.jsonl"
PROOFS_NAME = "ledger/proofs.json"
CHECKPOINT_NAME = "ledger/checkpoint.txt"
JWKS_NAME = "keys/jwks.json"
CERTIFICATES_NAME = "keys/certificates.pem"
#: Signed assertions of verification channels (docs/assertions.md), one file each, and an
#: informational copy of the assertion keys; both only in bundles that have assertions.
ASSERTIONS_DIR = "assertions/"
ASSERTION_JWKS_NAME = "keys/assertion-jwks.json"
_CHANNEL = re.compile(r"[a-z][a-z0-9-]{0,31}")


def assertion_path(number: int, channel: str) -> str:
    """``assertions/NNN-<channel>.jws``, numbered from 001 in ledger order."""
    if not _CHANNEL.fullmatch(channel) or not 1 <= number <= 999:
        raise ValidationError(f"assertion {number} of channel {channel!r} cannot name an entry")
    return f"{ASSERTIONS_DIR}{number:03d}-{channel}.jws"


@dataclass(frozen=True)
class EnvelopeSummary:
    id: str
    tenant: str
    title: str
    status: str
    created_at: datetime
    completed_at: datetime | None = None


@dataclass(frozen=True)
class SealedDocument:
    """One document: the hash and size of the bytes received at intake, and the sealed PDF."""

    id: str
    name: str
    sha256: str
    size: int
    sealed_pdf: bytes


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger event of the envelope: its leaf index, the event object (exactly as it
    was canonicalized into the leaf) and its inclusion proof under the bundle checkpoint."""

    index: int
    event: Mapping[str, Any]
    inclusion_proof: tuple[bytes, ...]


@dataclass(frozen=True)
class BundleAssertion:
    """A verification channel's signed assertion (compact JWS), as stored."""

    channel: str
    compact: str


@dataclass(frozen=True)
class BundleContents:
    envelope: EnvelopeSummary
    documents: tuple[SealedDocument, ...]
    #: Every event of the envelope, in ledger (index) order.
    events: tuple[LedgerEntry, ...]
    #: The signed checkpoint note covering every event; its size is the proofs' tree size.
    checkpoint: str
    #: The JWKS of manifest keys (informational copy, keys/jwks.json).
    jwks: Mapping[str, Any]
    #: PEM certificates: sealing chain, TSA chain (informational copy, keys/certificates.pem).
    certificates_pem: tuple[str, ...] = ()
    #: The envelope's signed assertions, in the order of their ledger events.
    assertions: tuple[BundleAssertion, ...] = ()
    #: The JWKS of assertion keys (informational copy, keys/assertion-jwks.json).
    assertion_jwks: Mapping[str, Any] | None = None


def events_jsonl(events: tuple[LedgerEntry, ...]) -> bytes:
    return b"".join(canonicalize({"index": e.index, "event": e.event}) + b"\n" for e in events)


def proofs_json(tree_size: int, events: tuple[LedgerEntry, ...]) -> bytes:
    inclusion = {
        str(e.index): [base64.b64encode(h).decode("ascii") for h in e.inclusion_proof]
        for e in events
    }
    return canonicalize({"tree_size": tree_size, "inclusion": inclusion})


def _checked_checkpoint(contents: BundleContents) -> Checkpoint:
    checkpoint = Checkpoint.from_body(parse_note(contents.checkpoint).text)
    indices = [e.index for e in contents.events]
    if not indices or indices != sorted(set(indices)):
        raise ValidationError("events must be non-empty, in ledger order, each index once")
    for entry in contents.events:
        verify_inclusion(
            event_leaf_hash(entry.event),
            entry.index,
            checkpoint.size,
            entry.inclusion_proof,
            checkpoint.root_hash,
        )
    return checkpoint


def build_bundle(contents: BundleContents, signer: ManifestSigner, exported_at: datetime) -> bytes:
    """The evidence bundle for ``contents`` as canonical ZIP bytes.

    Raises :class:`ProofError` if an event's proof does not lead to the checkpoint root,
    :class:`ValidationError` for data that cannot form a valid bundle.
    """
    checkpoint = _checked_checkpoint(contents)
    if not contents.documents:
        raise ValidationError("an evidence bundle needs at least one document")
    entries: dict[str, bytes] = {
        EVENTS_NAME: events_jsonl(contents.events),
        PROOFS_NAME: proofs_json(checkpoint.size, contents.events),
        CHECKPOINT_NAME: contents.checkpoint.encode("utf-8"),
        JWKS_NAME: canonicalize(contents.jwks),
        CERTIFICATES_NAME: "".join(
            pem if pem.endswith("\n") else pem + "\n" for pem in contents.certificates_pem
        ).encode("ascii"),
    }
    for number, assertion in enumerate(contents.assertions, start=1):
        entries[assertion_path(number, assertion.channel)] = assertion.compact.encode("ascii")
    if contents.assertions:
        entries[ASSERTION_JWKS_NAME] = canonicalize(contents.assertion_jwks or {"keys": []})
    documents = []
    for doc in contents.documents:
        if not is_hex_sha256(doc.sha256):
            raise ValidationError(f"document {doc.id}: sha256 must be lowercase hex")
        path = sealed_path(doc.id)
        if path in entries:
            raise ValidationError(f"document {doc.id} appears twice")
        entries[path] = doc.sealed_pdf
        documents.append(
            ManifestDocument(
                id=doc.id,
                name=doc.name,
                sha256=doc.sha256,
                size=doc.size,
                sealed_path=path,
                sealed_sha256=hashlib.sha256(doc.sealed_pdf).hexdigest(),
            )
        )
    env = contents.envelope
    manifest = Manifest(
        envelope=ManifestEnvelope(
            id=env.id,
            tenant=env.tenant,
            title=env.title,
            status=env.status,
            created_at=rfc3339(env.created_at),
            completed_at=None if env.completed_at is None else rfc3339(env.completed_at),
        ),
        documents=tuple(documents),
        files={name: hashlib.sha256(data).hexdigest() for name, data in sorted(entries.items())},
        log_origin=checkpoint.origin,
        tree_size=checkpoint.size,
        exported_at=rfc3339(exported_at),
    ).to_json()
    entries[MANIFEST_NAME] = manifest
    entries[SIGNATURE_NAME] = signer.sign(manifest).encode("ascii")
    return write_container(entries)
