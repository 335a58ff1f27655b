"""Audit event tags, shaped ``source:subject:action`` (after warehouse's event tags).

Sources: ``api`` (an integrator's authenticated call), ``signer`` (a recipient's browser),
``system`` (the service itself: jobs, sealing, routing), ``operator`` (CLI / console).
"""

from __future__ import annotations

from enum import StrEnum


class EventTag(StrEnum):
    TOKEN_ISSUED = "api:token:issued"
    TOKEN_REFUSED = "api:token:refused"
    ACCESS_DENIED = "api:access:denied"
    ENVELOPE_CREATED = "api:envelope:created"
    DOCUMENT_ADDED = "api:document:added"
    DOCUMENT_REJECTED = "api:document:rejected"
    FIELDS_PLACED = "api:field:placed"
    ENVELOPE_SENT = "api:envelope:sent"
    ENVELOPE_VOIDED = "api:envelope:voided"
    EVIDENCE_EXPORTED = "api:evidence:exported"
    SEALED_DOWNLOADED = "api:document:downloaded"

    RECIPIENT_NOTIFIED = "system:recipient:notified"
    ENVELOPE_COMPLETED = "system:envelope:completed"
    ENVELOPE_DECLINED = "system:envelope:declined"
    ENVELOPE_EXPIRED = "system:envelope:expired"
    DOCUMENT_SEALED = "system:document:sealed"
    SEAL_FAILED = "system:seal:failed"
    KEY_USED = "system:key:used"

    LINK_OPENED = "signer:link:opened"
    LINK_REFUSED = "signer:link:refused"
    OTP_SENT = "signer:otp:sent"
    OTP_FAILED = "signer:otp:failed"
    OTP_LOCKED = "signer:otp:locked"
    OTP_PASSED = "signer:otp:passed"
    CONSENT_GIVEN = "signer:consent:given"
    DOCUMENT_VIEWED = "signer:document:viewed"
    FIELD_FILLED = "signer:field:filled"
    RECIPIENT_SIGNED = "signer:recipient:signed"
    RECIPIENT_DECLINED = "signer:recipient:declined"
    RECIPIENT_RECEIVED = "signer:recipient:received"
    SESSION_REFUSED = "signer:session:refused"

    CLIENT_CREATED = "operator:client:created"
    TENANT_CREATED = "operator:tenant:created"
