"""What the risk engine remembers about a signer identity across ceremonies: fraud flags
(D1) and the encrypted motion templates of the signatures they signed with (D5).

A reviewer who denies a manual review flags the identity (severity ``high``); the flags
feed the ``fraud-flags`` signal of that identity's later assessments. Each drawn
signature a risk-based signer *signed with* leaves its motion template, encrypted under
the keyring with an aad naming the identity: the first is the enrolled one (similarity),
all are checked for replays. A drawing that was refused never becomes a template.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.keys.aead import decrypt_bytes, encrypt_bytes
from sealwright.risk.context import FraudFlag as FlagFact
from sealwright.risk.motion import MotionTemplate
from sealwright.services.runtime import Runtime
from sealwright.storage.models import FraudFlag, SignatureTemplate

__all__ = ["SignerHistory"]

#: Templates compared with per assessment: the enrolled one and the most recent others.
RECENT = 20


def _aad(identity: str) -> bytes:
    return f"sealwright:signature-template:{identity}".encode()


class SignerHistory:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    # -- fraud flags -------------------------------------------------------------------

    def flag(
        self,
        session: Session,
        *,
        tenant_id: str,
        identity: str,
        severity: str,
        reason: str,
        source: str,
    ) -> FraudFlag:
        row = FraudFlag(
            id=uuid.uuid4().hex,
            tenant_id=tenant_id,
            identity=identity,
            severity=severity,
            reason=reason[:200],
            source=source,
            created_at=self.rt.clock.now(),
        )
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def flags(session: Session, identity: str) -> tuple[FlagFact, ...]:
        rows = session.execute(select(FraudFlag).where(FraudFlag.identity == identity)).scalars()
        return tuple(FlagFact(subject="signer", severity=r.severity) for r in rows)

    # -- signature templates -----------------------------------------------------------

    def remember(
        self, session: Session, *, identity: str, recipient_id: str, template: MotionTemplate
    ) -> None:
        plain = json.dumps(template.to_json(), separators=(",", ":")).encode()
        session.add(
            SignatureTemplate(
                id=uuid.uuid4().hex,
                identity=identity,
                recipient_id=recipient_id,
                ciphertext=encrypt_bytes(plain, keyring=self.rt.keyring, aad=_aad(identity)),
                created_at=self.rt.clock.now(),
            )
        )

    def templates(
        self, session: Session, identity: str
    ) -> tuple[MotionTemplate | None, Sequence[MotionTemplate]]:
        """(the enrolled template, the recent ones incl. the enrolled) of an identity."""
        q = (
            select(SignatureTemplate)
            .where(SignatureTemplate.identity == identity)
            .order_by(SignatureTemplate.created_at, SignatureTemplate.id)
        )
        rows = list(session.execute(q).scalars())
        if not rows:
            return None, ()
        chosen = [rows[0], *rows[1:][-RECENT:]]
        found = [self._open(r, identity) for r in chosen]
        return found[0], found

    def _open(self, row: SignatureTemplate, identity: str) -> MotionTemplate:
        plain = decrypt_bytes(row.ciphertext, keyring=self.rt.keyring, aad=_aad(identity))
        return MotionTemplate.from_json(json.loads(plain))
