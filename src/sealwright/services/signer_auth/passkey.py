"""Passkeys (WebAuthn) for signers: registration for a signer identity (tenant, normalised
email) in a session that already passed another method, and use -- typically the step-up
right before signing. User verification (PIN or biometric) is required, so a passkey is a
multi-factor authenticator on its own. Challenges live server-side, bound to the signer
session, single use (consumed on the first answer whatever its outcome), short-lived.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.identity import passkeys
from sealwright.identity.passkeys import PasskeyRejected, RelyingParty
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext, record, refuse
from sealwright.services.signer_auth.base import Verifications, new_challenge, open_challenge
from sealwright.services.signer_auth.policy import Method, signer_identity
from sealwright.storage.models import SignerChallenge, SignerPasskey

RP_NAME = "Sealwright"


def relying_party(public_url: str) -> RelyingParty:
    parts = urlsplit(public_url)
    return RelyingParty(
        id=parts.hostname or "", name=RP_NAME, origin=f"{parts.scheme}://{parts.netloc}"
    )


def credential_ref(credential_id: bytes) -> str:
    """What the ledger says about a credential: a hash prefix, enough to tell two apart."""
    return hashlib.sha256(credential_id).hexdigest()[:32]


class Passkey:
    method: ClassVar[Method] = Method.PASSKEY

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.verifications = Verifications(rt)
        self.rp = relying_party(rt.settings.public_url)

    def registered(self, session: Session, ctx: SignerContext) -> list[SignerPasskey]:
        identity = signer_identity(ctx.envelope.tenant_id, ctx.recipient.email)
        q = select(SignerPasskey).where(
            SignerPasskey.tenant_id == ctx.envelope.tenant_id, SignerPasskey.identity == identity
        )
        return list(session.execute(q).scalars())

    # -- use -----------------------------------------------------------------------------

    def begin(self, session: Session, ctx: SignerContext) -> Mapping[str, Any]:
        keys = self.registered(session, ctx)
        if not keys:
            return {"registered": False}
        challenge = passkeys.authentication_options(
            self.rp,
            allow=[unb64url(k.credential_id) for k in keys],
            random=self.rt.random,
        )
        self._keep(session, ctx, "verify", challenge.challenge)
        return {"registered": True, "options": json.loads(challenge.options_json)}

    def finish(self, session: Session, ctx: SignerContext, answer: Mapping[str, str]) -> bool:
        self.verifications.guard(session, ctx)
        challenge = self._take(session, ctx, "verify")
        credential_json = answer.get("credential", "")
        stored = self._find(session, ctx, credential_json)
        try:
            if challenge is None:
                raise PasskeyRejected("no challenge outstanding, or it expired")
            if stored is None:
                raise PasskeyRejected("credential is not registered for this signer")
            count = passkeys.verify_authentication(
                self.rp,
                credential_json=credential_json,
                challenge=challenge.secret,
                passkey=_as_passkey(stored),
                user_id=self._user_id(ctx),
            )
        except PasskeyRejected as exc:
            self.verifications.failed(session, ctx, self.method, exc.reason)
            return False
        stored.sign_count = count
        stored.last_used_at = self.rt.clock.now()
        ref = credential_ref(unb64url(stored.credential_id))
        self.verifications.passed(
            session, ctx, self.method, {"credential": ref, "user_verified": True}
        )
        return True

    # -- registration --------------------------------------------------------------------

    def registration_options(self, session: Session, ctx: SignerContext) -> dict[str, Any]:
        self._require_other_method(session, ctx)
        challenge = passkeys.registration_options(
            self.rp,
            user_id=self._user_id(ctx),
            user_name=ctx.recipient.email,
            display_name=ctx.recipient.name,
            exclude=[unb64url(k.credential_id) for k in self.registered(session, ctx)],
            random=self.rt.random,
        )
        self._keep(session, ctx, "register", challenge.challenge)
        options: dict[str, Any] = json.loads(challenge.options_json)
        return options

    def register(self, session: Session, ctx: SignerContext, credential_json: str) -> bool:
        """Store a new passkey; passing the ceremony (with user verification) also counts
        as a passkey verification in this session."""
        self._require_other_method(session, ctx)
        self.verifications.guard(session, ctx)
        challenge = self._take(session, ctx, "register")
        try:
            if challenge is None:
                raise PasskeyRejected("no registration challenge outstanding, or it expired")
            key = passkeys.verify_registration(
                self.rp, credential_json=credential_json, challenge=challenge.secret
            )
            if session.get(SignerPasskey, b64url(key.credential_id)) is not None:
                raise PasskeyRejected("credential already registered")
        except PasskeyRejected as exc:
            self.verifications.failed(session, ctx, self.method, exc.reason, {"registration": True})
            return False
        now = self.rt.clock.now()
        session.add(
            SignerPasskey(
                credential_id=b64url(key.credential_id),
                tenant_id=ctx.envelope.tenant_id,
                identity=signer_identity(ctx.envelope.tenant_id, ctx.recipient.email),
                public_key=key.public_key,
                sign_count=key.sign_count,
                transports=list(key.transports),
                aaguid=key.aaguid,
                user_verified=key.user_verified,
                created_at=now,
                last_used_at=now,
            )
        )
        ref = credential_ref(key.credential_id)
        record(
            self.rt,
            session,
            ctx.envelope,
            ctx.recipient,
            EventTag.PASSKEY_REGISTERED,
            {"credential": ref, "aaguid": key.aaguid, "backed_up": key.backed_up},
        )
        self.verifications.passed(
            session,
            ctx,
            self.method,
            {"credential": ref, "user_verified": key.user_verified, "registered": True},
        )
        return True

    # -- helpers -------------------------------------------------------------------------

    def _user_id(self, ctx: SignerContext) -> bytes:
        """An opaque WebAuthn user handle: the identity hash, never the address itself."""
        return bytes.fromhex(signer_identity(ctx.envelope.tenant_id, ctx.recipient.email))

    def _keep(self, session: Session, ctx: SignerContext, purpose: str, challenge: bytes) -> None:
        ttl = self.rt.settings.signer_challenge_ttl
        new_challenge(self.rt, session, ctx, self.method, purpose, challenge, ttl)

    def _take(self, session: Session, ctx: SignerContext, purpose: str) -> SignerChallenge | None:
        """The open challenge, consumed now whatever the answer turns out to be."""
        challenge = open_challenge(session, ctx, self.method, purpose)
        if challenge is None:
            return None
        now = self.rt.clock.now()
        challenge.used_at = now
        return challenge if challenge.expires_at > now else None

    def _find(
        self, session: Session, ctx: SignerContext, credential_json: str
    ) -> SignerPasskey | None:
        try:
            raw_id = json.loads(credential_json).get("rawId") if credential_json else None
        except (ValueError, AttributeError):
            return None
        if not isinstance(raw_id, str) or len(raw_id) > 1400:
            return None
        row = session.get(SignerPasskey, raw_id.rstrip("="))
        identity = signer_identity(ctx.envelope.tenant_id, ctx.recipient.email)
        if row is None or row.tenant_id != ctx.envelope.tenant_id or row.identity != identity:
            return None
        return row

    def _require_other_method(self, session: Session, ctx: SignerContext) -> None:
        if not any(m is not self.method for m in Verifications.latest(session, ctx)):
            refuse(
                self.rt,
                session,
                ctx.envelope,
                ctx.recipient,
                EventTag.AUTH_FAILED,
                "passkey registration before any other method was passed",
            )


def _as_passkey(row: SignerPasskey) -> passkeys.Passkey:
    return passkeys.Passkey(
        credential_id=unb64url(row.credential_id),
        public_key=row.public_key,
        sign_count=row.sign_count,
        transports=tuple(row.transports),
        user_verified=row.user_verified,
        aaguid=row.aaguid,
    )


def b64url(raw: bytes) -> str:
    """Credential ids are stored as unpadded base64url, as browsers spell ``rawId``."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
