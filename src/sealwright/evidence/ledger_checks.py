"""The ledger half of bundle verification: events, proofs, checkpoint, per-envelope chain.

Each ``check_*`` function returns a one-line summary on success and raises
:class:`VerificationFailed` listing every problem found (not just the first), each naming
the file, event index or document concerned.
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import operator
import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from sealwright.clock import parse_rfc3339
from sealwright.errors import ProofError, ValidationError, VerificationFailed
from sealwright.evidence.bundle import CHECKPOINT_NAME, EVENTS_NAME, PROOFS_NAME
from sealwright.evidence.manifest import Manifest, is_int, is_timestamp
from sealwright.evidence.trust import TrustStore
from sealwright.ledger.canonical import parse_canonical
from sealwright.ledger.checkpoint import Checkpoint, open_checkpoint
from sealwright.ledger.events import EVENT_VERSION
from sealwright.ledger.fast_canonical import accept_orjson
from sealwright.ledger.merkle import HASH_SIZE, inclusion_failures
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
_RECORD_MEMBERS = {"event", "index"}
# A canonical events.jsonl line: members in code-point order, nothing between the tokens.
_LINE_START, _LINE_INDEX = b'{"event":', b',"index":'
_EVENT_ID = re.compile(r"[0-9a-f]{32}")
_TAG = re.compile(r"[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+")
_MAX_LISTED = 10

ADDED = "api:document:added"
SEALED = "system:document:sealed"
COMPLETED = "system:envelope:completed"


@dataclass(slots=True)
class BundleEvent:
    """One line of events.jsonl; read-only by convention. (Not a frozen dataclass: a bundle
    has one per event, and those cost four times as much to build.)"""

    index: int
    event: Mapping[str, Any]
    leaf_hash: bytes


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No automatic garbage collection while a ledger file is parsed (the previous setting
    comes back after it). Parsing allocates tens of thousands of containers in a row,
    which sets off collection passes over them and, as they pile up, one over the whole
    heap: about a sixth of ``verify_bundle``'s time in ``bench/verify.py``. None of these
    objects is in a reference cycle, so those passes can free nothing; reference counting
    frees all the garbage a parse makes, as it goes. (Not ``gc.freeze()``: that would
    exempt the caller's whole heap from collection, for good.)"""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _fail_if(problems: Sequence[str]) -> None:
    if problems:
        shown = list(problems[:_MAX_LISTED])
        if len(problems) > _MAX_LISTED:
            shown.append(f"and {len(problems) - _MAX_LISTED} more")
        raise VerificationFailed("; ".join(shown))


def parse_events(data: bytes) -> tuple[BundleEvent, ...]:
    """ledger/events.jsonl: canonical ``{"event", "index"}`` lines, each ending in LF.

    A canonical line is exactly ``{"event":`` + JCS(event) + ``,"index":`` + index + ``}``
    (RFC 8785 writes a member's value as the canonical form of that value), so once a line
    is proved canonical, the event's leaf bytes are the slice between those two pieces (the
    last ``,"index":`` of the line: only digits follow it); the leaf hash is computed over
    that slice rather than over a second serialisation."""
    with _collector_paused():
        return _parse_events(data)


def _parse_events(data: bytes) -> tuple[BundleEvent, ...]:
    if not data.endswith(b"\n"):
        raise VerificationFailed(f"{EVENTS_NAME}: empty, or no newline after the last line")
    events: list[BundleEvent] = []
    sha256 = hashlib.sha256
    start = len(_LINE_START)
    last = -1
    for number, line in enumerate(data[:-1].split(b"\n"), start=1):
        # parse_canonical tries accept_orjson first too; called here, it saves two calls
        # for each line that it accepts.
        accepted = accept_orjson(line)
        if accepted is not None:
            record = accepted[0]
        else:
            try:
                record = parse_canonical(line)
            except ValidationError as exc:
                raise VerificationFailed(f"{EVENTS_NAME} line {number}: {exc}") from exc
        if not isinstance(record, dict) or record.keys() != _RECORD_MEMBERS:
            raise VerificationFailed(
                f"{EVENTS_NAME} line {number}: must be exactly {{index, event}}"
            )
        index, event = record["index"], record["event"]
        if not is_int(index) or index < 0 or not isinstance(event, dict):
            raise VerificationFailed(
                f"{EVENTS_NAME} line {number}: index must be a leaf index, event an object"
            )
        if index <= last:
            raise VerificationFailed(
                f"{EVENTS_NAME} line {number}: index {index} is not after {last}"
            )
        last = index
        leaf = line[start : line.rindex(_LINE_INDEX)]
        events.append(BundleEvent(index, event, sha256(b"\x00" + leaf).digest()))
    return tuple(events)


_INCLUSION_KEY = re.compile(r"0|[1-9][0-9]*")
_MAX_SAFE_INTEGER = 2**53 - 1  # larger JSON numbers are read as doubles


def parse_proofs(data: bytes) -> tuple[int, dict[int, tuple[bytes, ...]]]:
    """ledger/proofs.json: ``{"inclusion": {"<index>": [base64 hash, ...]}, "tree_size": N}``."""
    with _collector_paused():
        valid = _valid_proofs(data)
        if valid is not None:
            return valid
        # Not valid (or beyond the fast check): check step by step, to name the problem.
        return _proofs_step_by_step(data)


def _proofs_step_by_step(data: bytes) -> tuple[int, dict[int, tuple[bytes, ...]]]:
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
        if not _INCLUSION_KEY.fullmatch(key) or not isinstance(path, list):
            raise VerificationFailed(f"{PROOFS_NAME}: inclusion[{key!r}] is malformed")
        try:
            hashes = tuple(strict_b64decode(h) for h in path)
        except (ValueError, TypeError) as exc:
            raise VerificationFailed(f"{PROOFS_NAME}: inclusion[{key!r}]: {exc}") from exc
        if any(len(h) != HASH_SIZE for h in hashes):
            raise VerificationFailed(f"{PROOFS_NAME}: inclusion[{key!r}] has a non-SHA-256 node")
        proofs[int(key)] = hashes
    return size, proofs


# The canonical proofs.json, piece by piece (see _valid_proofs).
_PROOFS_START, _PROOFS_SIZE = b'{"inclusion":{', b'},"tree_size":'
_ENTRY_SEPARATOR, _KEY_END = b'],"', b'":['
_TREE_SIZE = re.compile(rb"[1-9][0-9]*")
# A node as it stands in a path, with the comma after it, its base64 characters as "A"s: the
# standard base64 of 32 bytes is 43 characters (the last carrying 4 bits of the hash and 2
# zero bits) and one "=".
_NODE_TEXT = b'"' + b"A" * 43 + b'=",'
_NODE_STEP = len(_NODE_TEXT)
_B64_AS_A = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", b"A" * 64
)
_LOW_BITS_ZERO = b"AEIMQUYcgkosw048"  # the base64 characters whose two low bits are zero


def _valid_proofs(data: bytes) -> tuple[int, dict[int, tuple[bytes, ...]]] | None:
    """:func:`parse_proofs` of a valid proofs.json, in far fewer steps; ``None`` for
    anything else, including everything the step-by-step check refuses.

    RFC 8785 writes a valid proofs.json as exactly
    ``{"inclusion":{`` + entries + ``},"tree_size":`` + N + ``}``, N a decimal without
    leading zeros, the entries ``"<key>":[<path>]`` joined by commas, keys decimal without
    leading zeros and in code-point order (so unique), each path its nodes as ``"<base64>"``
    joined by commas (decimal digits and base64 need no escapes). So the bytes are cut at
    those separators, and the pieces must be exactly such keys and paths: then the bytes
    are that canonical text, of exactly the document the step-by-step check accepts.

    Each path must be a run of ``"`` + 43 base64 characters + ``="`` separated by commas:
    checked for all paths at once, on their concatenation with every base64 character
    mapped to ``A``; the 43rd character must leave the two low bits zero, as canonical
    base64 does. With each ``=`` read as ``A`` (zero bits), the characters of a node decode
    to its 32 bytes and a 33rd byte; all nodes decode in one call."""
    if not data.startswith(_PROOFS_START) or not data.endswith(b"}"):
        return None
    end = data.rfind(_PROOFS_SIZE)
    size_text = data[end + len(_PROOFS_SIZE) : -1]
    if end < len(_PROOFS_START) or not _TREE_SIZE.fullmatch(size_text):
        return None
    size = int(size_text)
    if size > _MAX_SAFE_INTEGER:
        return None
    entries = data[len(_PROOFS_START) : end]
    keys: list[bytes] = []
    paths: list[bytes] = []
    if entries:
        if not entries.startswith(b'"') or not entries.endswith(b"]"):
            return None
        pairs = [entry.split(_KEY_END) for entry in entries[1:-1].split(_ENTRY_SEPARATOR)]
        if set(map(len, pairs)) != {2}:
            return None
        keys, paths = map(list, zip(*pairs, strict=True))
    try:
        indices = list(map(int, keys))
    except ValueError:
        return None
    # Canonical decimal: what int() reads back to the same text ("-1" aside), in order.
    if list(map(b"%d".__mod__, indices)) != keys or (indices and min(indices) < 0):
        return None
    if not all(map(operator.lt, keys, islice(keys, 1, None))):
        return None
    nodes = b",".join(filter(None, paths))  # [] paths hold no node
    count = (len(nodes) + 1) // _NODE_STEP
    if nodes and len(nodes) != count * _NODE_STEP - 1:
        return None
    if not (_NODE_TEXT * count).startswith(nodes.translate(_B64_AS_A)):
        return None
    if nodes[_NODE_STEP - 4 :: _NODE_STEP].translate(None, _LOW_BITS_ZERO):
        return None
    # Quotes and commas are no base64 characters: a lenient decoder skips them.
    raw = binascii.a2b_base64(nodes.replace(b"=", b"A"))
    proofs: dict[int, tuple[bytes, ...]] = {}
    offset = 0
    for index, path in zip(indices, paths, strict=True):
        length = (len(path) + 1) // _NODE_STEP
        proofs[index] = _nodes_of(length).unpack_from(raw, offset)
        offset += length * (HASH_SIZE + 1)
    return size, proofs


@lru_cache(maxsize=128)
def _nodes_of(count: int) -> struct.Struct:
    """Splits ``count`` 33-byte groups into their first 32 bytes."""
    return struct.Struct(f"{count * '32sx'}")


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
    """Every event has a proof, every proof an event, and each event's leaf hash is included
    at its index in the checkpoint's tree. The proofs are checked together
    (:func:`~sealwright.ledger.merkle.inclusion_failures`: the verdict of RFC 9162
    §2.1.3.2 for each, with nodes shared between paths hashed once)."""
    problems = []
    indices = {e.index for e in events}
    for extra in sorted(set(proofs) - indices):
        problems.append(f"{PROOFS_NAME} has a proof for index {extra} but no such event")
    # A generator, not a list: tens of thousands of tuples kept at once would set off
    # collection passes over every parsed event (see _collector_paused).
    proved = ((e.index, e.leaf_hash, proofs[e.index]) for e in events if e.index in proofs)
    failed = dict(inclusion_failures(proved, checkpoint.size, checkpoint.root_hash))
    if failed or not indices <= proofs.keys():
        for e in events:
            if e.index not in proofs:
                problems.append(f"event at index {e.index}: no inclusion proof")
            elif e.index in failed:
                problems.append(f"event at index {e.index}: not in the log ({failed[e.index]})")
    _fail_if(problems)
    return f"{len(events)} events included in the log of size {checkpoint.size}"


def _event_problems(e: BundleEvent, manifest: Manifest, time_ok: bool) -> list[str]:
    """What is wrong with one event on its own (``time_ok``: its time is a timestamp)."""
    ev, where = e.event, f"event at index {e.index}"
    if ev.keys() != _EVENT_MEMBERS:
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
    if not time_ok:
        problems.append(f"{where}: time {ev['time']!r} is not a timestamp")
    if not isinstance(ev["actor"], str) or not isinstance(ev["data"], dict):
        problems.append(f"{where}: actor must be text and data an object")
    return problems


def _before(time: str, earlier: str) -> bool:
    """Whether timestamp ``time`` is before timestamp ``earlier``. In ASCII digits, the one
    fixed-width format orders as text; other decimal digits (which the timestamp pattern's
    ``\\d`` admits) are compared as parsed times."""
    if time.isascii() and earlier.isascii():
        return time < earlier
    return parse_rfc3339(time) < parse_rfc3339(earlier)


def check_event_chain(events: Sequence[BundleEvent], manifest: Manifest) -> str:
    """All events belong to this envelope and tenant, and form its complete hash chain.

    An event that passes every check is recognised by one inline test (this runs for every
    event of a bundle); any other is checked again step by step, which words the problems.
    The inline test is stricter than the steps (exact ``int``, ``str`` and ``dict``, which is
    all that JSON parsing produces), so it passes nothing that they would refuse."""
    problems: list[str] = []
    tenant, envelope = manifest.envelope.tenant, manifest.envelope.id
    members, version = _EVENT_MEMBERS, EVENT_VERSION
    id_match, tag_match = _EVENT_ID.fullmatch, _TAG.fullmatch
    previous: BundleEvent | None = None
    previous_time: str | None = None  # the previous event's time, if it is a timestamp
    expected_prev: str | None = None  # the previous event's leaf hash, in hex
    for position, e in enumerate(events):
        ev = e.event
        time: Any = ev.get("time")
        time_ok = is_timestamp(time)
        if not (
            time_ok
            and ev.keys() == members
            and type(v := ev["v"]) is int
            and v == version
            and type(seq := ev["seq"]) is int
            and seq == position
            and ev["prev"] == expected_prev
            and type(event_id := ev["id"]) is str
            and id_match(event_id)
            and type(tag := ev["tag"]) is str
            and tag_match(tag)
            and ev["tenant"] == tenant
            and ev["envelope"] == envelope
            and type(ev["actor"]) is str
            and type(ev["data"]) is dict
        ):
            problems += _event_problems(e, manifest, time_ok)
            problems += _link_problems(e, position, previous)
        if (
            previous is not None
            and previous_time is not None
            and time_ok
            and _before(time, previous_time)
        ):
            problems.append(
                f"event at index {e.index}: time goes back before index {previous.index}"
            )
        previous, previous_time = e, (time if time_ok else None)
        expected_prev = e.leaf_hash.hex()
    _fail_if(problems)
    return f"{len(events)} events, seq 0..{len(events) - 1}, hash-chained, times in order"


def _link_problems(e: BundleEvent, position: int, previous: BundleEvent | None) -> list[str]:
    """What is wrong with an event's place in the chain: its seq and prev."""
    problems = []
    ev = e.event
    seq = ev.get("seq")
    if not is_int(seq) or seq != position:
        problems.append(f"event at index {e.index}: seq is {seq!r}, expected {position}")
    expected_prev = None if previous is None else previous.leaf_hash.hex()
    if ev.get("prev") != expected_prev:
        problems.append(
            f"event at index {e.index}: prev does not match the leaf hash of "
            + ("nothing (first event)" if previous is None else f"index {previous.index}")
        )
    return problems


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
