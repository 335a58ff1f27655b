"""Operators' second factors (B7): TOTP and passkeys, enrolment and checks, lock-out.

An operator with no confirmed factor enrols one right after SSO, and confirming it (a TOTP
code, a passkey registration) counts as passing the second factor. Once a factor is
confirmed, a new one can only be enrolled from a session that passed the second factor:
SSO credentials alone never add a factor.

Every check counts: ``console_factor_max_attempts`` failures in a row lock the operator's
second factor for 30 s, and each further failure doubles the lock (capped at an hour). A
locked operator is refused without the code being checked. Users learn nothing from the
answer (``False``); the reason -- wrong code, replayed code, locked, unknown credential --
goes to the ledger. Secrets are stored encrypted (keys.aead), bound to their row's id.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import AuthenticationFailed
from sealwright.identity import passkeys, totp
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.services.console_sessions import ConsoleContext
from sealwright.services.runtime import Runtime
from sealwright.storage.models import OperatorFactor

TOTP = "totp"
PASSKEY = "passkey"
TOTP_ISSUER = "Sealwright"
RP_NAME = "Sealwright console"
#: Seconds a passkey challenge stays answerable (the browser's own timeout is 180 s).
CHALLENGE_SECONDS = 180
LOCK_BASE_SECONDS = 30
LOCK_MAX_SECONDS = 3600


def factor_aad(factor_id: str) -> bytes:
    return f"sealwright:operator-factor:{factor_id}".encode()


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """What the enrolment page shows once: it holds the secret, so ``no-store``."""

    uri: str
    qr_svg: str
    secret: str


class FactorService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def confirmed(db: Session, operator_id: str) -> Sequence[OperatorFactor]:
        return (
            db.execute(
                select(OperatorFactor)
                .where(
                    OperatorFactor.operator_id == operator_id,
                    OperatorFactor.confirmed_at.is_not(None),
                )
                .order_by(OperatorFactor.created_at)
            )
            .scalars()
            .all()
        )

    def may_enrol(self, db: Session, ctx: ConsoleContext) -> bool:
        return ctx.second_factor_passed or not self.confirmed(db, ctx.operator.id)

    def _require_may_enrol(self, db: Session, ctx: ConsoleContext) -> None:
        if not self.may_enrol(db, ctx):
            self._record(db, ctx, EventTag.CONSOLE_FACTOR_FAILED, "enrolment before the factor")
            raise _RecordedRefusal()

    # -- TOTP ------------------------------------------------------------------------------

    def begin_totp(self, db: Session, ctx: ConsoleContext) -> TotpEnrolment:
        """A fresh secret in an unconfirmed row (replacing an earlier unconfirmed one)."""
        self._require_may_enrol(db, ctx)
        db.execute(
            delete(OperatorFactor).where(
                OperatorFactor.operator_id == ctx.operator.id,
                OperatorFactor.kind == TOTP,
                OperatorFactor.confirmed_at.is_(None),
            )
        )
        secret = totp.new_secret(random=self.rt.random)
        factor_id = uuid.uuid4().hex
        db.add(
            OperatorFactor(
                id=factor_id,
                operator_id=ctx.operator.id,
                kind=TOTP,
                secret=self._seal(factor_id, secret),
                sign_count=0,
                created_at=self.rt.clock.now(),
            )
        )
        account = ctx.operator.email.replace(":", "_")
        uri = totp.provisioning_uri(secret, account=account, issuer=TOTP_ISSUER)
        return TotpEnrolment(uri=uri, qr_svg=totp.qr_svg(uri), secret=secret)

    def confirm_totp(self, db: Session, ctx: ConsoleContext, code: str) -> bool:
        self._require_may_enrol(db, ctx)
        pending = db.execute(
            select(OperatorFactor).where(
                OperatorFactor.operator_id == ctx.operator.id,
                OperatorFactor.kind == TOTP,
                OperatorFactor.confirmed_at.is_(None),
            )
        ).scalar_one_or_none()
        if pending is None:
            return self._attempt(db, ctx, TOTP, lambda: "no TOTP enrolment under way")

        def check() -> str | None:
            step = totp.verify(self._open(pending), code, now=self.rt.clock.now(), last_step=None)
            if step is None:
                return "wrong TOTP code at enrolment"
            pending.confirmed_at = pending.last_used_at = self.rt.clock.now()
            pending.last_step = step
            self._record(db, ctx, EventTag.CONSOLE_FACTOR_ENROLLED, None, TOTP, pending.id)
            return None

        return self._attempt(db, ctx, TOTP, check)

    def verify_totp(self, db: Session, ctx: ConsoleContext, code: str) -> bool:
        factors = [f for f in self.confirmed(db, ctx.operator.id) if f.kind == TOTP]

        def check() -> str | None:
            if not factors:
                return "no TOTP enrolled"
            replayed = False
            now = self.rt.clock.now()
            for factor in factors:
                secret = self._open(factor)
                step = totp.verify(secret, code, now=now, last_step=factor.last_step)
                if step is not None:
                    factor.last_step = step
                    factor.last_used_at = now
                    return None
                # Only to name the reason in the ledger: the answer is the same.
                if totp.verify(secret, code, now=now, last_step=None) is not None:
                    replayed = True
            return "TOTP code replayed" if replayed else "wrong TOTP code"

        return self._attempt(db, ctx, TOTP, check)

    # -- passkeys (WebAuthn) ---------------------------------------------------------------

    def relying_party(self) -> passkeys.RelyingParty:
        """The console's WebAuthn relying party: the public URL's host and origin. Browsers
        offer passkeys only to https origins (and loopback), so with any other public URL
        passkeys are refused like a failed attempt."""
        parts = urlsplit(self.rt.settings.public_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        try:
            return passkeys.RelyingParty(id=parts.hostname or "", name=RP_NAME, origin=origin)
        except ValueError as exc:
            raise passkeys.PasskeyRejected(f"passkeys unavailable: {exc}") from None

    def passkey_registration(self, db: Session, ctx: ConsoleContext) -> str:
        """Options for ``navigator.credentials.create()``; the challenge stays on the session."""
        self._require_may_enrol(db, ctx)
        existing = [
            _unb64(f.credential_id)
            for f in self.confirmed(db, ctx.operator.id)
            if f.kind == PASSKEY and f.credential_id
        ]
        rp = self._usable_relying_party(db, ctx)
        challenge = passkeys.registration_options(
            rp,
            user_id=bytes.fromhex(ctx.operator.id),
            user_name=ctx.operator.email,
            display_name=ctx.operator.display_name,
            exclude=existing,
            random=self.rt.random,
        )
        self._keep_challenge(ctx, challenge.challenge)
        return challenge.options_json

    def register_passkey(self, db: Session, ctx: ConsoleContext, credential_json: str) -> bool:
        self._require_may_enrol(db, ctx)
        challenge = self._take_challenge(ctx)

        def check() -> str | None:
            if challenge is None:
                return "no passkey challenge pending"
            try:
                key = passkeys.verify_registration(
                    self.relying_party(), credential_json=credential_json, challenge=challenge
                )
            except passkeys.PasskeyRejected as exc:
                return exc.reason
            credential_id = _b64(key.credential_id)
            taken = db.execute(
                select(OperatorFactor.id).where(OperatorFactor.credential_id == credential_id)
            ).first()
            if taken is not None:
                return "passkey registered already"
            now = self.rt.clock.now()
            factor = OperatorFactor(
                id=uuid.uuid4().hex,
                operator_id=ctx.operator.id,
                kind=PASSKEY,
                credential_id=credential_id,
                public_key=key.public_key,
                sign_count=key.sign_count,
                created_at=now,
                confirmed_at=now,
                last_used_at=now,
            )
            db.add(factor)
            self._record(db, ctx, EventTag.CONSOLE_FACTOR_ENROLLED, None, PASSKEY, factor.id)
            return None

        return self._attempt(db, ctx, PASSKEY, check)

    def passkey_authentication(self, db: Session, ctx: ConsoleContext) -> str:
        """Options for ``navigator.credentials.get()`` limited to this operator's passkeys
        (none enrolled: options that no authenticator can answer, so nobody learns that)."""
        allow = [
            _unb64(f.credential_id)
            for f in self.confirmed(db, ctx.operator.id)
            if f.kind == PASSKEY and f.credential_id
        ]
        challenge = passkeys.authentication_options(
            self._usable_relying_party(db, ctx),
            allow=allow or [b"\0" * 32],
            random=self.rt.random,
        )
        self._keep_challenge(ctx, challenge.challenge)
        return challenge.options_json

    def verify_passkey(self, db: Session, ctx: ConsoleContext, credential_json: str) -> bool:
        challenge = self._take_challenge(ctx)

        def check() -> str | None:
            if challenge is None:
                return "no passkey challenge pending"
            factor = self._passkey_of(db, ctx, credential_json)
            if factor is None:
                return "passkey not enrolled by this operator"
            assert factor.credential_id is not None
            assert factor.public_key is not None
            stored = passkeys.Passkey(
                credential_id=_unb64(factor.credential_id),
                public_key=factor.public_key,
                sign_count=factor.sign_count,
                transports=(),
                user_verified=True,
                aaguid="",
            )
            try:
                count = passkeys.verify_authentication(
                    self.relying_party(),
                    credential_json=credential_json,
                    challenge=challenge,
                    passkey=stored,
                    user_id=bytes.fromhex(ctx.operator.id),
                )
            except passkeys.PasskeyRejected as exc:
                return exc.reason
            factor.sign_count = count
            factor.last_used_at = self.rt.clock.now()
            return None

        return self._attempt(db, ctx, PASSKEY, check)

    def _usable_relying_party(self, db: Session, ctx: ConsoleContext) -> passkeys.RelyingParty:
        try:
            return self.relying_party()
        except passkeys.PasskeyRejected as exc:
            self._record(db, ctx, EventTag.CONSOLE_FACTOR_FAILED, exc.reason, PASSKEY)
            raise _RecordedRefusal() from None

    def _passkey_of(
        self, db: Session, ctx: ConsoleContext, credential_json: str
    ) -> OperatorFactor | None:
        try:
            raw = json.loads(credential_json)
            credential_id = raw["rawId"] if isinstance(raw, dict) else None
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(credential_id, str):
            return None
        for factor in self.confirmed(db, ctx.operator.id):
            if factor.kind == PASSKEY and factor.credential_id == credential_id:
                return factor
        return None

    def _keep_challenge(self, ctx: ConsoleContext, challenge: bytes) -> None:
        ctx.row.challenge = challenge
        ctx.row.challenge_expires_at = self.rt.clock.now() + timedelta(seconds=CHALLENGE_SECONDS)

    def _take_challenge(self, ctx: ConsoleContext) -> bytes | None:
        """The pending challenge, consumed by this attempt whatever its outcome."""
        challenge, deadline = ctx.row.challenge, ctx.row.challenge_expires_at
        ctx.row.challenge = ctx.row.challenge_expires_at = None
        if challenge is None or deadline is None or self.rt.clock.now() >= deadline:
            return None
        return challenge

    # -- attempts and lock-out -------------------------------------------------------------

    def locked(self, ctx: ConsoleContext) -> bool:
        until = ctx.operator.factor_locked_until
        return until is not None and self.rt.clock.now() < until

    def _attempt(
        self, db: Session, ctx: ConsoleContext, method: str, check: Callable[[], str | None]
    ) -> bool:
        operator = ctx.operator
        if self.locked(ctx):
            self._record(db, ctx, EventTag.CONSOLE_FACTOR_FAILED, "locked", method)
            return False
        reason = check()
        if reason is None:
            operator.factor_failures = 0
            operator.factor_locked_until = None
            self._record(db, ctx, EventTag.CONSOLE_FACTOR_PASSED, None, method)
            return True
        operator.factor_failures += 1
        self._record(db, ctx, EventTag.CONSOLE_FACTOR_FAILED, reason, method)
        over = operator.factor_failures - self.rt.settings.console_factor_max_attempts
        if over >= 0:
            seconds = min(LOCK_BASE_SECONDS * 2 ** min(over, 20), LOCK_MAX_SECONDS)
            operator.factor_locked_until = self.rt.clock.now() + timedelta(seconds=seconds)
            self._record(db, ctx, EventTag.CONSOLE_FACTOR_LOCKED, None, method, seconds=seconds)
        return False

    def _record(
        self,
        db: Session,
        ctx: ConsoleContext,
        tag: EventTag,
        reason: str | None,
        method: str | None = None,
        factor: str | None = None,
        seconds: int | None = None,
    ) -> None:
        data: dict[str, object] = {"operator": ctx.operator.id, "session": ctx.row.id}
        for key, value in (
            ("reason", reason),
            ("method", method),
            ("factor", factor),
            ("seconds", seconds),
        ):
            if value is not None:
                data[key] = value
        self.rt.audit.append(db, tag, tenant=ctx.tenant_id, actor=ctx.actor, data=data)

    def _seal(self, factor_id: str, secret: str) -> bytes:
        return encrypt_bytes(
            secret.encode(),
            keyring=self.rt.keyring,
            aad=factor_aad(factor_id),
            random=self.rt.random,
        )

    def _open(self, factor: OperatorFactor) -> str:
        assert factor.secret is not None
        return decrypt_bytes(
            factor.secret, keyring=self.rt.keyring, aad=factor_aad(factor.id)
        ).decode()


class _RecordedRefusal(AuthenticationFailed):
    """Refused with its audit event in the session: commit, then answer opaquely."""

    commit = True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
