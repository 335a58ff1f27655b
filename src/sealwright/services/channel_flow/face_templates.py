"""Enrolled face templates for the video channel's optional match (C3; setting
``video_face_match = "enrol-and-match"``).

A signer identity (``policy.signer_identity``: tenant + email) gets its template from the
first capture that passes the liveness check; later captures of the same identity are
compared with it (``liveness/template.py``, a weak matcher: see docs/channel-video.md).
The template is stored only as ``keys/aead.py`` ciphertext under the keyring, with an aad
naming the identity, so a row moved to another identity does not open. It is kept like
the recordings (``video_retention_days``) and deleted by the sweep. Neither the template
nor any part of it reaches the ledger, an assertion or a log line: only the 0-100
similarity does.

Works in the unit of work the video store is bound to (``VideoStore.bound``), i.e. in the
request that finishes the upload.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sealwright.channels.video import FaceMatch
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.liveness import template
from sealwright.services.channel_flow.video_store import VideoStore
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.policy import signer_identity
from sealwright.storage.models import ChannelVerification, Envelope, FaceTemplate, Recipient

__all__ = ["FaceTemplates", "purge_expired_templates", "template_aad"]


def template_aad(identity: str) -> bytes:
    return b"sealwright-face-template/1\x00" + identity.encode()


class FaceTemplates:
    """The channel's :class:`~sealwright.channels.video.FaceMatcher`."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    @staticmethod
    def identity_of(session: Session, verification_id: str) -> str | None:
        run = session.get(ChannelVerification, verification_id)
        if run is None:
            return None
        recipient = session.get(Recipient, run.recipient_id)
        envelope = session.get(Envelope, run.envelope_id)
        if recipient is None or envelope is None:
            return None
        return signer_identity(envelope.tenant_id, recipient.email)

    def enrolled(self, session: Session, identity: str) -> FaceTemplate | None:
        """The identity's template still within its retention, if any."""
        q = select(FaceTemplate).where(
            FaceTemplate.identity == identity, FaceTemplate.delete_after > self.rt.clock.now()
        )
        return session.execute(q).scalars().first()

    def open(self, row: FaceTemplate) -> template.Template:
        """The plaintext template; ``DecryptionFailed`` if the ciphertext was changed."""
        aad = template_aad(row.identity)
        plain = decrypt_bytes(row.ciphertext, keyring=self.rt.keyring, aad=aad)
        return template.from_bytes(plain)

    def match(self, upload_id: str, verification_id: str, video: bytes) -> FaceMatch | None:
        session = VideoStore._db()
        identity = self.identity_of(session, verification_id)
        if identity is None:
            return None
        try:
            probe: template.Template | None = template.extract(video)
        except (template.NoFace, template.Unreadable):
            probe = None
        row = self.enrolled(session, identity)
        if row is None:
            if probe is None:
                return None
            self._enrol(session, identity, probe, verification_id, upload_id)
            return FaceMatch(passed=True, enrolled=True)
        if probe is None:  # a live face, but no usable frontal view of it: not a match
            return FaceMatch(passed=False, similarity=0)
        score = round(100 * template.similarity(self.open(row), probe))
        return FaceMatch(
            passed=score >= self.rt.settings.video_face_match_threshold, similarity=score
        )

    def _enrol(
        self, session: Session, identity: str, vector: template.Template, verification_id: str,
        upload_id: str,
    ) -> FaceTemplate:
        # An expired template not yet swept gives way to the new one (one per identity).
        session.execute(delete(FaceTemplate).where(FaceTemplate.identity == identity))
        now = self.rt.clock.now()
        row = FaceTemplate(
            id=uuid.uuid4().hex,
            identity=identity,
            ciphertext=encrypt_bytes(
                template.to_bytes(vector), keyring=self.rt.keyring, aad=template_aad(identity),
                random=self.rt.random,
            ),
            verification_id=verification_id,
            recording_id=upload_id or None,
            created_at=now,
            delete_after=now + timedelta(days=self.rt.settings.video_retention_days),
        )
        session.add(row)
        session.flush()
        return row


def purge_expired_templates(session: Session, now: datetime) -> None:
    """Delete the templates past their retention (the sweep, with the recordings); one
    statement, so that two sweeps at once do not trip over each other's rows."""
    session.execute(delete(FaceTemplate).where(FaceTemplate.delete_after <= now))
