"""Signed checkpoints over the audit log (C2SP tlog-checkpoint in a signed note)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.ledger import merkle
from sealwright.ledger.checkpoint import Checkpoint as CheckpointBody
from sealwright.ledger.checkpoint import NoteSigner, sign_note
from sealwright.services.audit import AuditLog
from sealwright.storage.models import Checkpoint, LedgerHead


class CheckpointPublisher:
    def __init__(self, *, clock: Clock, origin: str, note_signer: NoteSigner) -> None:
        self._clock = clock
        self.origin = origin
        self._signer = note_signer

    @staticmethod
    def latest(session: Session) -> Checkpoint | None:
        return session.execute(
            select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)
        ).scalar_one_or_none()

    def publish(self, session: Session) -> Checkpoint:
        """Sign a checkpoint over the whole log as it is now (no-op if one already covers it)."""
        head = session.execute(select(LedgerHead).where(LedgerHead.id == 1)).scalar_one()
        latest = self.latest(session)
        if latest is not None and latest.size == head.size:
            return latest
        hashes = AuditLog.leaf_hashes(session, head.size)
        if len(hashes) != head.size:
            raise RuntimeError("ledger head and stored events disagree")
        root = merkle.root_hash(hashes)
        body = CheckpointBody(origin=self.origin, size=head.size, root_hash=root).to_body()
        note = sign_note(body, [self._signer])
        row = Checkpoint(size=head.size, root_hash=root, note=note, created_at=self._clock.now())
        session.add(row)
        session.flush()
        return row
