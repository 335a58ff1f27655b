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
    #: An authorisation decision that let a sensitive action through (B2): action, target.
    ACCESS_GRANTED = "api:access:granted"
    #: A narrower token minted from another by token exchange (B3): parent and child jti.
    TOKEN_ATTENUATED = "api:token:attenuated"
    ENVELOPE_CREATED = "api:envelope:created"
    DOCUMENT_ADDED = "api:document:added"
    DOCUMENT_REJECTED = "api:document:rejected"
    FIELDS_PLACED = "api:field:placed"
    ENVELOPE_SENT = "api:envelope:sent"
    ENVELOPE_VOIDED = "api:envelope:voided"
    EVIDENCE_EXPORTED = "api:evidence:exported"
    SEALED_DOWNLOADED = "api:document:downloaded"

    RECIPIENT_NOTIFIED = "system:recipient:notified"
    #: A reminder to a recipient whose turn it is (A1): recipient, reminder number, channel.
    RECIPIENT_REMINDED = "system:recipient:reminded"
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
    # Signer authentication methods (B5), step-up (B6), brute force and rate limits (B8).
    AUTH_PASSED = "signer:auth:passed"
    AUTH_FAILED = "signer:auth:failed"
    AUTH_THROTTLED = "signer:auth:throttled"
    TOTP_ENROLLED = "signer:totp:enrolled"
    PASSKEY_REGISTERED = "signer:passkey:registered"
    STEP_UP_REQUIRED = "signer:step-up:required"
    #: SMS codes (sms-otp): handed to the carrier, not handed over, the carrier's final
    #: delivery report. The phone number only as a keyed hash.
    SMS_QUEUED = "signer:sms:queued"
    SMS_FAILED = "signer:sms:failed"
    SMS_STATUS = "signer:sms:status"
    RATE_LIMITED = "api:rate:limited"

    CLIENT_CREATED = "operator:client:created"
    CLIENT_ROTATED = "operator:client:rotated"
    CLIENT_REVOKED = "operator:client:revoked"
    TENANT_CREATED = "operator:tenant:created"

    # Operators and the console (B7): who may sign in, and every decision about it.
    OPERATOR_ADDED = "operator:operator:added"
    OPERATOR_ROLES_CHANGED = "operator:operator:roles-changed"
    OPERATOR_DISABLED = "operator:operator:disabled"
    CONSOLE_ACCESS_DENIED = "console:access:denied"
    CONSOLE_ACCESS_GRANTED = "console:access:granted"
    CONSOLE_SIGNIN_PASSED = "console:signin:passed"
    CONSOLE_SIGNIN_REFUSED = "console:signin:refused"
    CONSOLE_FACTOR_ENROLLED = "console:factor:enrolled"
    CONSOLE_FACTOR_PASSED = "console:factor:passed"
    CONSOLE_FACTOR_FAILED = "console:factor:failed"
    CONSOLE_FACTOR_LOCKED = "console:factor:locked"
    CONSOLE_SESSION_ENDED = "console:session:ended"

    # Webhooks (G2): endpoint management and delivery outcomes. Never delivered by webhook.
    WEBHOOK_CREATED = "api:webhook:created"
    WEBHOOK_UPDATED = "api:webhook:updated"
    WEBHOOK_ROTATED = "api:webhook:rotated"
    WEBHOOK_DELETED = "api:webhook:deleted"
    WEBHOOK_REDELIVERED = "api:webhook:redelivered"
    WEBHOOK_REDELIVERED_BY_OPERATOR = "operator:webhook:redelivered"
    WEBHOOK_DISABLED = "system:webhook:disabled"
    WEBHOOK_DEAD_LETTERED = "system:webhook:dead-lettered"

    # Out-of-band verification (C): a channel's signed assertion, stored and logged by its
    # id, channel, result and the SHA-256 of its compact form (never its personal parts).
    ASSERTION_ISSUED = "system:assertion:issued"
    #: A channel run started for a recipient (verification id, channel); its outside step
    #: (a call placed, a text sent) done or failed; a wrong answer with attempts left; an
    #: answer refused outright (a finished, unknown or foreign verification).
    CHANNEL_STARTED = "signer:channel:started"
    CHANNEL_DISPATCHED = "system:channel:dispatched"
    CHANNEL_ATTEMPT_FAILED = "signer:channel:attempt-failed"
    CHANNEL_REFUSED = "signer:channel:refused"
    #: Video verification (C3): the sweep deleted an expired recording's ciphertext (its
    #: recording id, verification and vid_hash; never the video or anything derived from it).
    VIDEO_DELETED = "system:video:deleted"
    #: "Sign" pressed while a required channel is unpassed (the channels still missing).
    SIGN_BLOCKED = "signer:sign:blocked"
    #: The signer asked for a human-assisted alternative (C7) for a channel.
    ASSISTANCE_REQUESTED = "signer:assistance:requested"
    #: A reviewer's decision (C5) or an operator's assisted verification (C7).
    REVIEW_DECIDED = "operator:review:decided"
    ASSISTED_VERIFICATION = "operator:assistance:recorded"
    #: Signed QR codes (C4): an online verification by an API client (its id is the actor;
    #: the outcome, key id and reason are recorded, never the code itself); a second-device
    #: link whose token names no run (a malformed or guessed token).
    QR_VERIFIED = "api:qr:verified"
    QR_REFUSED = "api:qr:refused"
    DEVICE_LINK_REFUSED = "signer:device:refused"
    #: Risk orchestration (D4, docs/orchestrator.md): a score with its per-signal
    #: explanation and the decision (never an address, coordinates or amount); a
    #: recipient's plan created, stepped up (old and new tier, the signals that changed),
    #: a failed channel replaced by its fallback (from, to, rationale), no fallback left.
    RISK_ASSESSED = "system:risk:assessed"
    PLAN_CREATED = "system:plan:created"
    PLAN_STEPPED_UP = "system:plan:stepped-up"
    PLAN_FALLBACK = "system:plan:fallback"
    PLAN_EXHAUSTED = "system:plan:exhausted"
