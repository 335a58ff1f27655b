"""Which authentication methods a recipient must pass, as one small value object.

The sender names them per recipient when creating an envelope (later the risk engine will);
the envelope stores them as JSON on the recipient (``recipients.auth``) and the maximum
authentication age on the envelope. Every rule is checked here, with an error that says
what to change; nothing is stored that did not pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sealwright.errors import ValidationError
from sealwright.identity.secrets import hash_secret


class Method(StrEnum):
    EMAIL_OTP = "email-otp"
    SMS_OTP = "sms-otp"
    TOTP = "totp"
    PASSKEY = "passkey"
    OIDC = "oidc"
    ACCESS_CODE = "access-code"


DEFAULT_METHODS = (Method.EMAIL_OTP,)
#: Out-of-band verification channels (C) a recipient may be required to pass before
#: signing, in addition to the methods: each run ends in a signed assertion.
CHANNELS = ("phone-callback", "sms-otp", "qr-device", "video", "manual-review")
#: Channels that reach the signer on the phone number the *sender* put on file.
PHONE_CHANNELS = frozenset({"phone-callback", "sms-otp"})
#: Methods a signer can pass without anything enrolled beforehand. TOTP and passkeys are
#: enrolled in a session that already passed one of these, so they need a companion.
BOOTSTRAP = frozenset({Method.EMAIL_OTP, Method.SMS_OTP, Method.OIDC, Method.ACCESS_CODE})
MIN_AUTH_AGE, MAX_AUTH_AGE = 30, 24 * 3600
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
ACCESS_CODE_LENGTH = (6, 128)


@dataclass(frozen=True, slots=True)
class RecipientAuth:
    """All of ``methods`` must be passed (in one signer session) before the recipient may
    consent and review; all of ``channels`` (out-of-band, C) before they may sign."""

    methods: tuple[Method, ...] = DEFAULT_METHODS
    phone: str | None = None
    #: scrypt (identity/secrets.py) of the access code the sender gives out of band.
    access_code_hash: str | None = None
    channels: tuple[str, ...] = ()
    #: The risk orchestrator (D4) adds channels from the score (docs/orchestrator.md).
    risk_based: bool = False

    @classmethod
    def build(
        cls,
        methods: Sequence[str] | None = None,
        *,
        phone: str | None = None,
        access_code: str | None = None,
        channels: Sequence[str] | None = None,
        who: str = "recipient",
        risk_based: bool = False,
    ) -> RecipientAuth:
        """Validate what a sender asked for; hashes the access code (never kept in clear)."""
        chosen = _methods(methods, who)
        oob = _channels(channels, who)
        phone_needed = [m.value for m in chosen if m is Method.SMS_OTP] + [
            c for c in oob if c in PHONE_CHANNELS
        ]
        if phone_needed or (risk_based and phone):
            if not phone:
                raise ValidationError(
                    f"{who}: {phone_needed[0]} needs a phone number in E.164 form"
                )
            if not E164.fullmatch(phone):
                raise ValidationError(
                    f"{who}: the phone number must be in E.164 form (+ and 7 to 15 digits, "
                    "e.g. +447700900123)"
                )
        elif phone:
            raise ValidationError(
                f"{who}: a phone number is only used with sms-otp, phone-callback or "
                "risk_based"
            )
        code_hash = None
        if Method.ACCESS_CODE in chosen:
            if access_code is None:
                raise ValidationError(f"{who}: access-code needs the access_code to expect")
            low, high = ACCESS_CODE_LENGTH
            if not low <= len(access_code) <= high or access_code != access_code.strip():
                raise ValidationError(
                    f"{who}: the access code must be {low} to {high} characters, "
                    "without leading or trailing spaces"
                )
            code_hash = hash_secret(access_code)
        elif access_code is not None:
            raise ValidationError(f"{who}: an access code is only used with access-code")
        return cls(
            methods=chosen,
            phone=phone,
            access_code_hash=code_hash,
            channels=oob,
            risk_based=risk_based,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RecipientAuth:
        if not data:
            return cls()
        return cls(
            methods=tuple(Method(m) for m in data["methods"]),
            phone=data.get("phone"),
            access_code_hash=data.get("access_code_hash"),
            channels=tuple(data.get("channels") or ()),
            risk_based=bool(data.get("risk_based", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "methods": [m.value for m in self.methods],
            "phone": self.phone,
            "access_code_hash": self.access_code_hash,
            "channels": list(self.channels),
            **({"risk_based": True} if self.risk_based else {}),
        }


def _channels(channels: Sequence[str] | None, who: str) -> tuple[str, ...]:
    chosen: list[str] = []
    for name in channels or ():
        if name not in CHANNELS:
            raise ValidationError(
                f"{who}: unknown verification channel {str(name)[:40]!r} "
                f"(known: {', '.join(CHANNELS)})"
            )
        if name in chosen:
            raise ValidationError(f"{who}: channel {name} is named twice")
        chosen.append(name)
    return tuple(chosen)


def _methods(methods: Sequence[str] | None, who: str) -> tuple[Method, ...]:
    if methods is None:
        return DEFAULT_METHODS
    if not methods:
        raise ValidationError(f"{who}: name at least one authentication method")
    chosen: list[Method] = []
    for name in methods:
        try:
            method = Method(name)
        except ValueError:
            known = ", ".join(m.value for m in Method)
            raise ValidationError(
                f"{who}: unknown authentication method {str(name)[:40]!r} (known: {known})"
            ) from None
        if method in chosen:
            raise ValidationError(f"{who}: {method.value} is named twice")
        chosen.append(method)
    if not BOOTSTRAP.intersection(chosen):
        raise ValidationError(
            f"{who}: totp and passkey are enrolled after another method has been passed; "
            "add one of email-otp, sms-otp, oidc or access-code"
        )
    return tuple(chosen)


def max_auth_age(value: int | None, default: int) -> int:
    chosen = default if value is None else value
    if not MIN_AUTH_AGE <= chosen <= MAX_AUTH_AGE:
        raise ValidationError(
            f"max_auth_age_seconds must be between {MIN_AUTH_AGE} and {MAX_AUTH_AGE}"
        )
    return chosen


def signer_identity(tenant_id: str, email: str) -> str:
    """A signer identity across envelopes (what TOTP and passkeys are enrolled for): the
    tenant and the normalised email address, hashed so that it can be an index key."""
    normalised = email.strip().lower()
    return hashlib.sha256(f"{tenant_id}\x00{normalised}".encode()).hexdigest()
