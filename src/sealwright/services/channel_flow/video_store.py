"""Video captures: chunked upload, encryption with the recording's own data key, the
capture source the video channel reads (C3), and the retention sweep.

Each recording gets a fresh 256-bit data key, wrapped by the keyring (aad names the
recording) and stored wrapped in ``video_recordings``; every chunk, and then the assembled
recording, is AES-256-GCM under that key with a fresh 96-bit nonce and an aad that binds the
blob to its recording and position. The blob store only ever holds ciphertext.

The channel (pure, no database) reads captures through :class:`VideoStore` as its
:class:`~sealwright.channels.video.CaptureSource`; the store works in the unit of work of
the request that completes the run, which binds it with :meth:`VideoStore.bound`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.channels.video import Capture
from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, DecryptionFailed, NotFound, ValidationError
from sealwright.keys.keyring import WrappedKey
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ChannelVerification, Envelope, VideoRecording

__all__ = ["MAX_CHUNK", "MAX_TOTAL", "VideoStore", "purge_expired_videos"]

MAX_CHUNK = 1024 * 1024
MAX_TOTAL = 50 * 1024 * 1024
CONTENT_TYPES = ("video/webm", "video/mp4")
#: How many accepted captures the replay check compares against (the most recent).
REPLAY_WINDOW = 2000
UPLOADING, STORED, ACCEPTED, REJECTED, DELETED = (
    "uploading", "stored", "accepted", "rejected", "deleted",
)

_session: ContextVar[Session | None] = ContextVar("video_store_session", default=None)


def _key_aad(recording_id: str) -> bytes:
    return b"sealwright-video/1\x00" + recording_id.encode()


def _blob_aad(recording_id: str, part: str) -> bytes:
    return b"sealwright-video/1\x00" + recording_id.encode() + b"\x00" + part.encode()


class VideoStore:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- the unit of work the channel reads in ------------------------------------------

    @contextmanager
    def bound(self, session: Session) -> Iterator[None]:
        token = _session.set(session)
        try:
            yield
        finally:
            _session.reset(token)

    @staticmethod
    def _db() -> Session:
        session = _session.get()
        if session is None:
            raise RuntimeError("VideoStore used outside VideoStore.bound(session)")
        return session

    # -- crypto --------------------------------------------------------------------------

    def _dek(self, rec: VideoRecording) -> AESGCM:
        wrapped = WrappedKey(kek_id=rec.kek_id, ciphertext=rec.wrapped_key)
        return AESGCM(self.rt.keyring.unwrap(wrapped, aad=_key_aad(rec.id)))

    def _seal(self, rec: VideoRecording, part: str, data: bytes) -> bytes:
        nonce = self.rt.random.token_bytes(12)
        return nonce + self._dek(rec).encrypt(nonce, data, _blob_aad(rec.id, part))

    def _open(self, rec: VideoRecording, part: str, blob_key: str) -> bytes:
        blob = b"".join(self.rt.blobs.get(blob_key))
        try:
            return self._dek(rec).decrypt(blob[:12], blob[12:], _blob_aad(rec.id, part))
        except InvalidTag as exc:
            raise DecryptionFailed("cannot decrypt recording") from exc

    @staticmethod
    def _chunk_key(rec: VideoRecording, seq: int) -> str:
        return f"videos/{rec.id}/chunk-{seq:05d}"

    # -- upload --------------------------------------------------------------------------

    def put_chunk(
        self, session: Session, run: ChannelVerification, seq: int, data: bytes,
        content_type: str,
    ) -> VideoRecording:
        """Chunk ``seq`` of the run's open upload; ``seq`` 0 opens a new one. In order: the
        next chunk, or the last one again with the same bytes (a retried request)."""
        if not data or len(data) > MAX_CHUNK:
            raise ValidationError(f"a chunk is 1 to {MAX_CHUNK} bytes")
        current = self.open_upload(session, run)
        if seq == 0 and (current is None or current.chunks > 1 or not self._same(current, 0, data)):
            if current is not None:
                self._discard(current)
            current = self._new(session, run, content_type)
        if current is None:
            raise Conflict("start the upload with chunk 0")
        if seq < current.chunks:
            if self._same(current, seq, data):
                return current  # a retried request: already stored
            raise Conflict(f"chunk {seq} was already received with other bytes")
        if seq != current.chunks:
            raise Conflict(f"expected chunk {current.chunks}")
        if current.size + len(data) > MAX_TOTAL:
            raise ValidationError("the recording is too large")
        self.rt.blobs.put(self._chunk_key(current, seq), [self._seal(current, f"c{seq}", data)])
        current.chunks += 1
        current.size += len(data)
        return current

    def _same(self, rec: VideoRecording, seq: int, data: bytes) -> bool:
        if seq >= rec.chunks:
            return False
        return self._open(rec, f"c{seq}", self._chunk_key(rec, seq)) == data

    def _new(
        self, session: Session, run: ChannelVerification, content_type: str
    ) -> VideoRecording:
        kind = content_type.split(";")[0].strip().lower()
        if kind not in CONTENT_TYPES:
            raise ValidationError("the recording must be video/webm or video/mp4")
        rid = uuid.uuid4().hex
        wrapped = self.rt.keyring.wrap(self.rt.random.token_bytes(32), aad=_key_aad(rid))
        now = self.rt.clock.now()
        rec = VideoRecording(
            id=rid, verification_id=run.id, envelope_id=run.envelope_id, status=UPLOADING,
            blob_key=f"videos/{rid}/recording", kek_id=wrapped.kek_id,
            wrapped_key=wrapped.ciphertext, chunks=0, size=0, content_type=kind,
            sha256=None, vid_hash=None, fingerprint=None, created_at=now,
            delete_after=now + timedelta(days=self.rt.settings.video_retention_days),
            deleted_at=None,
        )
        session.add(rec)
        session.flush()
        return rec

    def open_upload(self, session: Session, run: ChannelVerification) -> VideoRecording | None:
        q = select(VideoRecording).where(
            VideoRecording.verification_id == run.id, VideoRecording.status == UPLOADING
        )
        return session.execute(q.order_by(VideoRecording.created_at.desc())).scalars().first()

    def finish(self, session: Session, run: ChannelVerification) -> VideoRecording:
        """Assemble the open upload into one encrypted blob; the chunks go."""
        rec = self.open_upload(session, run)
        if rec is None or rec.chunks == 0:
            raise NotFound("no upload to finish")
        plain = b"".join(
            self._open(rec, f"c{i}", self._chunk_key(rec, i)) for i in range(rec.chunks)
        )
        self.rt.blobs.put(rec.blob_key, [self._seal(rec, "recording", plain)])
        self._discard_chunks(rec)
        rec.sha256 = hashlib.sha256(plain).hexdigest()
        rec.status = STORED
        return rec

    def _discard_chunks(self, rec: VideoRecording) -> None:
        for i in range(rec.chunks):
            self.rt.blobs.delete(self._chunk_key(rec, i))

    def _discard(self, rec: VideoRecording) -> None:
        self._discard_chunks(rec)
        rec.status, rec.deleted_at = DELETED, self.rt.clock.now()

    # -- CaptureSource -------------------------------------------------------------------

    def load(self, upload_id: str, verification_id: str) -> Capture | None:
        """A finished, not yet judged upload of this run (each is judged once), or None --
        also outside :meth:`bound`, e.g. for a "video" answer sent to the generic route."""
        session = _session.get()
        if session is None:
            return None
        rec = session.get(VideoRecording, upload_id)
        if rec is None or rec.verification_id != verification_id or rec.status != STORED:
            return None
        return Capture(self._open(rec, "recording", rec.blob_key), rec.content_type)

    def read(self, rec: VideoRecording) -> bytes:
        """The plaintext of a kept recording (for a reviewer); NotFound once deleted."""
        if rec.status in (UPLOADING, DELETED):
            raise NotFound("recording not available")
        return self._open(rec, "recording", rec.blob_key)

    def known_fingerprints(self) -> Sequence[Sequence[int]]:
        q = (
            select(VideoRecording.fingerprint)
            .where(VideoRecording.status == ACCEPTED, VideoRecording.fingerprint.is_not(None))
            .order_by(VideoRecording.created_at.desc())
            .limit(REPLAY_WINDOW)
        )
        return [list(f) for f in self._db().execute(q).scalars() if f]

    def record(
        self, upload_id: str, *, vid_hash: str, accepted: bool, fingerprint: Sequence[int]
    ) -> None:
        rec = self._db().get(VideoRecording, upload_id)
        if rec is None:
            return
        rec.vid_hash = vid_hash
        rec.status = ACCEPTED if accepted else REJECTED
        rec.fingerprint = [int(h) for h in fingerprint] if accepted else None

    # -- retention -----------------------------------------------------------------------

    def purge_expired(self, session: Session, now: datetime | None = None) -> int:
        """Delete the ciphertext of every recording past ``delete_after`` (the sweep);
        the row stays, marked deleted, with its hashes; the fingerprint goes with it."""
        now = now or self.rt.clock.now()
        q = select(VideoRecording).where(
            VideoRecording.deleted_at.is_(None), VideoRecording.delete_after <= now
        )
        rows = list(session.execute(q.with_for_update(skip_locked=True)).scalars())
        for rec in rows:
            self.rt.blobs.delete(rec.blob_key)
            self._discard_chunks(rec)
            rec.status, rec.deleted_at, rec.fingerprint = DELETED, now, None
            env = session.get(Envelope, rec.envelope_id)
            assert env is not None  # a foreign key
            self.rt.audit.append(
                session, EventTag.VIDEO_DELETED, tenant=env.tenant_id, envelope=env.id,
                actor="system",
                data={"recording": rec.id, "verification": rec.verification_id,
                      "vid_hash": rec.vid_hash, "reason": "retention"},
            )
        return len(rows)


def purge_expired_videos(rt: Runtime) -> int:
    """For the sweep job: delete recordings past their retention, in one transaction
    (and the enrolled face templates past theirs)."""
    from sealwright.services.channel_flow.face_templates import purge_expired_templates

    with rt.db.transaction() as session:
        purge_expired_templates(session, rt.clock.now())
        return VideoStore(rt).purge_expired(session)
