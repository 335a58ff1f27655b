"""Sender-side use cases: create, add documents, place fields, send, void, read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.envelopes import (
    EnvelopeAction,
    EnvelopeStatus,
    FieldKind,
    RecipientAction,
    RecipientRole,
    RecipientStatus,
    Rect,
    RoutingSlot,
    due_for_notification,
    envelope_next,
    recipient_next,
)
from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, NotFound, PdfRejected, ValidationError
from sealwright.identity.scopes import DEFAULT_FOLDER
from sealwright.identity.secrets import new_token, token_digest
from sealwright.keys.aead import encrypt_stream
from sealwright.mail.message import MailMessage
from sealwright.sealing.intake import spool_pdf
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.policy import RecipientAuth
from sealwright.services.signer_auth.policy import max_auth_age as signer_max_auth_age
from sealwright.services.signer_auth.registry import check_available
from sealwright.storage.models import Document, Envelope, Field, Recipient, SigningLink


@dataclass(frozen=True, slots=True)
class RecipientSpec:
    name: str
    email: str
    role: RecipientRole
    routing_order: int
    #: The authentication methods the recipient must pass (None: email OTP alone).
    auth: RecipientAuth | None = None


@dataclass(frozen=True, slots=True)
class FieldSpec:
    document_id: str
    recipient_id: str
    kind: FieldKind
    rect: Rect
    required: bool = True
    label: str = ""


class RecordedPdfRejected(PdfRejected):
    """A rejection whose audit event is in the session: commit it, then answer."""

    commit = True


def _file_chunks(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def document_aad(document_id: str) -> bytes:
    return f"sealwright:document:{document_id}".encode()


def sealed_aad(document_id: str) -> bytes:
    return f"sealwright:sealed:{document_id}".encode()


def load_envelope(session: Session, envelope_id: str, tenant_id: str) -> Envelope:
    """Tenant-scoped lookup: another tenant's envelope is indistinguishable from none."""
    env = session.get(Envelope, envelope_id)
    if env is None or env.tenant_id != tenant_id:
        raise NotFound("envelope not found")
    return env


class EnvelopeService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def create(
        self,
        session: Session,
        *,
        tenant_id: str,
        actor: str,
        title: str,
        message: str,
        recipients: Sequence[RecipientSpec],
        expires_in_days: int,
        document_class: str = "standard",
        transaction_value: int | None = None,
        max_auth_age: int | None = None,
        folder: str = DEFAULT_FOLDER,
        reminders: dict[str, int] | None = None,
    ) -> Envelope:
        if not recipients:
            raise ValidationError("an envelope needs at least one recipient")
        if not any(r.role is RecipientRole.SIGNER for r in recipients):
            raise ValidationError("an envelope needs at least one signer")
        emails = [r.email.lower() for r in recipients]
        if len(set(emails)) != len(emails):
            raise ValidationError("each recipient must have a distinct email address")
        for n, r in enumerate(recipients, start=1):
            check_available(self.rt, (r.auth or RecipientAuth()).methods, f"recipient {n}")
        auth_age = signer_max_auth_age(max_auth_age, self.rt.settings.signer_max_auth_age)
        now = self.rt.clock.now()
        env = Envelope(
            id=uuid.uuid4().hex,
            tenant_id=tenant_id,
            folder=folder,
            title=title,
            message=message,
            status=EnvelopeStatus.DRAFT.value,
            document_class=document_class,
            transaction_value=transaction_value,
            created_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days),
            seal_status="none",
            max_auth_age=auth_age,
            reminders=dict(reminders) if reminders is not None else None,
        )
        session.add(env)
        rows = [
            Recipient(
                id=uuid.uuid4().hex,
                envelope_id=env.id,
                name=r.name,
                email=r.email,
                role=r.role.value,
                routing_order=r.routing_order,
                status=RecipientStatus.CREATED.value,
                auth=r.auth.to_json() if r.auth else None,
            )
            for r in recipients
        ]
        session.add_all(rows)
        session.flush()
        self.rt.audit.append(
            session,
            EventTag.ENVELOPE_CREATED,
            tenant=tenant_id,
            envelope=env.id,
            actor=actor,
            data={
                "recipients": [
                    {
                        "id": r.id,
                        "role": r.role,
                        "routing_order": r.routing_order,
                        "auth_methods": [m.value for m in RecipientAuth.from_json(r.auth).methods],
                    }
                    for r in rows
                ],
                "max_auth_age_seconds": auth_age,
                "document_class": document_class,
                "folder": folder,
                **({"reminders": dict(reminders)} if reminders is not None else {}),
            },
        )
        return env

    def add_document(
        self, session: Session, env: Envelope, *, actor: str, name: str, stream: BinaryIO
    ) -> Document:
        self._require_draft(env)
        doc_id = uuid.uuid4().hex
        try:
            with spool_pdf(stream, max_bytes=self.rt.settings.max_document_bytes) as intake:
                blob_key = f"documents/{doc_id}"
                self.rt.blobs.put(
                    blob_key,
                    encrypt_stream(
                        _file_chunks(intake.spool_path),
                        keyring=self.rt.keyring,
                        aad=document_aad(doc_id),
                    ),
                )
        except PdfRejected as exc:
            self.reject_document(session, env, actor=actor, error=exc)
        position = len(self.documents(session, env.id))
        doc = Document(
            id=doc_id,
            envelope_id=env.id,
            position=position,
            name=name,
            sha256=intake.sha256,
            size=intake.size,
            page_sizes={"pages": [[p.width, p.height] for p in intake.page_sizes]},
            blob_key=blob_key,
        )
        session.add(doc)
        session.flush()
        self.rt.audit.append(
            session,
            EventTag.DOCUMENT_ADDED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor=actor,
            data={"document": doc.id, "sha256": doc.sha256, "size": doc.size},
        )
        return doc

    def reject_document(
        self, session: Session, env: Envelope, *, actor: str, error: PdfRejected
    ) -> NoReturn:
        self.rt.audit.append(
            session,
            EventTag.DOCUMENT_REJECTED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor=actor,
            data={"reason": error.reason},
        )
        raise RecordedPdfRejected(error.reason, error.detail) from error

    def place_fields(
        self, session: Session, env: Envelope, *, actor: str, fields: Sequence[FieldSpec]
    ) -> list[Field]:
        self._require_draft(env)
        docs = {d.id: d for d in self.documents(session, env.id)}
        recips = {r.id: r for r in self.recipients(session, env.id)}
        rows: list[Field] = []
        for spec in fields:
            doc = docs.get(spec.document_id)
            if doc is None:
                raise ValidationError(f"document {spec.document_id} is not in this envelope")
            recipient = recips.get(spec.recipient_id)
            if recipient is None:
                raise ValidationError(f"recipient {spec.recipient_id} is not in this envelope")
            if recipient.role != RecipientRole.SIGNER.value:
                raise ValidationError("fields can only be assigned to signers")
            pages = [tuple(p) for p in doc.page_sizes["pages"]]
            spec.rect.check_within(len(pages), pages)
            rows.append(
                Field(
                    id=uuid.uuid4().hex,
                    envelope_id=env.id,
                    document_id=doc.id,
                    recipient_id=recipient.id,
                    kind=spec.kind.value,
                    label=spec.label,
                    required=spec.required,
                    page=spec.rect.page,
                    x=spec.rect.x,
                    y=spec.rect.y,
                    width=spec.rect.width,
                    height=spec.rect.height,
                )
            )
        session.add_all(rows)
        session.flush()
        self.rt.audit.append(
            session,
            EventTag.FIELDS_PLACED,
            tenant=env.tenant_id,
            envelope=env.id,
            actor=actor,
            data={
                "fields": [{"id": f.id, "kind": f.kind, "recipient": f.recipient_id} for f in rows]
            },
        )
        return rows

    def send(self, session: Session, env: Envelope, *, actor: str) -> list[str]:
        """Send the envelope; returns the one-time links mailed to the first recipients."""
        docs = self.documents(session, env.id)
        if not docs:
            raise Conflict("add at least one document before sending")
        fields = self.fields(session, env.id)
        signers = [r for r in self.recipients(session, env.id) if r.role == "signer"]
        for signer in signers:
            if not any(f.recipient_id == signer.id and f.kind == "signature" for f in fields):
                raise Conflict(f"signer {signer.id} has no signature field")
        env.status = envelope_next(EnvelopeStatus(env.status), EnvelopeAction.SEND).value
        env.sent_at = self.rt.clock.now()
        self.rt.audit.append(
            session, EventTag.ENVELOPE_SENT, tenant=env.tenant_id, envelope=env.id, actor=actor
        )
        return self.notify_due(session, env)

    def void(self, session: Session, env: Envelope, *, actor: str, reason: str) -> None:
        env.status = envelope_next(EnvelopeStatus(env.status), EnvelopeAction.VOID).value
        env.status_reason = reason
        self.rt.audit.append(
            session, EventTag.ENVELOPE_VOIDED, tenant=env.tenant_id, envelope=env.id, actor=actor
        )

    # -- routing -------------------------------------------------------------------------

    def notify_due(self, session: Session, env: Envelope) -> list[str]:
        """Send a one-time link to every recipient whose turn has come; returns the links."""
        recipients = self.recipients(session, env.id)
        slots = [
            RoutingSlot(r.id, RecipientRole(r.role), r.routing_order, RecipientStatus(r.status))
            for r in recipients
        ]
        due = set(due_for_notification(slots))
        links: list[str] = []
        for r in recipients:
            if r.id not in due:
                continue
            r.status = recipient_next(
                RecipientRole(r.role), RecipientStatus(r.status), RecipientAction.NOTIFY
            ).value
            r.notified_at = self.rt.clock.now()
            links.append(self._send_link(session, env, r))
            self.rt.audit.append(
                session,
                EventTag.RECIPIENT_NOTIFIED,
                tenant=env.tenant_id,
                envelope=env.id,
                actor="system",
                data={"recipient": r.id, "channel": "email"},
            )
        return links

    def send_reminder_link(self, session: Session, env: Envelope, r: Recipient) -> str:
        """A reminder (services/reminders.py): the same mail with a fresh one-time link."""
        return self._send_link(session, env, r, reminder=True)

    def _send_link(
        self, session: Session, env: Envelope, r: Recipient, *, reminder: bool = False
    ) -> str:
        token = new_token()
        now = self.rt.clock.now()
        ttl = timedelta(seconds=self.rt.settings.signing_link_ttl)
        expires = min(now + ttl, env.expires_at) if env.expires_at else now + ttl
        session.add(
            SigningLink(
                token_hash=token_digest(token),
                recipient_id=r.id,
                created_at=now,
                expires_at=expires,
            )
        )
        url = f"{self.rt.settings.public_url.rstrip('/')}/sign/{token}"
        verb = "sign" if r.role == RecipientRole.SIGNER.value else "view"
        self.rt.outbox.queue(
            session,
            MailMessage(
                to=r.email,
                subject=("Reminder: " if reminder else "") + f"Please {verb}: {env.title}",
                text=(
                    f'Hello {r.name},\n\nYou have been asked to {verb} "{env.title}".\n'
                    f"{env.message}\n\nOpen this one-time link to continue:\n{url}\n\n"
                    "The link works once. If you did not expect this message, ignore it.\n"
                ),
            ),
        )
        return url

    # -- reading -------------------------------------------------------------------------

    @staticmethod
    def documents(session: Session, envelope_id: str) -> list[Document]:
        q = select(Document).where(Document.envelope_id == envelope_id).order_by(Document.position)
        return list(session.execute(q).scalars())

    @staticmethod
    def recipients(session: Session, envelope_id: str) -> list[Recipient]:
        q = (
            select(Recipient)
            .where(Recipient.envelope_id == envelope_id)
            .order_by(Recipient.routing_order, Recipient.id)
        )
        return list(session.execute(q).scalars())

    @staticmethod
    def fields(session: Session, envelope_id: str) -> list[Field]:
        q = select(Field).where(Field.envelope_id == envelope_id).order_by(Field.id)
        return list(session.execute(q).scalars())

    @staticmethod
    def _require_draft(env: Envelope) -> None:
        if env.status != EnvelopeStatus.DRAFT.value:
            raise Conflict(f"envelope is {env.status}; only drafts can be changed")
