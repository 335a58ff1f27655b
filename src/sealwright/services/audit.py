"""The audit log: appends events as RFC 9162 leaves (checkpoints: ``services/checkpoints.py``).

Appends happen inside the caller's transaction, so an event is recorded exactly when the
change it describes is. No row of a ledger table is ever updated: appends are serialised
by a lock that writes nothing -- on PostgreSQL a transaction-scoped advisory lock, on
SQLite the write lock that ``BEGIN IMMEDIATE`` takes (``storage.db.make_engine``). Under
that lock the next leaf index is ``max(idx) + 1``, and each envelope's head is its event
with the highest ``seq``. The lock is held until the transaction ends, so the committed
events are always exactly the indices ``0 .. size - 1``.

PostgreSQL must run the appending transaction at READ COMMITTED (its default): the reads
taken after the lock then see every append committed before it. Under a snapshot taken
earlier, a stale maximum would collide with the primary key and the transaction would
fail -- the constraints on ``idx`` and ``(envelope_id, seq)`` never let a gap or a fork
be stored.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from sealwright.clock import Clock, rfc3339
from sealwright.domain.events import EventTag
from sealwright.errors import ConfigurationError
from sealwright.ledger.fast_canonical import canonicalize_fast
from sealwright.ledger.merkle import leaf_hash
from sealwright.storage.models import LedgerEvent

__all__ = ["LEDGER_LOCK_ID", "AuditLog", "NewEvent"]

#: The PostgreSQL advisory lock key that serialises appends ("SealLedg" in ASCII).
LEDGER_LOCK_ID = 0x5365_616C_4C65_6467


@dataclass(frozen=True)
class NewEvent:
    """One event to append; the log adds its id, time, index and envelope chain."""

    tag: EventTag
    tenant: str
    actor: str
    envelope: str | None = None
    #: Hashes and pseudonymous ids only (docs/ledger.md).
    data: Mapping[str, Any] | None = None


#: Called with the appended events inside the appending transaction (an outbox hook: the
#: webhook outbox writes its delivery rows there, so they exist exactly when the events do).
Observer = Callable[[Session, Sequence[LedgerEvent]], None]


class AuditLog:
    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock
        self.observers: list[Observer] = []

    def append(
        self,
        session: Session,
        tag: EventTag,
        *,
        tenant: str,
        actor: str,
        envelope: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> LedgerEvent:
        return self.append_many(session, [NewEvent(tag, tenant, actor, envelope, data)])[0]

    def append_many(self, session: Session, entries: Sequence[NewEvent]) -> list[LedgerEvent]:
        """Append ``entries`` in order, as consecutive leaves: one lock, one lookup of the
        envelopes' heads, one bulk insert. Returns the stored rows, detached.

        Events of the same envelope are chained to each other as well as to the envelope's
        stored events. All share one timestamp, read after the lock is held, so that times
        never go backwards along the log.
        """
        if not entries:
            return []
        _lock_ledger(session)
        next_idx = AuditLog.size(session)
        heads = _envelope_heads(session, {e.envelope for e in entries if e.envelope is not None})
        now = self._clock.now()
        rows = _insert(session, _rows(entries, next_idx, heads, now), len(entries), now)
        events = _as_detached(rows)
        for observe in self.observers:
            observe(session, events)
        return events

    # -- reading -------------------------------------------------------------------------

    @staticmethod
    def size(session: Session) -> int:
        """The number of events in the log (the next leaf index)."""
        size: int = session.execute(
            select(func.coalesce(func.max(LedgerEvent.idx), -1) + 1)
        ).scalar_one()
        return size

    @staticmethod
    def leaf_hashes(session: Session, size: int | None = None) -> list[bytes]:
        query = select(LedgerEvent.leaf_hash).order_by(LedgerEvent.idx)
        if size is not None:
            query = query.where(LedgerEvent.idx < size)
        return [bytes(h) for h in session.execute(query).scalars()]

    @staticmethod
    def envelope_events(session: Session, envelope_id: str) -> Sequence[LedgerEvent]:
        return (
            session.execute(
                select(LedgerEvent)
                .where(LedgerEvent.envelope_id == envelope_id)
                .order_by(LedgerEvent.idx)
            )
            .scalars()
            .all()
        )


def _lock_ledger(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Re-entrant within a transaction, released by COMMIT or ROLLBACK.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK_ID})
    elif dialect != "sqlite":  # SQLite: the transaction began with BEGIN IMMEDIATE
        raise ConfigurationError(f"the audit log cannot serialise appends on {dialect}")


def _envelope_heads(session: Session, envelopes: Iterable[str]) -> dict[str, tuple[int, bytes]]:
    """Each envelope's last (seq, leaf hash), found through the (envelope_id, seq) index one
    envelope at a time, so the cost does not grow with the log; new envelopes are absent.
    (A join on ``max(seq) ... GROUP BY`` was planned by PostgreSQL as a scan of the whole
    table. SQLite takes the list as JSON: ``json_each`` is built in since 3.38.)"""
    wanted = sorted(envelopes)
    if not wanted:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_HEADS_POSTGRESQL, {"envelopes": wanted})
    else:
        rows = session.execute(_HEADS_SQLITE, {"envelopes": json.dumps(wanted)})
    heads: dict[str, tuple[int, bytes]] = {}
    for envelope, seq, digest in rows:
        heads[envelope] = (seq, bytes(digest))
    return heads


_HEADS_POSTGRESQL = text(
    "SELECT e.envelope_id, e.seq, e.leaf_hash "
    "FROM unnest(CAST(:envelopes AS varchar[])) AS w(envelope_id) "
    "CROSS JOIN LATERAL ("
    " SELECT envelope_id, seq, leaf_hash FROM ledger_events"
    " WHERE envelope_id = w.envelope_id AND seq IS NOT NULL"
    " ORDER BY seq DESC LIMIT 1"
    ") AS e"
)
_HEADS_SQLITE = text(
    "SELECT e.envelope_id, e.seq, e.leaf_hash "
    "FROM json_each(:envelopes) AS w "
    "JOIN ledger_events AS e ON e.envelope_id = w.value AND e.seq = ("
    " SELECT max(m.seq) FROM ledger_events AS m WHERE m.envelope_id = w.value"
    ")"
)


_COLUMNS = (
    "idx",
    "event_id",
    "tenant_id",
    "envelope_id",
    "seq",
    "tag",
    "leaf",
    "leaf_hash",
    "created_at",
)
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
#: Rows per INSERT statement. Multi-row VALUES halves the per-row cost of the driver and
#: the server's per-statement work; past a few dozen rows the gain turns into loss (bench/).
ROWS_PER_STATEMENT = 25


@functools.cache
def _insert_statement(placeholder: str, rows: int) -> str:
    values = "(" + ", ".join([placeholder] * len(_COLUMNS)) + ")"
    return (  # only placeholders are spliced in, never values
        f"INSERT INTO ledger_events ({', '.join(_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([values] * rows)}"
    )


def _rows(
    entries: Iterable[NewEvent], next_idx: int, heads: dict[str, tuple[int, bytes]], now: datetime
) -> Iterator[tuple[Any, ...]]:
    """The stored rows (``_COLUMNS`` order) of ``entries``; updates ``heads`` as it goes."""
    time = rfc3339(now)
    for idx, entry in enumerate(entries, start=next_idx):
        seq: int | None = None
        prev: str | None = None
        if entry.envelope is not None:
            head = heads.get(entry.envelope)
            if head is not None:
                seq, prev = head[0] + 1, head[1].hex()
            else:
                seq = 0
        event_id = _new_event_id()
        tag = str(entry.tag)
        leaf = canonicalize_fast(
            {
                "v": 1,
                "id": event_id,
                "tag": tag,
                "tenant": entry.tenant,
                "envelope": entry.envelope,
                "seq": seq,
                "prev": prev,
                "time": time,
                "actor": entry.actor,
                "data": dict(entry.data or {}),
            }
        )
        digest = leaf_hash(leaf)
        if entry.envelope is not None:
            heads[entry.envelope] = (seq or 0, digest)
        yield (idx, event_id, entry.tenant, entry.envelope, seq, tag, leaf, digest, now)


def _new_event_id() -> str:
    """``uuid.uuid4().hex`` without building a UUID object (a third of the cost)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


def _insert(
    session: Session, rows: Iterator[tuple[Any, ...]], count: int, now: datetime
) -> list[tuple[Any, ...]]:
    """Insert the ``count`` rows of ``rows``, ``ROWS_PER_STATEMENT`` to a statement, with
    the driver's own executemany; return them.

    The rows are computed while they are sent: psycopg's executemany pipelines, so the
    server stores one statement's rows while the next ones are canonicalized and hashed,
    and the two costs overlap instead of adding up. SQLAlchemy's executemany would need
    every row first, and its per-row parameter processing is not needed: only
    ``created_at`` has a bind processor, and its value is the same for every row.
    """
    conn = session.connection()
    dialect = conn.dialect
    placeholder = _PLACEHOLDERS.get(dialect.paramstyle)
    if placeholder is None:
        raise ConfigurationError(f"unsupported DB-API parameter style {dialect.paramstyle}")
    process = LedgerEvent.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    created_at = process(now) if process is not None else now
    sent: list[tuple[Any, ...]] = []

    def parameters(size: int) -> tuple[Any, ...]:
        values: list[Any] = []
        for row in itertools.islice(rows, size):
            sent.append(row)
            values += row[:-1]
            values.append(created_at)
        return tuple(values)

    full, rest = divmod(count, ROWS_PER_STATEMENT)
    cursor = conn.connection.cursor()
    statement = ""
    try:
        if full:
            statement = _insert_statement(placeholder, ROWS_PER_STATEMENT)
            chunks = (parameters(ROWS_PER_STATEMENT) for _ in range(full))
            # Both drivers take any iterable (PEP 249 and SQLAlchemy's types say sequence).
            cursor.executemany(statement, chunks)  # type: ignore[arg-type]
        if rest:
            statement = _insert_statement(placeholder, rest)
            cursor.execute(statement, parameters(rest))
    except dialect.loaded_dbapi.Error as exc:  # the same errors as through SQLAlchemy
        raise DBAPIError.instance(
            statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect, ismulti=True
        ) from exc
    finally:
        cursor.close()
    if len(sent) != count:
        raise RuntimeError(f"{len(sent)} ledger rows made for {count} events")
    return sent


def _as_detached(rows: Sequence[tuple[Any, ...]]) -> list[LedgerEvent]:
    """ORM objects for rows already inserted, detached as if loaded by a closed session.

    Built the way the ORM builds loaded rows -- a bare instance, its values, its identity
    key -- because the constructor's per-attribute change tracking, wasted on rows that
    are already stored, cost as much as canonicalizing and hashing them. (What
    ``make_transient_to_detached`` adds, resetting history and expiring absent attributes,
    has nothing to do here: there is no history and nothing is absent.)"""
    mapper = LedgerEvent.__mapper__
    new_instance = mapper.class_manager.new_instance
    events = []
    for row in rows:
        event = new_instance()
        event.__dict__.update(zip(_COLUMNS, row, strict=True))
        instance_state(event).key = mapper.identity_key_from_primary_key((row[0],))
        events.append(event)
    return events
