"""Signed checkpoints over the audit log (C2SP tlog-checkpoint in a signed note).

Signing a checkpoint is the moment the log commits to its history, so the publisher first
checks that the tree it is about to sign extends the last one it signed (E3). The anchors
are the newest checkpoint in the database and the newest copy kept outside it: each must
carry a valid signature by the log key, the stored leaf hashes must still give its root,
and a consistency proof from it to the new tree must verify; the new leaves must hash to
their stored leaf hashes. If anything fails, :class:`LedgerInconsistent` is raised and
nothing is signed: signing over a tampered or rolled-back table would make the tampering
part of the signed history.

Every new checkpoint is timestamped (RFC 3161) over SHA-256 of its note body, the text the
log key signs; its ``created_at`` is then the time in the token, so even that column can be
checked. ``publish`` requires the token unless told otherwise (see there).

After the transaction that stored a checkpoint commits, its note is copied to
``<copies_dir>/<size>.note`` and its token to ``<size>.tsr`` (owner-only files, never
overwritten; ``copies_dir`` is ``<data_dir>/ledger/checkpoints``). Copies are written only
after the commit because a checkpoint rolled back with its transaction may cover events that
never existed. A restored older database, or events deleted together with their checkpoint
rows, leave copies behind that the database can no longer explain: the next ``publish``
refuses, and ``sealwright ledger check`` reports it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from asn1crypto import cms, tsp
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.errors import LedgerInconsistent, ProofError, TimestampUnavailable
from sealwright.keys.files import create_private_file, ensure_private_directory
from sealwright.keys.signing import VerificationKey
from sealwright.ledger import merkle
from sealwright.ledger.checkpoint import Checkpoint as CheckpointBody
from sealwright.ledger.checkpoint import NoteSigner, NoteVerifier, open_checkpoint, sign_note
from sealwright.sealing.timestamps import TimestampAuthority
from sealwright.services.audit import AuditLog
from sealwright.storage.models import Checkpoint, LedgerEvent

__all__ = [
    "COPY_NAME",
    "CheckpointCopy",
    "CheckpointPublisher",
    "timestamp_digest",
    "timestamp_time",
]

log = structlog.get_logger("sealwright.ledger")

#: ``<size>.note`` (the signed note) and ``<size>.tsr`` (the DER timestamp token).
COPY_NAME = re.compile(r"(0|[1-9][0-9]*)\.(note|tsr)")
_PENDING = "sealwright.checkpoint_copies"


def timestamp_digest(note_body: str) -> bytes:
    """What a checkpoint's RFC 3161 token covers: SHA-256 of the note body (the signed text)."""
    return hashlib.sha256(note_body.encode("utf-8")).digest()


def _tst_info(token: bytes) -> Any:
    info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    if not isinstance(info, tsp.TSTInfo):
        raise ValueError("not a timestamp token")
    return info


def timestamp_time(token: bytes) -> datetime:
    """The time in a DER timestamp token (not validated: see ``services.ledger_check``)."""
    try:
        moment: datetime = _tst_info(token)["gen_time"].native
        return moment
    except (ValueError, TypeError, KeyError) as exc:
        raise ProofError(f"unreadable timestamp token ({type(exc).__name__})") from exc


@dataclass(frozen=True)
class CheckpointCopy:
    """One checkpoint note kept outside the database (its token, if any, beside it)."""

    size: int
    note_path: Path

    @property
    def token_path(self) -> Path:
        return self.note_path.with_suffix(".tsr")


class CheckpointPublisher:
    def __init__(
        self,
        *,
        clock: Clock,
        origin: str,
        note_signer: NoteSigner,
        log_keys: Sequence[VerificationKey],
        tsa: TimestampAuthority,
        copies_dir: Path,
    ) -> None:
        self._clock = clock
        self.origin = origin
        self._signer = note_signer
        #: Every log key, current and retired, as note verifiers named like the origin.
        self.verifiers = tuple(NoteVerifier.from_public_key(origin, k.public_key) for k in log_keys)
        if note_signer.verifier not in self.verifiers:
            self.verifiers += (note_signer.verifier,)
        self.tsa = tsa
        self.copies_dir = copies_dir

    @staticmethod
    def latest(session: Session) -> Checkpoint | None:
        return session.execute(
            select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)
        ).scalar_one_or_none()

    @staticmethod
    def at_size(session: Session, size: int) -> Checkpoint | None:
        return session.get(Checkpoint, size)

    def publish(self, session: Session, *, require_timestamp: bool = True) -> Checkpoint:
        """Sign a checkpoint over the whole log as it is now (no-op if one already covers it).

        Raises :class:`LedgerInconsistent` if the log does not extend the last checkpoint
        signed (nothing is signed then), and :class:`TimestampUnavailable` if the timestamp
        authority fails while ``require_timestamp`` -- the default, because the checkpoint
        that completes an envelope's sealing and the one an evidence bundle carries must be
        anchored in time. With ``require_timestamp=False`` a TSA failure is logged and the
        checkpoint goes out without a token (the next one gets one); that is for checkpoints
        that are a convenience, such as the first public log head. Appends never publish,
        so a TSA outage never blocks them.
        """
        size = AuditLog.size(session)
        latest = self.latest(session)
        newest = self.newest_copy()
        if newest is not None and newest.size > size:
            raise self._refuse(
                f"the checkpoint copy {newest.note_path} has size {newest.size} but the log "
                f"holds {size} events: events were deleted or an older database was restored"
            )
        if latest is not None and latest.size == size and self._copy_agrees(newest, latest):
            return latest
        hashes = AuditLog.leaf_hashes(session, size)
        if len(hashes) != size:
            raise self._refuse(f"the log should hold {size} events but holds {len(hashes)}")
        tree = merkle.MerkleTree(hashes)
        checked_from = self._check_extends(tree, hashes, latest, newest)
        if latest is not None and latest.size == size:
            return latest  # the copy differed in bytes only; both verified against the log
        self._check_new_leaves(session, checked_from, tree.size)
        body = CheckpointBody(origin=self.origin, size=tree.size, root_hash=tree.root).to_body()
        note = sign_note(body, [self._signer])
        token = self._timestamp(body, required=require_timestamp)
        row = Checkpoint(
            size=tree.size,
            root_hash=tree.root,
            note=note,
            timestamp_token=token,
            created_at=self._clock.now() if token is None else timestamp_time(token),
        )
        try:
            with session.begin_nested():  # a savepoint: a lost race must not undo the caller
                session.add(row)
        except IntegrityError:
            # Another process published this very size first (two workers finishing at
            # once). Both trees come from the same stored leaves, so its root must be ours.
            won = session.get(Checkpoint, tree.size)
            if won is None or won.root_hash != tree.root:
                raise self._refuse(
                    f"another checkpoint of size {tree.size} was published concurrently with "
                    "a different root hash"
                ) from None
            return won
        self._copy_after_commit(session, row.size, note, token)
        if latest is not None and not self._copy_path(latest.size).exists():
            # A crash between a commit and its copy, or a log older than the copies.
            self._copy_after_commit(session, latest.size, latest.note, latest.timestamp_token)
        log.info("checkpoint published", size=row.size, timestamped=token is not None)
        return row

    # -- E3: never sign a tree that does not extend the last one signed ------------------

    @staticmethod
    def _copy_agrees(newest: CheckpointCopy | None, latest: Checkpoint) -> bool:
        """Whether the newest copy is not about ``latest``'s size or holds its very note."""
        if newest is None or newest.size != latest.size:
            return True
        try:
            return newest.note_path.read_text("utf-8") == latest.note
        except (OSError, UnicodeDecodeError):
            return False

    def _check_extends(
        self,
        tree: merkle.MerkleTree,
        hashes: Sequence[bytes],
        latest: Checkpoint | None,
        newest: CheckpointCopy | None,
    ) -> int:
        """Check the new tree against every anchor; return the size they vouch for."""
        anchors: dict[str, tuple[str, Checkpoint | None]] = {}
        if latest is not None:
            anchors[latest.note] = ("the newest checkpoint in the database", latest)
        if newest is not None:
            try:
                text = newest.note_path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise self._refuse(
                    f"cannot read the checkpoint copy {newest.note_path}: {exc}"
                ) from exc
            anchors.setdefault(text, (f"the checkpoint copy {newest.note_path}", None))
        vouched = 0
        for note, (what, row) in anchors.items():
            try:
                signed = open_checkpoint(note, self.verifiers, origin=self.origin)
            except ProofError as exc:
                raise self._refuse(f"{what} does not verify with the log key: {exc}") from exc
            if row is not None and (signed.size, signed.root_hash) != (row.size, row.root_hash):
                raise self._refuse(f"{what}: its size or root column differs from its note")
            if signed.size > tree.size:
                raise self._refuse(
                    f"{what} has size {signed.size} but the log holds {tree.size} events: "
                    "events were deleted or an older database was restored"
                )
            if merkle.root_hash(hashes[: signed.size]) != signed.root_hash:
                raise self._refuse(
                    f"the stored events 0..{signed.size - 1} no longer give the root signed in "
                    f"{what} (size {signed.size}): the log was changed"
                )
            if signed.size > 0:
                try:
                    merkle.verify_consistency(
                        signed.size,
                        tree.size,
                        signed.root_hash,
                        tree.root,
                        tree.consistency_proof(signed.size),
                    )
                except ProofError as exc:
                    raise self._refuse(f"the log is not consistent with {what}: {exc}") from exc
            vouched = max(vouched, signed.size)
        return vouched

    @staticmethod
    def _check_new_leaves(session: Session, start: int, end: int) -> None:
        """Leaves that no checkpoint vouches for yet must hash to their stored leaf hashes
        (the older ones are covered by the root check above)."""
        rows = session.execute(
            select(LedgerEvent.idx, LedgerEvent.leaf, LedgerEvent.leaf_hash)
            .where(LedgerEvent.idx >= start, LedgerEvent.idx < end)
            .order_by(LedgerEvent.idx)
        )
        for idx, leaf, stored in rows:
            if merkle.leaf_hash(bytes(leaf)) != bytes(stored):
                raise CheckpointPublisher._refuse(
                    f"event {idx}: its leaf does not hash to its stored leaf hash"
                )

    @staticmethod
    def _refuse(reason: str) -> LedgerInconsistent:
        log.error("refusing to sign a checkpoint", reason=reason)
        return LedgerInconsistent(f"refusing to sign a checkpoint: {reason}")

    def _timestamp(self, body: str, *, required: bool) -> bytes | None:
        try:
            return self.tsa.timestamp(timestamp_digest(body))
        except TimestampUnavailable as exc:
            if required:
                raise
            log.warning("checkpoint published without a timestamp", reason=str(exc))
            return None

    # -- copies outside the database -----------------------------------------------------

    def _copy_path(self, size: int) -> Path:
        return self.copies_dir / f"{size}.note"

    def copies(self) -> list[CheckpointCopy]:
        """The note copies on disk, smallest first (other files are ignored)."""
        try:
            names = [p.name for p in self.copies_dir.iterdir()]
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = COPY_NAME.fullmatch(name)
            if match and match.group(2) == "note":
                found.append(CheckpointCopy(int(match.group(1)), self.copies_dir / name))
        return sorted(found, key=lambda c: c.size)

    def newest_copy(self) -> CheckpointCopy | None:
        copies = self.copies()
        return copies[-1] if copies else None

    def _copy_after_commit(
        self, session: Session, size: int, note: str, token: bytes | None
    ) -> None:
        pending: list[tuple[int, str, bytes | None]] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            event.listen(session, "after_commit", self._write_pending)
            event.listen(session, "after_rollback", _forget_pending)
        pending.append((size, note, token))

    def _write_pending(self, session: Session) -> None:
        for size, note, token in session.info.pop(_PENDING, []):
            try:
                self.write_copy(size, note, token)
            except Exception as exc:  # the commit happened; never turn it into a failure
                log.error("checkpoint copy not written", size=size, error=str(exc))
        session.info[_PENDING] = []

    def write_copy(self, size: int, note: str, token: bytes | None) -> None:
        """Write ``<size>.note`` (and ``<size>.tsr``) unless an identical file is there."""
        ensure_private_directory(self.copies_dir.parent, label="ledger directory")
        ensure_private_directory(self.copies_dir, label="checkpoint copies directory")
        files = [(self._copy_path(size), note.encode("utf-8"))]
        if token is not None:
            files.append((self.copies_dir / f"{size}.tsr", token))
        for path, data in files:
            try:
                create_private_file(path, data)
            except FileExistsError:
                if path.read_bytes() != data:
                    log.error("a different checkpoint copy is already on file", path=str(path))


def _forget_pending(session: Session) -> None:
    session.info[_PENDING] = []
