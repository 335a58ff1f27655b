"""Request and response bodies of the public API (OpenAPI is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from sealwright.domain.envelopes import FieldKind, RecipientRole
from sealwright.services.signer_auth.policy import Method as SignerAuthMethod

#: services/signer_auth/policy.py CHANNELS (a test keeps the two equal).
VerificationChannelName = Literal[
    "phone-callback", "sms-otp", "qr-device", "video", "manual-review"
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 -- the OAuth token type, not a secret
    expires_in: int
    scope: str
    #: RFC 8693 token exchange answers say what they issued.
    issued_token_type: str | None = None


class RecipientIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    role: RecipientRole = RecipientRole.SIGNER
    routing_order: int = Field(default=1, ge=1, le=100)
    #: All of these must be passed before signing (default: email-otp alone).
    auth_methods: list[SignerAuthMethod] | None = Field(default=None, min_length=1, max_length=6)
    #: Out-of-band channels (C) that must be passed before signing, each ending in a signed
    #: assertion: phone-callback, sms-otp, qr-device, video, manual-review.
    verification_channels: list[VerificationChannelName] | None = Field(default=None, max_length=5)
    #: E.164, for sms-otp (method or channel) and phone-callback: the number is the
    #: sender's, never one typed by the signer.
    phone: str | None = Field(default=None, max_length=16)
    #: For access-code: given to the recipient out of band; stored only as an scrypt hash.
    access_code: str | None = Field(default=None, max_length=128)
    #: Let the risk orchestrator (D4) add channels from the risk score and the policy,
    #: fall back when one fails and step up when signals change (docs/orchestrator.md).
    risk_based: bool = False


class RemindersIn(Strict):
    """Reminders to recipients whose turn it is and who have not acted (A1)."""

    first_after_hours: int = Field(ge=1, le=24 * 365)
    every_hours: int = Field(ge=1, le=24 * 365)
    #: 0: no reminders for this envelope.
    max: int = Field(ge=0, le=20)


class EnvelopeIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    message: str = Field(default="", max_length=5000)
    recipients: list[RecipientIn] = Field(min_length=1, max_length=50)
    #: Omitted: the setting ``envelope_expires_in_days`` (30).
    expires_in_days: int | None = Field(default=None, ge=1, le=365)
    document_class: str = Field(default="standard", pattern=r"^[a-z][a-z0-9_-]{0,49}$")
    transaction_value: int | None = Field(default=None, ge=0)
    #: The folder (security zone) to create it in (identity/scopes.py).
    folder: str = Field(default="general", pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    #: Step-up: the oldest a signer's freshest verification may be when they sign.
    max_auth_age_seconds: int | None = Field(default=None, ge=30, le=86400)
    #: Reminders; omitted: the service's defaults (settings ``reminder_*``).
    reminders: RemindersIn | None = None


class FieldIn(Strict):
    document_id: str
    recipient_id: str
    kind: FieldKind
    page: int = Field(ge=1)
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    width: float = Field(gt=0, le=2000)
    height: float = Field(gt=0, le=2000)
    required: bool = True
    label: str = Field(default="", max_length=200)


class FieldsIn(Strict):
    fields: list[FieldIn] = Field(min_length=1, max_length=500)


class VoidIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class DocumentOut(BaseModel):
    id: str
    name: str
    sha256: str
    size: int
    pages: int
    sealed_sha256: str | None


class RecipientOut(BaseModel):
    id: str
    name: str
    email: str
    role: str
    routing_order: int
    status: str
    signed_at: datetime | None
    auth_methods: list[str] = Field(default_factory=lambda: ["email-otp"])
    phone: str | None = None
    verification_channels: list[str] = Field(default_factory=list)
    risk_based: bool = False


class FieldOut(BaseModel):
    id: str
    document_id: str
    recipient_id: str
    kind: str
    page: int
    x: float
    y: float
    width: float
    height: float
    required: bool
    label: str
    filled: bool


class SealOut(BaseModel):
    status: str
    error: str | None


class EnvelopeOut(BaseModel):
    id: str
    title: str
    status: str
    status_reason: str | None
    document_class: str
    transaction_value: int | None
    folder: str = "general"
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    max_auth_age_seconds: int | None = None
    seal: SealOut
    documents: list[DocumentOut]
    recipients: list[RecipientOut]
    fields: list[FieldOut]


class EnvelopeSummary(BaseModel):
    id: str
    title: str
    status: str
    folder: str = "general"
    created_at: datetime


class EnvelopePage(BaseModel):
    items: list[EnvelopeSummary]
    next_cursor: str | None
