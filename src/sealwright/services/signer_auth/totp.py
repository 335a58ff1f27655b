"""TOTP (RFC 6238) for signers: enrolment for a signer identity (tenant, normalised email)
and use, with replay refused through the last accepted step.

Enrolment is allowed only in a signer session that already passed another method (so a
stolen link alone cannot bind the attacker's authenticator to the signer); it shows a QR
code and is confirmed by a first code, which also counts as a TOTP verification. The
secret is stored encrypted (keys.aead), bound to the identity through the AAD.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import Conflict
from sealwright.identity import totp
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext, record, refuse
from sealwright.services.signer_auth.base import Verifications
from sealwright.services.signer_auth.policy import Method, signer_identity
from sealwright.storage.models import SignerTotp

ISSUER = "Sealwright"
#: An unconfirmed enrolment older than this gets a new secret when the page is shown again.
PENDING_FOR = timedelta(minutes=15)
# Checked when there is no enrolment, so that "not enrolled" costs what "wrong" costs.
_DUMMY_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 -- public placeholder


@dataclass(frozen=True, slots=True)
class Enrolment:
    uri: str
    qr_svg: str
    secret: str


def _aad(row: SignerTotp) -> bytes:
    return f"sealwright:signer-totp:{row.tenant_id}:{row.identity}".encode()


class Totp:
    method: ClassVar[Method] = Method.TOTP

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.verifications = Verifications(rt)

    def enrolment(self, session: Session, ctx: SignerContext) -> SignerTotp | None:
        identity = signer_identity(ctx.envelope.tenant_id, ctx.recipient.email)
        return session.execute(
            select(SignerTotp).where(
                SignerTotp.tenant_id == ctx.envelope.tenant_id, SignerTotp.identity == identity
            )
        ).scalar_one_or_none()

    def enrolled(self, session: Session, ctx: SignerContext) -> bool:
        row = self.enrolment(session, ctx)
        return row is not None and row.confirmed_at is not None

    def begin(self, session: Session, ctx: SignerContext) -> Mapping[str, Any]:
        return {"enrolled": self.enrolled(session, ctx)}

    def finish(self, session: Session, ctx: SignerContext, answer: Mapping[str, str]) -> bool:
        self.verifications.guard(session, ctx)
        row = self.enrolment(session, ctx)
        usable = row is not None and row.confirmed_at is not None
        secret = self._secret(row) if usable and row is not None else _DUMMY_SECRET
        code = answer.get("code", "").strip()
        now = self.rt.clock.now()
        last = row.last_step if usable and row is not None else None
        step = totp.verify(secret, code, now=now, last_step=last)
        # Computed on every path, so a replay costs what any other failure costs.
        any_step = totp.verify(secret, code, now=now, last_step=None)
        if step is not None and usable and row is not None:
            row.last_step = step
            self.verifications.passed(session, ctx, self.method)
            return True
        reason = (
            "not enrolled"
            if not usable
            else "replayed code"
            if any_step is not None
            else "mismatch"
        )
        self.verifications.failed(session, ctx, self.method, reason)
        return False

    # -- enrolment -----------------------------------------------------------------------

    def start_enrolment(self, session: Session, ctx: SignerContext) -> Enrolment:
        self._require_other_method(session, ctx)
        row = self.enrolment(session, ctx)
        now = self.rt.clock.now()
        if row is not None and row.confirmed_at is not None:
            raise Conflict("an authenticator app is already set up for you")
        if row is None or row.created_at < now - PENDING_FOR:
            secret = totp.new_secret(random=self.rt.random)
            if row is None:
                row = SignerTotp(
                    id=uuid.uuid4().hex,
                    tenant_id=ctx.envelope.tenant_id,
                    identity=signer_identity(ctx.envelope.tenant_id, ctx.recipient.email),
                    secret=b"",
                )
                session.add(row)
            row.created_at = now
            row.last_step = None
            row.secret = encrypt_bytes(secret.encode(), keyring=self.rt.keyring, aad=_aad(row))
            session.flush()
        else:
            secret = self._secret(row)
        uri = totp.provisioning_uri(
            secret, account=ctx.recipient.email.replace(":", ""), issuer=ISSUER
        )
        return Enrolment(uri=uri, qr_svg=totp.qr_svg(uri), secret=secret)

    def confirm_enrolment(self, session: Session, ctx: SignerContext, code: str) -> bool:
        self._require_other_method(session, ctx)
        self.verifications.guard(session, ctx)
        row = self.enrolment(session, ctx)
        pending = row is not None and row.confirmed_at is None
        secret = self._secret(row) if pending and row is not None else _DUMMY_SECRET
        now = self.rt.clock.now()
        step = totp.verify(secret, code.strip(), now=now, last_step=None)
        if step is None or not pending or row is None:
            reason = "no enrolment under way" if not pending else "mismatch"
            self.verifications.failed(session, ctx, self.method, reason, {"enrolment": True})
            return False
        row.confirmed_at = now
        row.last_step = step
        record(self.rt, session, ctx.envelope, ctx.recipient, EventTag.TOTP_ENROLLED)
        self.verifications.passed(session, ctx, self.method, {"enrolled": True})
        return True

    def _require_other_method(self, session: Session, ctx: SignerContext) -> None:
        passed = Verifications.latest(session, ctx)
        if not any(m is not self.method for m in passed):
            refuse(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.AUTH_FAILED,
                "totp enrolment before any other method was passed",
            )

    def _secret(self, row: SignerTotp) -> str:
        return decrypt_bytes(row.secret, keyring=self.rt.keyring, aad=_aad(row)).decode()
