"""SQLAlchemy tables. The schema itself is owned by the Alembic migrations in
``storage/migrations``; these mappings must match them (a test checks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]


class ApiClient(Base):
    __tablename__ = "api_clients"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(300))
    scopes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: When the current secret was made (the credentials report flags old ones).
    secret_created_at: Mapped[datetime]
    #: After a rotation the previous secret keeps working until this deadline.
    previous_secret_hash: Mapped[str | None] = mapped_column(String(300))
    previous_secret_expires_at: Mapped[datetime | None]
    #: Space-separated folder names the client may touch; NULL means every folder.
    folders: Mapped[str | None] = mapped_column(Text)


class Envelope(Base):
    __tablename__ = "envelopes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    #: The security zone within the tenant (identity/scopes.py, DEFAULT_FOLDER).
    folder: Mapped[str] = mapped_column(String(50), default="general", server_default="general")
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    document_class: Mapped[str] = mapped_column(String(50), default="standard")
    transaction_value: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(Text)
    #: none | pending | retrying | sealed | failed
    seal_status: Mapped[str] = mapped_column(String(20), default="none")
    seal_error: Mapped[str | None] = mapped_column(Text)
    #: Step-up (B6): the oldest a signer's freshest qualifying verification may be when they
    #: sign, in seconds. Null on envelopes created before it existed (the setting applies).
    max_auth_age: Mapped[int | None] = mapped_column(Integer)
    #: Reminders (A1): {"first_after_hours", "every_hours", "max"}; null means the settings'
    #: defaults (services/reminders.py).
    reminders: Mapped[dict[str, Any] | None]


class Document(Base):
    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    page_sizes: Mapped[dict[str, Any]]
    blob_key: Mapped[str] = mapped_column(String(200))
    sealed_blob_key: Mapped[str | None] = mapped_column(String(200))
    sealed_sha256: Mapped[str | None] = mapped_column(String(64))


class Recipient(Base):
    __tablename__ = "recipients"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    routing_order: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    notified_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    #: Encrypted (keys.aead) JSON: signature text/strokes, decline reason. Never plaintext.
    sealed_input: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The authentication methods this recipient must pass (services/signer_auth/policy.py):
    #: {"methods": [...], "phone": E.164 or null, "access_code_hash": scrypt or null}.
    #: Null means the default, email OTP alone.
    auth: Mapped[dict[str, Any] | None]


class Field(Base):
    __tablename__ = "fields"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"))
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200), default="")
    required: Mapped[bool] = mapped_column(default=True)
    page: Mapped[int] = mapped_column(Integer)
    x: Mapped[float]
    y: Mapped[float]
    width: Mapped[float]
    height: Mapped[float]
    #: Encrypted (keys.aead) value once filled.
    value: Mapped[bytes | None] = mapped_column(LargeBinary)


class SigningLink(Base):
    """A one-time link. Only a hash of its token is stored."""

    __tablename__ = "signing_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignerSession(Base):
    __tablename__ = "signer_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    otp_hash: Mapped[str | None] = mapped_column(String(64))
    otp_expires_at: Mapped[datetime | None]
    otp_attempts: Mapped[int] = mapped_column(Integer, default=0)
    otp_sends: Mapped[int] = mapped_column(Integer, default=0)
    otp_verified_at: Mapped[datetime | None]
    consent_at: Mapped[datetime | None]
    locked_at: Mapped[datetime | None]


class SignerVerification(Base):
    """One authentication method a signer passed in a signer session (B5). Non-secret
    details only (a credential id hash, an issuer and subject hash); the same facts are in
    the ``signer:auth:passed`` ledger event, which is the evidence."""

    __tablename__ = "signer_verifications"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_hash: Mapped[str] = mapped_column(ForeignKey("signer_sessions.token_hash"), index=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    verified_at: Mapped[datetime]
    details: Mapped[dict[str, Any]]


class SignerChallenge(Base):
    """A server-side challenge bound to one signer session: an OTP (HMAC of the code), a
    WebAuthn challenge, an OIDC request (encrypted). Single use, short-lived."""

    __tablename__ = "signer_challenges"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_hash: Mapped[str] = mapped_column(ForeignKey("signer_sessions.token_hash"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    #: verify | register
    purpose: Mapped[str] = mapped_column(String(20))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignerTotp(Base):
    """A signer identity's TOTP enrolment: (tenant, normalised email) -> secret, encrypted
    (keys.aead). Unconfirmed until the first code is entered."""

    __tablename__ = "signer_totp"
    __table_args__ = (UniqueConstraint("tenant_id", "identity"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    #: SHA-256 of the tenant and the normalised email (services/signer_auth/identity.py).
    identity: Mapped[str] = mapped_column(String(64))
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    #: The last step accepted: that code and every older one are refused (no replay).
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]


class SignerPasskey(Base):
    """A WebAuthn credential a signer identity registered (public key only)."""

    __tablename__ = "signer_passkeys"
    credential_id: Mapped[str] = mapped_column(String(1400), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    identity: Mapped[str] = mapped_column(String(64), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON)
    aaguid: Mapped[str] = mapped_column(String(64))
    user_verified: Mapped[bool]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class AuthThrottle(Base):
    """A shared counter of failures or requests (B8), keyed by scope and a hashed key (a
    recipient id, a client IP): every process sees the same back-off and rate limits."""

    __tablename__ = "auth_throttle"
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class UsedTokenId(Base):
    """A spent single-use access token (B8): inserting its ``jti`` twice is a replay. Rows
    past ``expires_at`` are useless (the token is refused as expired) and may be purged."""

    __tablename__ = "used_token_ids"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DelegatedToken(Base):
    """A token minted by attenuation (B3): a token naming a ``parent`` is accepted only if
    its signed payload is exactly one recorded here. Purgeable past ``expires_at``."""

    __tablename__ = "delegated_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_jti: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(40))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiClientUsage(Base):
    """When a client last exercised a scope or a folder (``scope:<name>``,
    ``folder:<name>``), written at most once a minute per item and process: what the
    credentials report calls over-privileged is what was granted but not used."""

    __tablename__ = "api_client_usage"
    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), primary_key=True)
    item: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_used_at: Mapped[datetime]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("client_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class LedgerEvent(Base):
    """One leaf of the audit log. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "ledger_events"
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    envelope_id: Mapped[str | None] = mapped_column(String(32), index=True)
    seq: Mapped[int | None] = mapped_column(Integer)
    tag: Mapped[str] = mapped_column(String(80))
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("envelope_id", "seq"),)


class Checkpoint(Base):
    """A signed tree head. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "checkpoints"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    #: DER RFC 3161 timestamp token over the checkpoint (services/checkpoints.py), written
    #: with the row: the table is append-only, so it can never be added later.
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    #: Idempotency: at most one live job per (kind, key).
    key: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), index=True)
    run_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("kind", "key"),)


class RecipientReminder(Base):
    """One reminder sent to a recipient. The key (recipient, number) is what keeps two
    workers sweeping at once from sending the same reminder twice."""

    __tablename__ = "recipient_reminders"
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    sent_at: Mapped[datetime]


class CheckpointCosignature(Base):
    """A witness's cosignature line on a checkpoint (C2SP tlog-cosignature). Append-only."""

    __tablename__ = "checkpoint_cosignatures"
    size: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("checkpoints.size"), primary_key=True, autoincrement=False
    )
    #: The witness's verifier key (vkey), which names it and pins its key.
    witness: Mapped[str] = mapped_column(String(300), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Operator(Base):
    """A console operator (B7), identified by the OIDC issuer and subject of their ID token
    -- never by email, which an identity provider may let its users change."""

    __tablename__ = "operators"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    #: Space-separated role names (identity/roles.py).
    roles: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    #: Failed second-factor attempts since the last success, and the lock-out they earned.
    factor_failures: Mapped[int] = mapped_column(Integer, default=0)
    factor_locked_until: Mapped[datetime | None]


class OperatorFactor(Base):
    """A second factor enrolled by an operator: a TOTP secret (encrypted, keys.aead) or a
    WebAuthn credential (public key). Unconfirmed rows are enrolments in progress."""

    __tablename__ = "operator_factors"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    #: totp | passkey
    kind: Mapped[str] = mapped_column(String(20))
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    credential_id: Mapped[str | None] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The last TOTP step accepted: that code and every older one are refused.
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ConsoleLogin(Base):
    """An OIDC sign-in under way: state, nonce and PKCE verifier (encrypted), bound to the
    browser that started it by the hash of a cookie."""

    __tablename__ = "console_logins"
    binding_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A console session: only the hash of its cookie is stored."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    second_factor_at: Mapped[datetime | None]
    second_factor: Mapped[str | None] = mapped_column(String(20))
    #: A pending WebAuthn challenge (registration or authentication) and its deadline.
    challenge: Mapped[bytes | None] = mapped_column(LargeBinary)
    challenge_expires_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    """A tenant's webhook subscription (G2). Its signing keys are encrypted (keys.aead)."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200))
    #: Space-separated event tags and tag prefixes (webhooks/payloads.py).
    event_filter: Mapped[str] = mapped_column(Text)
    #: The scheme of the current key: v1 (HMAC) or v1a (Ed25519).
    scheme: Mapped[str] = mapped_column(String(8))
    secrets: Mapped[bytes] = mapped_column(LargeBinary)
    #: The previous key signs too until then (rotation overlap).
    previous_expires_at: Mapped[datetime | None]
    #: enabled | disabled | deleted
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event for one endpoint: the outbox row, written with the event. Its id is the
    ``webhook-id`` sent on every attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    event_id: Mapped[str] = mapped_column(String(32))
    event_tag: Mapped[str] = mapped_column(String(80))
    ledger_index: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    #: pending | delivered | dead
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    cycle_attempts: Mapped[int] = mapped_column(Integer)
    cycle_started_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    #: A worker's claim: who holds it and until when.
    lease: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(40))
    dead_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    dead_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt. Only a short, sanitised excerpt of the
    receiver's answer is kept."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    latency_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error_class: Mapped[str | None] = mapped_column(String(40))
    response_excerpt: Mapped[str | None] = mapped_column(String(1000))
    #: delivered | retry | dead | gone | superseded
    outcome: Mapped[str] = mapped_column(String(20))
    next_attempt_at: Mapped[datetime | None]


class VerificationAssertion(Base):
    """A signed assertion of a verification channel (channels/assertions.py), exactly as
    issued. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "verification_assertions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    #: The compact JWS; the ledger holds its SHA-256.
    compact: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ChannelVerification(Base):
    """One run of an out-of-band verification channel for a recipient (C1-C7): started,
    then completed by the signer's evidence, a carrier's callback or a reviewer's decision.
    A final result is a signed assertion (``assertion_id``); ``state`` is the channel's own
    (channels/port.py), never a PIN or code in clear."""

    __tablename__ = "channel_verifications"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    #: The challenge nonce (16 random bytes) every binding of this run uses.
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    #: pending | passed | failed | expired | locked | escalated | superseded
    status: Mapped[str] = mapped_column(String(20), index=True)
    state: Mapped[dict[str, Any]]
    #: What the signer's page shows (channels/port.py Challenge.display).
    display: Mapped[dict[str, Any]]
    #: The signer session that started it (null when an operator did, e.g. assistance).
    session_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    #: Who completed it: ``signer``, ``carrier``, ``operator:<id>``, ``system``.
    completed_by: Mapped[str | None] = mapped_column(String(80))
    assertion_id: Mapped[str | None] = mapped_column(String(32))


class VideoRecording(Base):
    """One capture uploaded to a video verification run (C3): encrypted in the blob store
    under its own data key (wrapped by the keyring), kept until ``delete_after``. The
    fingerprint (per-frame average hashes) is kept only for accepted captures, to refuse a
    replay; it goes when the recording does."""

    __tablename__ = "video_recordings"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    verification_id: Mapped[str] = mapped_column(
        ForeignKey("channel_verifications.id"), index=True
    )
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    #: uploading | stored | accepted | rejected | deleted
    status: Mapped[str] = mapped_column(String(20), index=True)
    blob_key: Mapped[str] = mapped_column(String(200))
    kek_id: Mapped[str] = mapped_column(String(255))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    chunks: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(40))
    #: SHA-256 hex of the plaintext; vid_hash = SHA-256(plaintext || nonce).
    sha256: Mapped[str | None] = mapped_column(String(64))
    vid_hash: Mapped[str | None] = mapped_column(String(64))
    fingerprint: Mapped[list[int] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    delete_after: Mapped[datetime] = mapped_column(index=True)
    deleted_at: Mapped[datetime | None]


class VerificationPlan(Base):
    """The risk orchestrator's plan for one risk-based recipient (D4, ``risk/plan.py``):
    the state machine's current value; every transition is also a ledger event."""

    __tablename__ = "verification_plans"
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), primary_key=True)
    envelope_id: Mapped[str] = mapped_column(ForeignKey("envelopes.id"), index=True)
    #: assessed | in-progress | satisfied | stepped-up | fallback | exhausted
    state: Mapped[str] = mapped_column(String(20))
    plan: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SignerObservation(Base):
    """The request signals of a recipient when its address, country or device changed
    (D1, D4): pseudonymous -- the address is an HMAC under the service's pepper."""

    __tablename__ = "signer_observations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"), index=True)
    #: ``services.signer_auth.policy.signer_identity`` (tenant + email, hashed).
    identity: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]
    ip_ref: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    #: Rounded to 0.1 degree (about 11 km): enough for impossible travel.
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    device_id: Mapped[str | None] = mapped_column(String(64))
    #: SHA-256 of the user agent and accept-language.
    fingerprint: Mapped[str | None] = mapped_column(String(64))


class FaceTemplate(Base):
    """A signer identity's enrolled face template (C3's optional match,
    ``liveness/template.py``): ``encrypt_bytes`` under the keyring with an aad naming the
    identity, never in the clear; from the first passing video capture, kept like the
    recordings (``delete_after``), then deleted by the sweep."""

    __tablename__ = "face_templates"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: ``services.signer_auth.policy.signer_identity`` (tenant + email, hashed).
    identity: Mapped[str] = mapped_column(String(64), unique=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    #: The run and the recording it was enrolled from.
    verification_id: Mapped[str] = mapped_column(
        ForeignKey("channel_verifications.id"), index=True
    )
    recording_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    delete_after: Mapped[datetime] = mapped_column(index=True)


class FraudFlag(Base):
    """A fraud flag on a signer identity (D1's "past fraud flags"): raised by a reviewer's
    denial or an operator; read by the risk signals of that identity's later ceremonies."""

    __tablename__ = "fraud_flags"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    identity: Mapped[str] = mapped_column(String(64), index=True)
    #: low | medium | high
    severity: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(200))
    #: Who raised it: ``operator:<id>`` (a review), ``api:<client>``.
    source: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class SignatureTemplate(Base):
    """The motion template (risk/motion.py) of a drawn signature a risk-based signer signed
    with, encrypted under the keyring with an aad naming the identity (biometric data: never
    in the clear). The identity's first is the enrolled one (similarity); all are checked
    for replays."""

    __tablename__ = "signature_templates"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity: Mapped[str] = mapped_column(String(64), index=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id"))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
