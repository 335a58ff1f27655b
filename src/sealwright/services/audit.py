"""The audit log: appends events as RFC 9162 leaves (checkpoints: ``services/checkpoints.py``).

Appends happen inside the caller's transaction, so an event is recorded exactly when the
change it describes is. The ledger head row is locked for the append, which serialises
writers (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.clock import Clock, rfc3339
from sealwright.domain.events import EventTag
from sealwright.ledger import merkle
from sealwright.ledger.canonical import canonicalize
from sealwright.storage.models import LedgerEvent, LedgerHead


class AuditLog:
    def __init__(self, *, clock: Clock) -> None:
        self._clock = clock

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
        head = session.execute(
            select(LedgerHead).where(LedgerHead.id == 1).with_for_update()
        ).scalar_one()
        seq: int | None = None
        prev: str | None = None
        if envelope is not None:
            last = session.execute(
                select(LedgerEvent)
                .where(LedgerEvent.envelope_id == envelope)
                .order_by(LedgerEvent.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
            seq = 0 if last is None else (last.seq or 0) + 1
            prev = None if last is None else last.leaf_hash.hex()
        now = self._clock.now()
        event = {
            "v": 1,
            "id": uuid.uuid4().hex,
            "tag": str(tag),
            "tenant": tenant,
            "envelope": envelope,
            "seq": seq,
            "prev": prev,
            "time": rfc3339(now),
            "actor": actor,
            "data": dict(data or {}),
        }
        leaf = canonicalize(event)
        row = LedgerEvent(
            idx=head.size,
            event_id=event["id"],
            tenant_id=tenant,
            envelope_id=envelope,
            seq=seq,
            tag=str(tag),
            leaf=leaf,
            leaf_hash=merkle.leaf_hash(leaf),
            created_at=now,
        )
        session.add(row)
        head.size += 1
        session.flush()
        return row

    # -- reading -------------------------------------------------------------------------

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
