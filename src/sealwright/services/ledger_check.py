"""``sealwright ledger check`` (E4, H3): recompute the audit log from its stored rows.

Someone with write access to the database can change any row. What they cannot do without
the log key is sign a checkpoint, and what they cannot reach from the database is the copy
of every checkpoint kept in ``<data_dir>/ledger/checkpoints`` or the checkpoints an auditor
saved elsewhere (evidence bundles, witnesses). This check trusts none of the rows and
reports, by event index (and event id when known):

- each event row whose leaf is not the canonical JSON of an event, whose stored leaf hash is
  not ``SHA-256(0x00 || leaf)``, or whose denormalised columns (``event_id``, ``tenant_id``,
  ``envelope_id``, ``seq``, ``tag``, ``created_at``) say something its leaf does not -- the
  service queries those columns, so they must not be able to lie;
- gaps in the indices ``0..N-1``, repeated event ids, and breaks in each envelope's chain
  (``seq`` 0, 1, 2, ... and ``prev`` = hex leaf hash of its previous event);
- each signed checkpoint -- database rows, the copies, ``extra_checkpoints`` -- that does not
  verify with the log keys, or whose root is not the root of the events at its size; the
  damage is narrowed to the events between the last checkpoint that still matches and the
  first that does not;
- a checkpoint larger than the log (events deleted, or an older database restored) and two
  signed roots for one size (a fork);
- checkpoint rows whose size or root column differs from their note, whose timestamp token
  is not a valid token over the note body from a trusted TSA, does not give the row's
  ``created_at``, or differs from (or was removed despite) the token on file; and copies
  whose checkpoint row was deleted.

Events after the newest checkpoint are not vouched for by anything; the report says how many.
``check_ledger`` never raises for a bad ledger: every finding is a :class:`LedgerProblem`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.clock import parse_rfc3339
from sealwright.errors import ProofError, ValidationError
from sealwright.evidence.manifest import is_int, is_timestamp
from sealwright.ledger.canonical import parse_canonical
from sealwright.ledger.checkpoint import Checkpoint as SignedBody
from sealwright.ledger.checkpoint import open_checkpoint
from sealwright.ledger.events import EVENT_VERSION
from sealwright.ledger.merkle import EMPTY_ROOT, leaf_hash, node_hash
from sealwright.ledger.note import NoteVerifier
from sealwright.services.checkpoints import timestamp_digest
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Checkpoint, LedgerEvent

__all__ = [
    "LedgerProblem",
    "LedgerReport",
    "SignedSource",
    "StoredCheckpoint",
    "StoredEvent",
    "check_events",
    "check_ledger",
    "roots_at",
]

_EVENT_MEMBERS = {"v", "id", "tag", "tenant", "envelope", "seq", "prev", "time", "actor", "data"}
_EVENT_ID = re.compile(r"[0-9a-f]{32}")
_TAG = re.compile(r"[a-z0-9_-]+:[a-z0-9_-]+:[a-z0-9_-]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")


# -- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerProblem:
    """One finding. ``kind`` is a stable code:

    ``leaf``, ``leaf-hash``, ``column``, ``index``, ``duplicate-id``, ``chain`` (event rows);
    ``checkpoint``, ``timestamp``, ``checkpoint-deleted`` (checkpoints and their copies);
    ``root`` (events no longer give a signed root), ``rollback``, ``fork`` (history).
    """

    kind: str
    detail: str
    #: The event row concerned, by leaf index (as stored), and its event id when known.
    index: int | None = None
    event_id: str | None = None
    #: The tree size of the checkpoint concerned.
    checkpoint: int | None = None
    #: Leaf indices ``[start, end)`` the problem lies in, when it is narrowed to a range.
    events: tuple[int, int] | None = None

    def concerns(self, index: int) -> bool:
        """Whether this problem names event ``index``, itself or inside its range."""
        if self.index == index:
            return True
        return self.events is not None and self.events[0] <= index < self.events[1]

    @property
    def subject(self) -> str:
        if self.index is not None:
            ident = f" (id {self.event_id})" if self.event_id else ""
            return f"event {self.index}{ident}"
        if self.checkpoint is not None:
            return f"checkpoint {self.checkpoint}"
        return "log"

    def to_text(self) -> str:
        span = ""
        if self.events is not None:
            span = f" [{_span(*self.events)}]"
        return f"{self.subject}: {self.kind}: {self.detail}{span}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "index": self.index,
            "event_id": self.event_id,
            "checkpoint": self.checkpoint,
            "events": list(self.events) if self.events is not None else None,
        }


@dataclass(frozen=True)
class LedgerReport:
    origin: str
    #: Event rows stored, and the root they recompute to.
    size: int
    root_hash: bytes
    #: Signed checkpoints examined (database rows, copies, extra ones).
    checkpoints: int
    #: Events vouched for: the size of the largest signed checkpoint the events still match.
    covered: int
    problems: tuple[LedgerProblem, ...]
    #: Facts worth knowing that are not problems (e.g. events not yet covered).
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def concerning(self, index: int) -> tuple[LedgerProblem, ...]:
        return tuple(p for p in self.problems if p.concerns(index))

    def to_text(self) -> str:
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [
            f"Ledger {self.origin}: {self.size} events, root {root}",
            f"{self.checkpoints} signed checkpoints examined; the events match signed "
            f"checkpoints up to size {self.covered}",
        ]
        lines += [f"FAIL  {p.to_text()}" for p in self.problems]
        lines += [f"note  {n}" for n in self.notes]
        lines.append(
            "RESULT: CONSISTENT"
            if self.ok
            else f"RESULT: NOT CONSISTENT ({len(self.problems)} problems)"
        )
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "root_hash": base64.b64encode(self.root_hash).decode("ascii"),
            "checkpoints": self.checkpoints,
            "covered": self.covered,
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
        }


# -- event rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    """One ``ledger_events`` row exactly as stored."""

    idx: int
    event_id: str
    tenant_id: str
    envelope_id: str | None
    seq: int | None
    tag: str
    leaf: bytes
    leaf_hash: bytes
    created_at: datetime


@dataclass(frozen=True)
class _Link:
    seq: int
    leaf_hash: str
    index: int
    time: datetime | None


@dataclass
class EventScan:
    """What :func:`check_events` found: the leaf hashes recomputed from the leaves, in
    stored order (the tree the database presents), and the problems."""

    leaf_hashes: list[bytes] = field(default_factory=list)
    problems: list[LedgerProblem] = field(default_factory=list)


def check_events(rows: Iterable[StoredEvent]) -> EventScan:
    """Check event rows given in index order (see the module docstring)."""
    scan = EventScan()
    expected = 0
    ids: dict[str, int] = {}
    chains: dict[str, _Link] = {}
    gaps: list[tuple[int, int]] = []
    moved: list[tuple[int, str]] = []  # rows not at their position: (index, event id)
    for position, row in enumerate(rows):
        event, problems = _check_row(row)
        ident = event["id"] if event and isinstance(event.get("id"), str) else row.event_id

        def problem(kind: str, detail: str, row: StoredEvent = row, ident: str = ident) -> None:
            scan.problems.append(LedgerProblem(kind, detail, index=row.idx, event_id=ident))

        for kind, detail in problems:
            problem(kind, detail)
        if row.idx < 0:
            problem("index", f"stored at index {row.idx}, which is not a leaf index")
        elif row.idx > expected:
            gaps.append((expected, row.idx))
        expected = max(expected, row.idx + 1)
        if row.idx != position:
            moved.append((row.idx, ident))
        computed = leaf_hash(row.leaf)
        scan.leaf_hashes.append(computed)
        if event is None:
            continue
        if event["id"] in ids:
            problem("duplicate-id", f"event id also used at index {ids[event['id']]}")
        ids.setdefault(event["id"], row.idx)
        _check_chain(event, row.idx, computed, chains, problem)
    size = len(scan.leaf_hashes)
    for start, end in gaps:
        if start < size:
            end = min(end, size)
            scan.problems.append(
                LedgerProblem(
                    "index",
                    f"nothing is stored for {_span(start, end)}: deleted or moved",
                    index=start,
                    events=(start, end),
                )
            )
    for index, ident in moved:
        if index >= size:
            scan.problems.append(
                LedgerProblem(
                    "index",
                    f"stored at index {index}, beyond the end of a log of {size} events",
                    index=index,
                    event_id=ident,
                )
            )
    return scan


def _span(start: int, end: int) -> str:
    """``[start, end)`` in words: "event 7", "events 7..9"."""
    return f"event {start}" if end == start + 1 else f"events {start}..{end - 1}"


def _by_index(problem: LedgerProblem) -> int:
    return problem.index if problem.index is not None else -1


def _check_row(row: StoredEvent) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    if leaf_hash(row.leaf) != row.leaf_hash:
        problems.append(("leaf-hash", "the stored leaf hash is not SHA-256(0x00 || leaf)"))
    try:
        event = parse_canonical(row.leaf)
    except ValidationError as exc:
        return None, [*problems, ("leaf", f"the leaf is not canonical JSON ({exc})")]
    shape = _shape_problem(event)
    if shape is not None:
        return None, [*problems, ("leaf", shape)]
    columns: list[tuple[str, object, object]] = [
        ("event_id", row.event_id, event["id"]),
        ("tenant_id", row.tenant_id, event["tenant"]),
        ("envelope_id", row.envelope_id, event["envelope"]),
        ("seq", row.seq, event["seq"]),
        ("tag", row.tag, event["tag"]),
        ("created_at", row.created_at, parse_rfc3339(event["time"])),
    ]
    for name, stored, said in columns:
        if stored != said or type(stored) is not type(said):
            problems.append(("column", f"{name} is {stored!r} but the leaf says {said!r}"))
    return event, problems


def _shape_problem(event: Any) -> str | None:
    """Why ``event`` is not an event of docs/ledger.md §1, or None."""
    if not isinstance(event, dict) or set(event) != _EVENT_MEMBERS:
        return f"the leaf is not an event object with exactly {sorted(_EVENT_MEMBERS)}"
    envelope, seq, prev = event["envelope"], event["seq"], event["prev"]
    checks = [
        (is_int(event["v"]) and event["v"] == EVENT_VERSION, "v"),
        (isinstance(event["id"], str) and _EVENT_ID.fullmatch(event["id"]), "id"),
        (isinstance(event["tag"], str) and _TAG.fullmatch(event["tag"]), "tag"),
        (isinstance(event["tenant"], str), "tenant"),
        (envelope is None or isinstance(envelope, str), "envelope"),
        ((seq is None) if envelope is None else (is_int(seq) and seq >= 0), "seq"),
        (prev is None or (isinstance(prev, str) and _HEX64.fullmatch(prev)), "prev"),
        (envelope is not None or prev is None, "prev"),
        (is_timestamp(event["time"]), "time"),
        (isinstance(event["actor"], str), "actor"),
        (isinstance(event["data"], dict), "data"),
    ]
    bad = sorted({name for good, name in checks if not good})
    if not bad:
        return None
    return f"the event's {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} malformed"


def _check_chain(
    event: dict[str, Any],
    index: int,
    computed: bytes,
    chains: dict[str, _Link],
    problem: Callable[[str, str], None],
) -> None:
    envelope = event["envelope"]
    if envelope is None:
        return
    last = chains.get(envelope)
    expected_seq = 0 if last is None else last.seq + 1
    after = "as its envelope's first event" if last is None else f"after index {last.index}"
    if event["seq"] != expected_seq:
        problem("chain", f"seq is {event['seq']}, expected {expected_seq} {after}")
    expected_prev = None if last is None else last.leaf_hash
    if event["prev"] != expected_prev:
        problem("chain", f"prev is not the leaf hash of its envelope's previous event ({after})")
    time = parse_rfc3339(event["time"])
    if last is not None and last.time is not None and time < last.time:
        problem("chain", f"time goes back before its envelope's event at index {last.index}")
    chains[envelope] = _Link(event["seq"], computed.hex(), index, time)


def roots_at(leaf_hashes: Sequence[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """RFC 9162 roots of the first ``s`` leaves for each ``s`` in ``sizes`` (0 < s <= n, or 0),
    in one pass: the perfect subtrees on the right edge are kept on a stack, and a root is
    their fold from the right, exactly the RFC's split at the largest power of two."""
    wanted = {s for s in sizes if 0 <= s <= len(leaf_hashes)}
    roots = {0: EMPTY_ROOT} if 0 in wanted else {}
    stack: list[tuple[int, bytes]] = []
    for i, h in enumerate(leaf_hashes):
        height, node = 0, h
        while stack and stack[-1][0] == height:
            node = node_hash(stack.pop()[1], node)
            height += 1
        stack.append((height, node))
        if i + 1 in wanted:
            root = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                root = node_hash(left, root)
            roots[i + 1] = root
    return roots


# -- checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCheckpoint:
    """One ``checkpoints`` row exactly as stored."""

    size: int
    root_hash: bytes
    note: str
    created_at: datetime
    timestamp_token: bytes | None


@dataclass(frozen=True)
class SignedSource:
    """A checkpoint note from outside the database: a copy on file or an extra one."""

    label: str
    note: str | None  # None: it could not be read (``error`` says why)
    #: The size its file name claims (copies), if any.
    named_size: int | None = None
    #: The timestamp token on file beside it (copies), if any.
    token: bytes | None = None
    error: str | None = None
    is_copy: bool = False


@dataclass(frozen=True)
class _Head:
    label: str
    body: SignedBody


class _CheckpointChecks:
    def __init__(
        self,
        *,
        origin: str,
        verifiers: Sequence[NoteVerifier],
        tsa_roots: Sequence[x509.Certificate],
    ) -> None:
        self.origin = origin
        self.verifiers = verifiers
        self.tsa_roots = tsa_roots
        self.problems: list[LedgerProblem] = []
        self.notes: list[str] = []
        self.heads: list[_Head] = []

    def problem(self, kind: str, detail: str, size: int | None, **extra: Any) -> None:
        self.problems.append(LedgerProblem(kind, detail, checkpoint=size, **extra))

    def _open(self, label: str, note: str, size: int | None) -> SignedBody | None:
        try:
            body = open_checkpoint(note, self.verifiers, origin=self.origin)
        except ProofError as exc:
            self.problem("checkpoint", f"{label} does not verify with the log keys: {exc}", size)
            return None
        self.heads.append(_Head(label, body))
        return body

    def rows(self, rows: Sequence[StoredCheckpoint], copies: Sequence[SignedSource]) -> None:
        tokens_on_file = {c.named_size: c.token for c in copies if c.is_copy}
        pending: list[tuple[StoredCheckpoint, SignedBody]] = []
        for row in rows:
            label = "the database row"
            body = self._open(label, row.note, row.size)
            if body is None:
                continue
            if (body.size, body.root_hash) != (row.size, row.root_hash):
                self.problem(
                    "checkpoint", "the size or root column differs from its note", row.size
                )
            on_file = tokens_on_file.get(row.size)
            if row.timestamp_token is None:
                if on_file is not None:
                    self.problem("timestamp", "its timestamp token was removed", row.size)
                else:
                    self.notes.append(f"checkpoint {row.size} has no timestamp")
                continue
            if on_file is not None and on_file != row.timestamp_token:
                self.problem("timestamp", "its timestamp token differs from the copy", row.size)
            pending.append((row, body))
        for (row, _), failure in zip(pending, asyncio.run(self._tokens(pending)), strict=True):
            if failure is not None:
                self.problem("timestamp", failure, row.size)

    async def _tokens(
        self, pending: Sequence[tuple[StoredCheckpoint, SignedBody]]
    ) -> list[str | None]:
        return [await self._token(row, body) for row, body in pending]

    async def _token(self, row: StoredCheckpoint, body: SignedBody) -> str | None:
        """Why the row's token does not vouch for its note at its created_at, or None."""
        message = body.to_body().encode("utf-8")
        try:
            signed_data = cms.ContentInfo.load(row.timestamp_token)["content"]
            info = signed_data["encap_content_info"]["content"].parsed
            if not isinstance(info, tsp.TSTInfo):
                return "the timestamp token holds no TSTInfo"
            imprint = info["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            if (algorithm, imprint["hashed_message"].native) != (
                "sha256",
                timestamp_digest(body.to_body()),
            ):
                return "the timestamp token is not over SHA-256 of the note body"
            moment: datetime = info["gen_time"].native
            context = ValidationContext(
                trust_roots=[translate_pyca_cryptography_cert_to_asn1(c) for c in self.tsa_roots],
                allow_fetching=False,
                revocation_mode="soft-fail",
                moment=moment,
            )
            status = await validate_tst_signed_data(
                signed_data, context, lambda algorithm: hashlib.new(algorithm, message).digest()
            )
        except Exception as exc:  # any parse or validation failure is a bad token
            return f"the timestamp token cannot be validated ({type(exc).__name__})"
        if not (status["intact"] and status["valid"]):
            return "the timestamp token's signature does not verify"
        if status.get("trust_problem_indic") is not None:
            return "the timestamp token does not chain to a trusted TSA root"
        if moment != row.created_at:
            return f"created_at is {row.created_at.isoformat()} but the token says {moment}"
        return None

    def sources(self, sources: Sequence[SignedSource], db_sizes: set[int], size: int) -> None:
        for source in sources:
            if source.note is None:
                self.problem("checkpoint", f"{source.label}: {source.error}", source.named_size)
                continue
            body = self._open(source.label, source.note, source.named_size)
            if body is None:
                continue
            if source.named_size is not None and body.size != source.named_size:
                self.problem(
                    "checkpoint", f"{source.label} holds checkpoint {body.size}", source.named_size
                )
            if source.is_copy and body.size <= size and body.size not in db_sizes:
                self.problem(
                    "checkpoint-deleted",
                    f"{source.label} is on file but its database row is gone",
                    body.size,
                )

    def history(self, leaf_hashes: Sequence[bytes]) -> int:
        """Compare every signed head with the events; return the largest matching size."""
        size = len(leaf_hashes)
        by_size: dict[int, dict[bytes, list[str]]] = defaultdict(lambda: defaultdict(list))
        for head in self.heads:
            by_size[head.body.size][head.body.root_hash].append(head.label)
        for s, roots in sorted(by_size.items()):
            if len(roots) > 1:
                labels = "; ".join(", ".join(v) for v in roots.values())
                self.problem("fork", f"different roots are signed for size {s} ({labels})", s)
        computed = roots_at(leaf_hashes, by_size)
        matching = sorted(
            s for s, roots in by_size.items() if s in computed and computed[s] in roots
        )
        for s, roots in sorted(by_size.items()):
            labels = ", ".join(label for v in roots.values() for label in v)
            if s > size:
                self.problem(
                    "rollback",
                    f"signed at size {s} ({labels}) but the log holds {size} events: events "
                    "were deleted or an older database was restored",
                    s,
                    events=(size, s),
                )
                continue
            if computed[s] in roots:
                continue  # a second root for this size is reported as a fork above
            above = [m for m in matching if m > s]
            if above:
                self.problem(
                    "fork",
                    f"the root signed for size {s} ({labels}) is not part of the history "
                    f"that checkpoint {above[0]} vouches for",
                    s,
                )
                continue
            start = max((m for m in matching if m < s), default=0)
            self.problem(
                "root",
                f"the events do not give the root signed for size {s} ({labels}): "
                f"something in {_span(start, s)} was changed, inserted, deleted or reordered",
                s,
                events=(start, s),
            )
        return matching[-1] if matching else 0


# -- putting it together -------------------------------------------------------------------


def check_ledger(
    rt: Runtime,
    *,
    extra_checkpoints: Sequence[str] = (),
    verifiers: Sequence[NoteVerifier] | None = None,
    tsa_roots: Sequence[x509.Certificate] | None = None,
) -> LedgerReport:
    """Check the whole ledger of ``rt`` (see the module docstring).

    ``extra_checkpoints`` are signed notes from elsewhere (a bundle's ``checkpoint.txt``, a
    witness's cosigned checkpoint). ``verifiers`` are the log keys and ``tsa_roots`` the
    timestamp authority's roots to trust; by default the runtime's own (log keys current and
    retired) -- an auditor passes those of a pinned trust file.
    """
    publisher = rt.checkpoints
    checks = _CheckpointChecks(
        origin=publisher.origin,
        verifiers=publisher.verifiers if verifiers is None else tuple(verifiers),
        tsa_roots=tuple(publisher.tsa.trust_roots if tsa_roots is None else tsa_roots),
    )
    # Copies first, then checkpoint rows, then events: each read can only see more appended
    # than the one before, so concurrent appends never look like a rollback.
    copies = _read_copies(rt)
    extras = [
        SignedSource(label=f"extra checkpoint #{i}", note=note)
        for i, note in enumerate(extra_checkpoints, start=1)
    ]
    try:
        with rt.db.transaction() as session:
            rows = _stored_checkpoints(session)
            scan = check_events(_stored_events(session))
    except Exception as exc:  # a database too damaged to read is a finding, not a crash
        return LedgerReport(
            origin=publisher.origin,
            size=0,
            root_hash=EMPTY_ROOT,
            checkpoints=0,
            covered=0,
            problems=(LedgerProblem("leaf", f"the ledger tables cannot be read: {exc}"),),
        )
    size = len(scan.leaf_hashes)
    checks.rows(rows, copies)
    checks.sources([*copies, *extras], {r.size for r in rows}, size)
    covered = checks.history(scan.leaf_hashes)
    on_file = {c.named_size for c in copies}
    missing = sorted(r.size for r in rows if r.size not in on_file)
    notes = list(checks.notes)
    if missing:
        notes.append(
            f"{len(missing)} checkpoints have no copy in {publisher.copies_dir} "
            f"(sizes {', '.join(map(str, missing[:10]))}{', ...' if len(missing) > 10 else ''})"
        )
    if covered < size:
        notes.append(f"{_span(covered, size)}: not yet covered by a signed checkpoint")
    return LedgerReport(
        origin=publisher.origin,
        size=size,
        root_hash=roots_at(scan.leaf_hashes, [size])[size],
        checkpoints=len(checks.heads),
        covered=covered,
        problems=tuple(sorted(scan.problems, key=_by_index) + checks.problems),
        notes=tuple(notes),
    )


def _read_copies(rt: Runtime) -> list[SignedSource]:
    copies = []
    for copy in rt.checkpoints.copies():
        label = f"copy {copy.note_path}"
        try:
            note: str | None = copy.note_path.read_text("utf-8")
            error = None
        except (OSError, UnicodeDecodeError) as exc:
            note, error = None, f"cannot be read ({exc})"
        try:
            token: bytes | None = copy.token_path.read_bytes()
        except FileNotFoundError:
            token = None
        except OSError:
            token = b""  # unreadable: differs from any real token, so it is reported
        copies.append(SignedSource(label, note, copy.size, token=token, error=error, is_copy=True))
    return copies


def _bytes(value: object) -> bytes:
    # SQLite keeps whatever type was written; a tampered BLOB column may come back as text.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def _stored_checkpoints(session: Session) -> list[StoredCheckpoint]:
    rows = session.execute(select(Checkpoint).order_by(Checkpoint.size)).scalars()
    return [
        StoredCheckpoint(
            size=r.size,
            root_hash=_bytes(r.root_hash),
            note=str(r.note),
            created_at=r.created_at,
            timestamp_token=None if r.timestamp_token is None else _bytes(r.timestamp_token),
        )
        for r in rows
    ]


def _stored_events(session: Session) -> Iterator[StoredEvent]:
    t = LedgerEvent
    query = select(
        t.idx,
        t.event_id,
        t.tenant_id,
        t.envelope_id,
        t.seq,
        t.tag,
        t.leaf,
        t.leaf_hash,
        t.created_at,
    ).order_by(t.idx)
    for row in session.execute(query.execution_options(yield_per=2000)):
        yield StoredEvent(
            idx=row.idx,
            event_id=row.event_id,
            tenant_id=row.tenant_id,
            envelope_id=row.envelope_id,
            seq=row.seq,
            tag=row.tag,
            leaf=_bytes(row.leaf),
            leaf_hash=_bytes(row.leaf_hash),
            created_at=row.created_at,
        )
