"""The sealing job: completed envelope → stamped, certified, PAdES-sealed PDFs.

Idempotent: a document already sealed is skipped, so a retry after a crash finishes the
rest. A timestamp-authority failure is recorded on the envelope (``seal.status = retrying``
with the reason) and re-raised so the job queue retries with backoff: a local time is never
passed off as a timestamp, and the envelope never sits silently in "pending".
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any, cast

import structlog
from sqlalchemy.orm import Session

from sealwright.channels.pseudonym import recipient_pseudonym
from sealwright.channels.qr import QrClaims, encode_qr
from sealwright.clock import parse_rfc3339
from sealwright.domain.events import EventTag
from sealwright.errors import TimestampUnavailable
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.mail.message import MailMessage
from sealwright.sealing.certificate import (
    CertificateDocument,
    CertificateEvent,
    CertificateQr,
    CertificateRecipient,
    CompletionCertificate,
    IdentityCheck,
    append_pages,
    render_certificate,
)
from sealwright.sealing.pades import seal_pdf
from sealwright.sealing.stamp import FieldKind as StampKind
from sealwright.sealing.stamp import FieldStamp, apply_fields
from sealwright.services.envelopes import EnvelopeService, document_aad, sealed_aad
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import field_aad, signer_aad
from sealwright.storage.models import Document, Envelope, Field, Recipient

log = structlog.get_logger("sealwright.sealing")

_METHODS = {"signer:otp:passed": "email one-time code", "signer:link:opened": "email link"}


class SealingJob:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def run(self, payload: dict[str, Any]) -> None:
        envelope_id = str(payload["envelope"])
        with self.rt.db.transaction() as session:
            env = session.get(Envelope, envelope_id)
            if env is None or env.seal_status == "sealed":
                return
            pending = [
                d.id
                for d in EnvelopeService.documents(session, env.id)
                if d.sealed_blob_key is None
            ]
        for doc_id in pending:
            try:
                self._seal_document(envelope_id, doc_id)
            except TimestampUnavailable as exc:
                self._record_failure(
                    envelope_id,
                    "the timestamp authority is unavailable; sealing will be retried automatically",
                )
                raise exc
        try:
            with self.rt.db.transaction() as session:
                env = session.get(Envelope, envelope_id)
                assert env is not None
                env.seal_status = "sealed"
                env.seal_error = None
                size = self.rt.checkpoints.publish(session).size
                self._notify_completion(session, env)
        except TimestampUnavailable:
            self._record_failure(
                envelope_id,
                "the timestamp authority is unavailable for the completion checkpoint; "
                "retrying automatically",
            )
            raise
        if self.rt.witnessing.configured:
            self.rt.witnessing.cosign(size)  # best effort: export asks again if one failed

    def _seal_document(self, envelope_id: str, doc_id: str) -> None:
        rt = self.rt
        with rt.db.transaction() as session:
            env = session.get(Envelope, envelope_id)
            doc = session.get(Document, doc_id)
            assert env is not None
            assert doc is not None
            original = decrypt_bytes(
                b"".join(rt.blobs.get(doc.blob_key)), keyring=rt.keyring, aad=document_aad(doc.id)
            )
            stamps = self._stamps(session, doc)
            certificate = self._certificate(session, env, doc)
        stamped = apply_fields(original, stamps)
        with_certificate = append_pages(stamped, render_certificate(certificate))
        sealed = seal_pdf(
            with_certificate,
            pki=rt.pki,
            timestamper=rt.tsa,
            clock=rt.clock,
            reason=f"Sealed by Sealwright: envelope {envelope_id}",
        )
        digest = hashlib.sha256(sealed).hexdigest()
        key = f"sealed/{doc_id}"
        rt.blobs.put(key, [encrypt_bytes(sealed, keyring=rt.keyring, aad=sealed_aad(doc_id))])
        with rt.db.transaction() as session:
            doc = session.get(Document, doc_id)
            env = session.get(Envelope, envelope_id)
            assert doc is not None
            assert env is not None
            if doc.sealed_blob_key is not None:
                return  # another worker finished first
            doc.sealed_blob_key = key
            doc.sealed_sha256 = digest
            rt.audit.append(
                session,
                EventTag.DOCUMENT_SEALED,
                tenant=env.tenant_id,
                envelope=env.id,
                actor="system",
                data={
                    "document": doc.id,
                    "sha256": digest,
                    "signer_certificate_sha256": hashlib.sha256(
                        rt.pki.signer.certificate_pem
                    ).hexdigest(),
                },
            )
        log.info("document sealed", envelope=envelope_id, document=doc_id)

    def _record_failure(self, envelope_id: str, reason: str) -> None:
        with self.rt.db.transaction() as session:
            env = session.get(Envelope, envelope_id)
            assert env is not None
            env.seal_status = "retrying"
            env.seal_error = reason
            self.rt.audit.append(
                session,
                EventTag.SEAL_FAILED,
                tenant=env.tenant_id,
                envelope=env.id,
                actor="system",
                data={"reason": "timestamp-unavailable"},
            )

    # -- inputs --------------------------------------------------------------------------

    def _stamps(self, session: Session, doc: Document) -> list[FieldStamp]:
        recipients = {r.id: r for r in EnvelopeService.recipients(session, doc.envelope_id)}
        signatures = {rid: self._signature(r) for rid, r in recipients.items()}
        stamps = []
        for f in EnvelopeService.fields(session, doc.envelope_id):
            if f.document_id != doc.id or f.value is None:
                continue
            r = recipients[f.recipient_id]
            sig = signatures[r.id]
            stamps.append(self._stamp(f, r, sig))
        return stamps

    def _stamp(self, f: Field, r: Recipient, sig: dict[str, Any]) -> FieldStamp:
        common: dict[str, Any] = {
            "page": f.page - 1,
            "x": f.x,
            "y": f.y,
            "width": f.width,
            "height": f.height,
        }
        if f.kind in ("signature", "initials"):
            signed_at = sig.get("signed_at", "")
            manifestation = (
                f"{r.name} · {signed_at[:19].replace('T', ' ')} UTC · "
                f"Signer — {sig.get('meaning', 'approval')}"
            )
            text = sig.get("text") or r.name
            if f.kind == "initials":
                text = "".join(part[:1] for part in text.split()).upper()
            if sig.get("kind") == "drawn" and f.kind == "signature":
                # the browser canvas has y pointing down; the stamp wants PDF's y up
                strokes = [[(p[0], 1 - p[1], p[2]) for p in stroke] for stroke in sig["strokes"]]
                return FieldStamp(
                    kind="signature", strokes=strokes, manifestation=manifestation, **common
                )
            return FieldStamp(
                kind=cast(StampKind, f.kind), text=text, manifestation=manifestation, **common
            )
        value = decrypt_bytes(f.value or b"", keyring=self.rt.keyring, aad=field_aad(f.id)).decode()
        return FieldStamp(kind=cast(StampKind, f.kind), text=value, **common)

    def _signature(self, r: Recipient) -> dict[str, Any]:
        if r.sealed_input is None:
            return {}
        data: dict[str, Any] = json.loads(
            decrypt_bytes(r.sealed_input, keyring=self.rt.keyring, aad=signer_aad(r.id))
        )
        return data

    def _qr(self, env: Envelope, doc: Document, r: Recipient) -> CertificateQr | None:
        """The signer's signed QR code for this document (docs/assertions.md §5): docHash is
        the document as received, signerIdHash the recipient's pseudonym. Long-lived by
        design (``qr_certificate_ttl_days``): it must verify as long as the contract matters."""
        if r.role != "signer" or r.status != "signed":
            return None
        rt = self.rt
        now = rt.clock.now()
        expires = now + timedelta(days=rt.settings.qr_certificate_ttl_days)
        claims = QrClaims(
            issuer=rt.settings.log_origin,
            doc_hash=bytes.fromhex(doc.sha256),
            signer_id_hash=bytes.fromhex(
                recipient_pseudonym(rt.channel_keys.pseudonym_key, env.tenant_id, r.id)
            ),
            iat=int(now.timestamp()),
            exp=int(expires.timestamp()),
            nonce=rt.random.token_bytes(16),
        )
        text = encode_qr(claims, rt.channel_keys.qr.private_key_for_current())
        return CertificateQr(text=text, expires_at=expires)

    def _certificate(self, session: Session, env: Envelope, doc: Document) -> CompletionCertificate:
        events = self.rt.audit.envelope_events(session, env.id)
        parsed = [json.loads(e.leaf) for e in events]
        checks: dict[str, list[IdentityCheck]] = {}
        for e in parsed:
            method = _METHODS.get(e["tag"])
            if method and "recipient" in e["data"]:
                checks.setdefault(e["data"]["recipient"], []).append(
                    IdentityCheck(method=method, passed_at=parse_rfc3339(e["time"]))
                )
        recipients = EnvelopeService.recipients(session, env.id)
        return CompletionCertificate(
            envelope_id=env.id,
            title=env.title,
            status=env.status,
            generated_at=self.rt.clock.now(),
            completed_at=env.completed_at,
            documents=tuple(
                CertificateDocument(
                    name=d.name, sha256=d.sha256, page_count=len(d.page_sizes["pages"])
                )
                for d in EnvelopeService.documents(session, env.id)
            ),
            recipients=tuple(
                CertificateRecipient(
                    name=r.name,
                    email=r.email,
                    role=r.role,
                    routing_order=r.routing_order,
                    status=r.status,
                    identity_checks=tuple(checks.get(r.id, ())),
                    signed_at=r.signed_at,
                    meaning=("Signer — approval" if r.role == "signer" else None),
                    qr=self._qr(env, doc, r),
                )
                for r in recipients
            ),
            events=tuple(
                CertificateEvent(
                    time=parse_rfc3339(e["time"]),
                    tag=e["tag"],
                    actor=e["actor"],
                    leaf_hash=row.leaf_hash.hex(),
                )
                for e, row in zip(parsed, events, strict=True)
            ),
        )

    def _notify_completion(self, session: Session, env: Envelope) -> None:
        for r in EnvelopeService.recipients(session, env.id):
            self.rt.outbox.queue(
                session,
                MailMessage(
                    to=r.email,
                    subject=f"Completed: {env.title}",
                    text=(
                        f'Hello {r.name},\n\nEveryone has signed "{env.title}". The sealed '
                        "document and its certificate of completion are available from the "
                        "sender.\n"
                    ),
                ),
            )
