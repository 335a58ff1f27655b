"""The signer authentication methods this server offers, built from its settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from sealwright.errors import ValidationError
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.access_code import AccessCode
from sealwright.services.signer_auth.base import SignerMethod
from sealwright.services.signer_auth.email_otp import EmailOtp
from sealwright.services.signer_auth.oidc import Oidc
from sealwright.services.signer_auth.passkey import Passkey
from sealwright.services.signer_auth.policy import Method
from sealwright.services.signer_auth.sms_otp import SmsOtp
from sealwright.services.signer_auth.totp import Totp


def signer_methods(rt: Runtime) -> dict[Method, SignerMethod]:
    methods: dict[Method, SignerMethod] = {
        Method.EMAIL_OTP: EmailOtp(rt),
        Method.ACCESS_CODE: AccessCode(rt),
        Method.TOTP: Totp(rt),
    }
    # A public_url neither https nor loopback: browsers refuse WebAuthn there.
    with contextlib.suppress(ValueError):
        methods[Method.PASSKEY] = Passkey(rt)
    if rt.sms is not None:  # the carrier simulator, in the embedded default
        methods[Method.SMS_OTP] = SmsOtp(rt)
    if rt.signer_oidc is not None:
        methods[Method.OIDC] = Oidc(rt, rt.signer_oidc)
    return methods


def available(rt: Runtime) -> frozenset[Method]:
    return frozenset(signer_methods(rt))


def check_available(rt: Runtime, methods: Iterable[Method], who: str = "recipient") -> None:
    """A sender may only require methods this server can run (OIDC needs an IdP)."""
    offered = available(rt)
    for m in methods:
        if m not in offered:
            raise ValidationError(f"{who}: {m.value} is not available on this server")
