"""What every signer-side use case shares: the signer's context, its audit events, and the
opaque refusal that still commits the event saying why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import AuthenticationFailed
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Envelope, Recipient, SignerSession


@dataclass(frozen=True, slots=True)
class SignerContext:
    session: SignerSession
    recipient: Recipient
    envelope: Envelope
    #: The client's IP address, for per-IP brute-force limits (never stored in clear).
    client_ip: str = ""

    @property
    def session_ref(self) -> str:
        """A pseudonymous name for the signer session in ledger events: a prefix of the
        hash of its token (which is itself 256 random bits), so that the verifier can tell
        that a signature used verifications of its own session."""
        return self.session.token_hash[:16]


def signer_aad(recipient_id: str) -> bytes:
    return f"sealwright:signer-input:{recipient_id}".encode()


def field_aad(field_id: str) -> bytes:
    return f"sealwright:field:{field_id}".encode()


def record(
    rt: Runtime,
    session: Session,
    env: Envelope,
    r: Recipient,
    tag: EventTag,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Append a signer event: pseudonymous (recipient id), never a name, address or code."""
    rt.audit.append(
        session,
        tag,
        tenant=env.tenant_id,
        envelope=env.id,
        actor=f"recipient:{r.id}",
        data={"recipient": r.id, **(data or {})},
    )


def refuse(
    rt: Runtime, session: Session, env: Envelope, r: Recipient, tag: EventTag, reason: str
) -> NoReturn:
    """Record why, then fail opaquely. Web handlers commit the event (``commit = True``)
    before answering with the same page as any other failure."""
    record(rt, session, env, r, tag, {"reason": reason})
    raise RecordedRefusal()


class RecordedRefusal(AuthenticationFailed):
    """An authentication failure whose audit event is already in the session: the handler
    commits, then answers with the same opaque error as any other failure."""

    commit = True
