"""The ledger half of bundle verification: events, proofs, checkpoint, per-envelope chain.

Each ``check_*`` function returns a one-line summary on success and raises
:class:`VerificationFailed` listing every problem found (not just the first), each naming
the file, event index or document concerned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sealwright.clock import parse_rfc3339
from sealwright.errors import ProofError, ValidationError, VerificationFailed
from sealwright.evidence.bundle import CHECKPOINT_NAME, EVENTS_NAME, PROOFS_NAME
from sealwright.evidence.manifest import Manifest, is_int, is_timestamp
from sealwright.evidence.trust import TrustStore
from sealwright.ledger.canonical import parse_canonical
from sealwright.ledger.checkpoint import Checkpoint, open_checkpoint
from sealwright.ledger.events import EVENT_VERSION, event_leaf_hash
from sealwright.ledger.merkle import HASH_SIZE, verify_inclusion
from sealwright.ledger.note import strict_b64decode

__all__ = [
    "BundleEvent",
    "check_checkpoint",
    "check_document_events",
    "check_event_chain",
    "check_inclusion",
    "parse_events",
    "parse_proofs",
]

_EVENT_MEMBERS = {"v", "id", "tag", "tenant", "envelope", "seq", "prev", "time", "actor", "data"}
_EVENT_ID = re.compile(r"[0-9a-f]{32}")
_TAG = re.compile(r"[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+")
_MAX_LISTED = 10

ADDED = "api:document:added"
SEALED = "system:document:sealed"
COMPLETED = "system:envelope:completed"


@dataclass(frozen=True)
class BundleEvent:
    index: int
    event: Mapping[str, Any]
    leaf_hash: bytes


def _fail_if(problems: Sequence[str]) -> None:
    if problems:
        shown = list(problems[:_MAX_LISTED])
        if len(problems) > _MAX_LISTED:
            shown.append(f"and {len(problems) - _MAX_LISTED} more")
        raise VerificationFailed("; ".join(shown))


def parse_events(data: bytes) -> tuple[BundleEvent, ...]:
    """ledger/events.jsonl: canonical ``{"event", "index"}`` lines, each ending in LF."""
    if not data.endswith(b"\n"):
        raise VerificationFailed(f"{EVENTS_NAME}: empty, or no newline after the last line")
    events: list[BundleEvent] = []
    for number, line in enumerate(data[:-1].split(b"\n"), start=1):
        where = f"{EVENTS_NAME} line {number}"
        try:
            record = parse_canonical(line)
        except ValidationError as exc:
            raise VerificationFailed(f"{where}: {exc}") from exc
        if not isinstance(record, dict) or set(record) != {"index", "event"}:
            raise VerificationFailed(f"{where}: must be exactly {{index, event}}")
        index, event = record["index"], record["event"]
        if not is_int(index) or index < 0 or not isinstance(event, dict):
            raise VerificationFailed(f"{where}: index must be a leaf index, event an object")
        if events and index <= events[-1].index:
            raise VerificationFailed(f"{where}: index {index} is not after {events[-1].index}")
        events.append(BundleEvent(index=index, event=event, leaf_hash=event_leaf_hash(event)))
    return tuple(events)


def parse_proofs(data: bytes) -> tuple[int, dict[int, tuple[bytes, ...]]]:
    """ledger/proofs.json: ``{"inclusion": {"<index>": [base64 hash, ...]}, "tree_size": N}``."""
    try:
        doc = parse_canonical(data)
    except ValidationError as exc:
        raise VerificationFailed(f"{PROOFS_NAME}: {exc}") from exc
    if not isinstance(doc, dict) or set(doc) != {"tree_size", "inclusion"}:
        raise VerificationFailed(f"{PROOFS_NAME}: must be exactly {{inclusion, tree_size}}")
    size, inclusion = doc["tree_size"], doc["inclusion"]
    if not is_int(size) or size <= 0 or not isinstance(inclusion, dict):
        raise VerificationFailed(f"{PROOFS_NAME}: malformed tree_size or inclusion")
    proofs: dict[int, tuple[bytes, ...]] = {}
    for key, path in inclusion.items():
        if not re.fullmatch(r"0|[1-9][0-9]*", key) or not isinstance(path, list):
            raise VerificationFailed(f"{PROOFS_NAME}: inclusion[{key!r}] is malformed")
        try:
            hashes = tuple(strict_b64decode(h) for h in path)
        except (ValueError, TypeError) as exc:
            raise VerificationFailed(f"{PROOFS_NAME}: inclusion[{key!r}]: {exc}") from exc
        if any(len(h) != HASH_SIZE for h in hashes):
            raise VerificationFailed(f"{PROOFS_NAME}: inclusion[{key!r}] has a non-SHA-256 node")
        proofs[int(key)] = hashes
    return size, proofs


def check_checkpoint(
    note: bytes, trust: TrustStore, manifest: Manifest, proofs_tree_size: int
) -> Checkpoint:
    """The checkpoint is signed by the pinned log key, comes from the pinned log, and has
    the tree size that the manifest and the proofs claim."""
    try:
        checkpoint = open_checkpoint(note, trust.checkpoint_keys, origin=trust.log_origin)
    except ProofError as exc:
        raise VerificationFailed(f"{CHECKPOINT_NAME}: {exc}") from exc
    problems = []
    if manifest.log_origin != trust.log_origin:
        problems.append(f"manifest ledger.origin {manifest.log_origin!r} is not the pinned log")
    if checkpoint.size != manifest.tree_size:
        problems.append(
            f"checkpoint size {checkpoint.size} != manifest ledger.tree_size {manifest.tree_size}"
        )
    if checkpoint.size != proofs_tree_size:
        problems.append(
            f"checkpoint size {checkpoint.size} != {PROOFS_NAME} tree_size {proofs_tree_size}"
        )
    _fail_if(problems)
    return checkpoint


def check_inclusion(
    events: Sequence[BundleEvent], proofs: Mapping[int, tuple[bytes, ...]], checkpoint: Checkpoint
) -> str:
    problems = []
    indices = {e.index for e in events}
    for extra in sorted(set(proofs) - indices):
        problems.append(f"{PROOFS_NAME} has a proof for index {extra} but no such event")
    for e in events:
        if e.index not in proofs:
            problems.append(f"event at index {e.index}: no inclusion proof")
            continue
        try:
            verify_inclusion(
                e.leaf_hash, e.index, checkpoint.size, proofs[e.index], checkpoint.root_hash
            )
        except ProofError as exc:
            problems.append(f"event at index {e.index}: not in the log ({exc})")
    _fail_if(problems)
    return f"{len(events)} events included in the log of size {checkpoint.size}"


def _event_problems(e: BundleEvent, manifest: Manifest) -> list[str]:
    ev, where = e.event, f"event at index {e.index}"
    if set(ev) != _EVENT_MEMBERS:
        return [f"{where}: members must be exactly {sorted(_EVENT_MEMBERS)}"]
    problems = []
    if not is_int(ev["v"]) or ev["v"] != EVENT_VERSION:
        problems.append(f"{where}: v is {ev['v']!r}, expected {EVENT_VERSION}")
    if not isinstance(ev["id"], str) or not _EVENT_ID.fullmatch(ev["id"]):
        problems.append(f"{where}: id is not 32 lowercase hex digits")
    if not isinstance(ev["tag"], str) or not _TAG.fullmatch(ev["tag"]):
        problems.append(f"{where}: tag is not source:subject:action")
    if ev["tenant"] != manifest.envelope.tenant:
        problems.append(f"{where}: tenant {ev['tenant']!r} is not the envelope's tenant")
    if ev["envelope"] != manifest.envelope.id:
        problems.append(f"{where}: envelope {ev['envelope']!r} is not {manifest.envelope.id!r}")
    if not is_timestamp(ev["time"]):
        problems.append(f"{where}: time {ev['time']!r} is not a timestamp")
    if not isinstance(ev["actor"], str) or not isinstance(ev["data"], dict):
        problems.append(f"{where}: actor must be text and data an object")
    return problems


def check_event_chain(events: Sequence[BundleEvent], manifest: Manifest) -> str:
    """All events belong to this envelope and tenant, and form its complete hash chain."""
    problems: list[str] = []
    previous: BundleEvent | None = None
    for position, e in enumerate(events):
        problems += _event_problems(e, manifest)
        ev, where = e.event, f"event at index {e.index}"
        if not is_int(ev.get("seq")) or ev.get("seq") != position:
            problems.append(f"{where}: seq is {ev.get('seq')!r}, expected {position}")
        expected_prev = None if previous is None else previous.leaf_hash.hex()
        if ev.get("prev") != expected_prev:
            problems.append(
                f"{where}: prev does not match the leaf hash of "
                + ("nothing (first event)" if previous is None else f"index {previous.index}")
            )
        if (
            previous is not None
            and is_timestamp(ev.get("time"))
            and is_timestamp(previous.event.get("time"))
            and parse_rfc3339(ev["time"]) < parse_rfc3339(previous.event["time"])
        ):
            problems.append(f"{where}: time goes back before index {previous.index}")
        previous = e
    _fail_if(problems)
    return f"{len(events)} events, seq 0..{len(events) - 1}, hash-chained, times in order"


def check_document_events(
    events: Sequence[BundleEvent], manifest: Manifest, sealed_hashes: Mapping[str, str]
) -> str:
    """Each document's hashes are those the ledger recorded at intake and at sealing, the
    sealed file is the one recorded, and the envelope's completion is on the ledger.
    ``sealed_hashes`` maps sealed_path to the SHA-256 hex of that entry's bytes."""
    problems = []

    def about(tag: str, doc_id: str) -> list[BundleEvent]:
        return [
            e
            for e in events
            if e.event.get("tag") == tag
            and isinstance(e.event.get("data"), dict)
            and e.event["data"].get("document") == doc_id
        ]

    for doc in manifest.documents:
        where = f"document {doc.id}"
        added = about(ADDED, doc.id)
        if len(added) != 1:
            problems.append(f"{where}: {len(added)} {ADDED} events, expected 1")
        elif (added[0].event["data"].get("sha256"), added[0].event["data"].get("size")) != (
            doc.sha256,
            doc.size,
        ):
            problems.append(
                f"{where}: original sha256/size differ from {ADDED} at index {added[0].index}"
            )
        actual = sealed_hashes.get(doc.sealed_path)
        if actual != doc.sealed_sha256:
            problems.append(f"{where}: {doc.sealed_path} does not hash to sealed_sha256")
        sealed = about(SEALED, doc.id)
        if not sealed:
            problems.append(f"{where}: no {SEALED} event")
        elif sealed[-1].event["data"].get("sha256") != actual:
            problems.append(
                f"{where}: {doc.sealed_path} is not the PDF sealed at index {sealed[-1].index}"
            )
    if not any(e.event.get("tag") == COMPLETED for e in events):
        problems.append(f"no {COMPLETED} event")
    _fail_if(problems)
    return f"{len(manifest.documents)} documents match their intake and sealing events"
