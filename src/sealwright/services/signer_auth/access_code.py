"""Access codes (B5): a secret the sender gives the recipient out of band (by phone, on
paper), stored only as an scrypt hash on the recipient. Proves knowledge of that secret,
nothing more: it is as strong as the channel it was handed over on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from sealwright.identity.secrets import dummy_hash, verify_secret
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.base import Verifications
from sealwright.services.signer_auth.policy import Method, RecipientAuth


class AccessCode:
    method: ClassVar[Method] = Method.ACCESS_CODE

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.verifications = Verifications(rt)

    def begin(self, session: Session, ctx: SignerContext) -> Mapping[str, Any]:
        return {}

    def finish(self, session: Session, ctx: SignerContext, answer: Mapping[str, str]) -> bool:
        self.verifications.guard(session, ctx)
        stored = RecipientAuth.from_json(ctx.recipient.auth).access_code_hash
        # The KDF always runs, against a dummy hash when there is nothing to compare with,
        # so that the answer takes the same time either way.
        ok = verify_secret(answer.get("code", ""), stored or dummy_hash())
        if ok and stored is not None:
            self.verifications.passed(session, ctx, self.method)
            return True
        reason = "mismatch" if stored is not None else "no access code configured"
        self.verifications.failed(session, ctx, self.method, reason)
        return False
