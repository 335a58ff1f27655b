"""The witness's one decision: cosign this checkpoint, or refuse, and why.

Checks run in the order tlog-witness gives them, each refusal with its status:

1. request framing (``old`` line, proof lines, empty line)        400
2. origin unknown to this witness                                 404
3. note not validly signed by a trusted key of that origin         403
   (also: a trusted key's signature that fails, a malformed note)
4. checkpoint body malformed, or ``old`` larger than its size      400
5. ``old`` is not the size of the latest cosigned checkpoint       409, body = that size
6. size 0 with another root than the empty tree's                  422
7. old 0 with a non-empty proof; old = size with another root       422
   (a fork) or a proof; any consistency proof that does not verify

Only then is the checkpoint cosigned, and the new state persisted before the answer --
all under the store's lock, so two racing requests cannot roll the witness back.

A witness never vouches for what a log *contains*, only that each tree it cosigns extends
every tree it cosigned before for that origin.
"""

from __future__ import annotations

import base64
from dataclasses import replace

import structlog

from sealwright.errors import ProofError
from sealwright.ledger.checkpoint import Checkpoint
from sealwright.ledger.merkle import EMPTY_ROOT, verify_consistency
from sealwright.ledger.note import open_note, parse_note
from sealwright.witness.cosignature import CosignatureSigner
from sealwright.witness.errors import OldSizeMismatch, WitnessRefused
from sealwright.witness.protocol import AddCheckpointRequest
from sealwright.witness.state import LogRecord, WitnessStore

__all__ = ["Witness"]

_log = structlog.get_logger(__name__)


class Witness:
    """Verifies and cosigns checkpoints for the logs configured in ``store``."""

    def __init__(self, *, signer: CosignatureSigner, store: WitnessStore) -> None:
        self._signer = signer
        self._store = store

    @property
    def signer(self) -> CosignatureSigner:
        return self._signer

    @property
    def vkey(self) -> str:
        return self._signer.vkey

    def add_checkpoint(self, body: bytes) -> str:
        """Handle an add-checkpoint request body; returns the cosignature line(s).

        Raises :class:`WitnessRefused` (:class:`OldSizeMismatch` for 409).
        """
        return self.submit(AddCheckpointRequest.from_body(body))

    def submit(self, request: AddCheckpointRequest) -> str:
        # The first line is read before anything is verified, only to pick the keys that
        # will verify the note; nothing else about it is believed until they have.
        origin = request.note.partition("\n")[0]
        try:
            record = self._store.update(origin, lambda r: self._decide(origin, request, r))
        except WitnessRefused as exc:
            if exc.status == 422:
                # tlog-witness lets a witness keep these: a validly signed checkpoint that
                # contradicts an earlier one is evidence that the log misbehaved.
                _log.warning(
                    "witness refused a signed checkpoint",
                    origin=origin,
                    status=exc.status,
                    reason=exc.reason,
                    old_size=request.old_size,
                    note=request.note,
                )
            else:
                _log.info("witness refused", origin=origin, status=exc.status, reason=exc.reason)
            raise
        assert record.note is not None  # _decide always sets it
        _log.info("witness cosigned", origin=origin, size=record.size, time=record.timestamp)
        return record.note.rsplit("\n", 2)[-2] + "\n"  # its own line comes last

    def origins(self) -> tuple[str, ...]:
        """The origins of the logs this witness is configured for."""
        return self._store.origins()

    def latest(self, origin: str) -> str | None:
        """The latest cosigned checkpoint of ``origin`` (log signatures it verified, then its
        own cosignature), or ``None`` if it never cosigned one."""
        record = self._store.get(origin)
        return None if record is None else record.note

    def latest_by_origin_hash(self, digest: str) -> str | None:
        """:meth:`latest`, for the log whose origin hashes (SHA-256, lowercase hex) to
        ``digest`` -- the tlog-witness monitoring path."""
        record = self._store.get_by_origin_hash(digest)
        return None if record is None else record.note

    def _decide(
        self, origin: str, request: AddCheckpointRequest, record: LogRecord | None
    ) -> LogRecord:
        if record is None:
            raise WitnessRefused(404, f"unknown log origin {origin!r}")
        verifiers = record.verifiers
        try:
            text, _ = open_note(request.note, verifiers)
        except ProofError as exc:
            raise WitnessRefused(
                403, f"checkpoint is not validly signed by a trusted key of {origin!r}: {exc}"
            ) from exc
        try:
            checkpoint = Checkpoint.from_body(text)
        except ProofError as exc:
            raise WitnessRefused(400, str(exc)) from exc
        if checkpoint.size < record.size:
            # Signed by the log, yet smaller than a tree it already showed: evidence. The
            # refusal itself follows below (400 or 409, whichever ``old`` calls for).
            _log.warning(
                "rollback: checkpoint smaller than the witnessed tree",
                origin=origin,
                size=checkpoint.size,
                witnessed=record.size,
                note=request.note,
            )
        old = request.old_size
        if old > checkpoint.size:
            raise WitnessRefused(
                400, f"old size {old} is larger than the checkpoint size {checkpoint.size}"
            )
        if old != record.size:
            raise OldSizeMismatch(record.size)
        _check_consistency(record, checkpoint, request.proof)

        timestamp = self._signer.now()
        if timestamp < record.timestamp:
            # A cosignature says "as of T, this is the largest tree". Signing an earlier T
            # than a previous, smaller tree's would contradict it; better to stop.
            raise WitnessRefused(503, f"witness clock ({timestamp}) is behind its last cosignature")
        line = self._signer.sign_at(text, timestamp)
        # Keep only the signatures this witness verified: the monitoring endpoint serves
        # this note, and must not appear to vouch for lines it could not check.
        log_lines = "".join(
            dict.fromkeys(  # ordered, without repeats
                _signature_line(sig.name, sig.key_id + sig.signature)
                for sig in parse_note(request.note).signatures
                if any(v.name == sig.name and v.key_id == sig.key_id for v in verifiers)
            )
        )
        return replace(
            record,
            size=checkpoint.size,
            root=checkpoint.root_hash,
            timestamp=timestamp,
            note=text + "\n" + log_lines + line,
        )


def _check_consistency(record: LogRecord, checkpoint: Checkpoint, proof: tuple[bytes, ...]) -> None:
    old, new = record.size, checkpoint.size
    if new == 0 and checkpoint.root_hash != EMPTY_ROOT:
        raise WitnessRefused(422, "a checkpoint of size 0 must have the empty tree's root")
    if old == 0:
        if proof:
            raise WitnessRefused(422, "the consistency proof from size 0 must be empty")
        return
    if old == new and checkpoint.root_hash != record.root:
        raise WitnessRefused(
            422, f"fork: size {new} was cosigned with another root hash; refusing this one"
        )
    try:
        verify_consistency(old, new, record.root, checkpoint.root_hash, proof)
    except ProofError as exc:
        raise WitnessRefused(
            422, f"consistency proof from size {old} to {new} does not verify: {exc}"
        ) from exc


def _signature_line(name: str, raw: bytes) -> str:
    return f"\u2014 {name} {base64.b64encode(raw).decode('ascii')}\n"
