"""OIDC login at an external identity provider (B5): the recipient's email address must be
the provider's *verified* email claim (identity/oidc.py ``claims_match_recipient``).

The request (state, nonce, PKCE verifier) is kept server-side, encrypted, bound to the
signer session, single use and short-lived. A login is three steps so that no database
transaction stays open while the provider is called: ``take`` the request (consumed),
``exchange`` the code at the provider, ``conclude`` with the claims or the reason.
The provider is asked to authenticate the user again (``prompt=login``, ``max_age``): a
silent single sign-on would not show that anyone is present now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from sealwright.identity.oidc import (
    AuthRequest,
    OidcClient,
    OidcRejected,
    claims_match_recipient,
)
from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.base import Verifications, new_challenge, open_challenge
from sealwright.services.signer_auth.policy import Method

PURPOSE = "verify"


@dataclass(frozen=True, slots=True)
class Outcome:
    claims: Mapping[str, Any] | None
    reason: str = ""


def _aad(challenge_id: str) -> bytes:
    return f"sealwright:signer-oidc:{challenge_id}".encode()


class Oidc:
    method: ClassVar[Method] = Method.OIDC

    def __init__(self, rt: Runtime, client: OidcClient) -> None:
        self.rt = rt
        self.client = client
        self.verifications = Verifications(rt)

    def begin(self, session: Session, ctx: SignerContext) -> Mapping[str, Any]:
        max_age = ctx.envelope.max_auth_age or self.rt.settings.signer_max_auth_age
        request = self.client.begin(login_hint=ctx.recipient.email, max_age=max_age, prompt="login")
        challenge = new_challenge(
            self.rt, session, ctx, self.method, PURPOSE, b"", self.rt.settings.signer_challenge_ttl
        )
        kept = {
            "state": request.state,
            "nonce": request.nonce,
            "code_verifier": request.code_verifier,
            "max_age": request.max_age,
        }
        challenge.secret = encrypt_bytes(
            json.dumps(kept).encode(), keyring=self.rt.keyring, aad=_aad(challenge.id)
        )
        return {"redirect": request.url}

    def take(self, session: Session, ctx: SignerContext) -> AuthRequest | None:
        """The login under way, consumed now; None when there is none or it expired."""
        challenge = open_challenge(session, ctx, self.method, PURPOSE)
        if challenge is None:
            return None
        now = self.rt.clock.now()
        challenge.used_at = now
        if challenge.expires_at <= now:
            return None
        kept = json.loads(
            decrypt_bytes(challenge.secret, keyring=self.rt.keyring, aad=_aad(challenge.id))
        )
        return AuthRequest(url="", **kept)

    def exchange(self, request: AuthRequest | None, answer: Mapping[str, str]) -> Outcome:
        """Call the provider (no transaction open): the verified claims, or why not."""
        if request is None:
            return Outcome(None, "no login under way, or it expired")
        try:
            claims = self.client.finish(
                request,
                code=answer.get("code", ""),
                state=answer.get("state", ""),
                iss=answer.get("iss") or None,
            )
        except OidcRejected as exc:
            return Outcome(None, exc.reason)
        return Outcome(claims)

    def conclude(self, session: Session, ctx: SignerContext, outcome: Outcome) -> bool:
        self.verifications.guard(session, ctx)
        claims = outcome.claims
        if claims is None:
            self.verifications.failed(session, ctx, self.method, outcome.reason)
            return False
        issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
        details = {
            "issuer": issuer,
            # Pseudonymous: the ledger must not hold the provider's account id in clear.
            "subject": hashlib.sha256(f"{issuer}\x00{subject}".encode()).hexdigest()[:32],
        }
        if not claims_match_recipient(claims, email=ctx.recipient.email):
            self.verifications.failed(
                session, ctx, self.method, "verified email claim is not the recipient's", details
            )
            return False
        if isinstance(claims.get("auth_time"), int):
            details["auth_time"] = str(claims["auth_time"])
        self.verifications.passed(session, ctx, self.method, details)
        return True

    def finish(self, session: Session, ctx: SignerContext, answer: Mapping[str, str]) -> bool:
        """All three steps in one transaction (for callers that hold none open)."""
        return self.conclude(session, ctx, self.exchange(self.take(session, ctx), answer))
