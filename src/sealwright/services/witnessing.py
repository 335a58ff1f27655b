"""Getting checkpoints cosigned by independent witnesses (E3, C2SP tlog-witness).

For each configured witness, submit the checkpoint with a consistency proof from the last
size that witness cosigned (starting from 0); on 409 resend from the witness's own size. A
witness that is ahead of the log (its size exceeds ours) is an alarm -- the database was
rolled back or forked -- and is reported, never worked around. Network calls happen outside
any database transaction; the cosignature lines are stored append-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select

from sealwright.clock import Clock
from sealwright.errors import ConfigurationError, LedgerInconsistent
from sealwright.ledger.merkle import MerkleTree
from sealwright.services.audit import AuditLog
from sealwright.storage.db import Database
from sealwright.storage.models import Checkpoint, CheckpointCosignature
from sealwright.witness.client import WitnessClient
from sealwright.witness.cosignature import CosignatureVerifier, add_cosignatures
from sealwright.witness.errors import OldSizeMismatch, WitnessError

log = structlog.get_logger("sealwright.witnessing")


@dataclass(frozen=True, slots=True)
class WitnessEndpoint:
    url: str
    vkey: str

    def verifier(self) -> CosignatureVerifier:
        try:
            return CosignatureVerifier.from_vkey(self.vkey)
        except ValueError as exc:
            raise ConfigurationError(f"witness {self.url}: bad vkey: {exc}") from exc


@dataclass(frozen=True, slots=True)
class WitnessOutcome:
    witness: str
    ok: bool
    detail: str


class Witnessing:
    def __init__(
        self,
        db: Database,
        endpoints: Sequence[WitnessEndpoint],
        *,
        clock: Clock,
        timeout: float = 10.0,
    ) -> None:
        self._db = db
        self._endpoints = tuple(endpoints)
        self._verifiers = {e.vkey: e.verifier() for e in self._endpoints}
        self._clock = clock
        self._timeout = timeout

    @property
    def configured(self) -> bool:
        return bool(self._endpoints)

    def cosign(self, size: int) -> list[WitnessOutcome]:
        """Ask every witness that has not cosigned checkpoint ``size`` yet to do so."""
        outcomes = []
        for endpoint in self._endpoints:
            try:
                detail = self._cosign_one(endpoint, size)
                outcomes.append(WitnessOutcome(endpoint.url, True, detail))
            except (WitnessError, LedgerInconsistent) as exc:
                log.warning(
                    "witness did not cosign", witness=endpoint.url, size=size, error=str(exc)
                )
                outcomes.append(WitnessOutcome(endpoint.url, False, str(exc)))
        return outcomes

    def _cosign_one(self, endpoint: WitnessEndpoint, size: int) -> str:
        with self._db.transaction() as session:
            if session.get(CheckpointCosignature, (size, endpoint.vkey)) is not None:
                return "already cosigned"
            checkpoint = session.get(Checkpoint, size)
            if checkpoint is None:
                raise LedgerInconsistent(f"no checkpoint of size {size}")
            note = checkpoint.note
            old = (
                session.execute(
                    select(func.max(CheckpointCosignature.size)).where(
                        CheckpointCosignature.witness == endpoint.vkey,
                        CheckpointCosignature.size <= size,
                    )
                ).scalar_one_or_none()
                or 0
            )
            tree = MerkleTree(AuditLog.leaf_hashes(session, size))
        with WitnessClient(
            endpoint.url, self._verifiers[endpoint.vkey], timeout=self._timeout, clock=self._clock
        ) as client:
            try:
                line = client.add_checkpoint(old, _proof(tree, old), note)
            except OldSizeMismatch as exc:
                if exc.witness_size > size:
                    raise LedgerInconsistent(
                        f"witness {endpoint.url} has cosigned a tree of size "
                        f"{exc.witness_size}, larger than this log's {size}: the log was "
                        "rolled back or forked"
                    ) from exc
                old = exc.witness_size
                line = client.add_checkpoint(old, _proof(tree, old), note)
        with self._db.transaction() as session:
            if session.get(CheckpointCosignature, (size, endpoint.vkey)) is None:
                session.add(
                    CheckpointCosignature(
                        size=size, witness=endpoint.vkey, line=line, created_at=self._clock.now()
                    )
                )
        return f"cosigned from size {old}"

    def cosigned_note(self, size: int) -> str:
        """The checkpoint note with every stored witness cosignature appended."""
        with self._db.transaction() as session:
            checkpoint = session.get(Checkpoint, size)
            if checkpoint is None:
                raise LedgerInconsistent(f"no checkpoint of size {size}")
            lines = list(
                session.execute(
                    select(CheckpointCosignature.line)
                    .where(CheckpointCosignature.size == size)
                    .order_by(CheckpointCosignature.witness)
                ).scalars()
            )
            return add_cosignatures(checkpoint.note, lines)


def _proof(tree: MerkleTree, old: int) -> list[bytes]:
    """An empty proof from 0 (nothing to prove) or from the same size, as the spec says."""
    if old == 0 or old == tree.size:
        return []
    return tree.consistency_proof(old)
