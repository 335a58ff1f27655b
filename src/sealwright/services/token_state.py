"""The server-side state an access token is checked against on every use (B1-B3, B8).

Tokens are self-contained JWTs, but three facts live in the database and are read per
request, by primary key:

- the client's ``revoked_at`` (revocation takes effect on the next request, not at expiry);
- ``delegated_tokens``: a token naming a ``parent`` (minted by attenuation) is accepted only
  if exactly its signed payload was recorded when it was minted -- a forged child, even one
  signed with a stolen key, that claims a delegation we never made is refused;
- ``used_token_ids``: a single-use token's ``jti`` is inserted when it is used; a second
  insert is a replay. DPoP proofs' ``jti``s go there too (``DatabaseReplayCache``), so a
  proof replayed to another API process is refused as well.

Rows of both tables are purged an hour past their expiry by the sweep job.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sealwright.identity.tokens import AccessToken
from sealwright.storage.db import Database
from sealwright.storage.models import ApiClient, DelegatedToken, UsedTokenId


def standing(session: Session, token: AccessToken) -> str:
    """Empty when the token's client and delegation still stand and a single-use token is
    unspent, else the reason for the audit log. Reads only."""
    client = session.get(ApiClient, token.client_id)
    if client is None or client.tenant_id != token.tenant_id:
        return "token of an unknown client"
    if client.revoked_at is not None:
        return "client revoked"
    if token.parent is not None:
        minted = session.get(DelegatedToken, token.jti)
        if (
            minted is None
            or minted.parent_jti != token.parent
            or minted.client_id != token.client_id
            or minted.payload_sha256 != token.payload_sha256
        ):
            return "delegated token not minted by this service (forged or altered)"
    if token.single_use and session.get(UsedTokenId, token.jti) is not None:
        return "replayed single-use token"
    return ""


def spend(session: Session, token: AccessToken) -> bool:
    """Mark a single-use token used; False when it was used already (a replay). Multi-use
    tokens are not recorded."""
    if not token.single_use:
        return True
    try:
        with session.begin_nested():
            session.add(UsedTokenId(jti=token.jti, expires_at=_at(token.expires_at)))
            session.flush()
    except IntegrityError:
        return False
    return True


def record_delegation(session: Session, child: AccessToken) -> None:
    assert child.parent is not None
    session.add(
        DelegatedToken(
            jti=child.jti,
            parent_jti=child.parent,
            client_id=child.client_id,
            payload_sha256=child.payload_sha256,
            expires_at=_at(child.expires_at),
        )
    )
    session.flush()


def _at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


#: Kept this long past their expiry: a token or proof so old is refused by its time checks
#: on any host whose clock is not an hour off.
PURGE_MARGIN = timedelta(hours=1)


def purge_expired(session: Session, now: datetime) -> int:
    """Delete spent-token and delegation rows that can no longer matter (the sweep job)."""
    cutoff = now - PURGE_MARGIN
    purged = 0
    for model in (UsedTokenId, DelegatedToken):
        result = session.execute(delete(model).where(model.expires_at < cutoff))
        purged += int(getattr(result, "rowcount", 0) or 0)
    return purged


class DatabaseReplayCache:
    """The DPoP replay cache (identity.dpop.ReplayCache) shared by every API process: each
    proof's key is inserted into ``used_token_ids`` in its own transaction, and a conflict
    is a replay. Keys are hashed with a domain prefix, so they can never collide with an
    access token's ``jti``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, key: str, until: int) -> str:
        row = UsedTokenId(
            jti=hashlib.sha256(b"dpop-proof\0" + key.encode()).hexdigest(), expires_at=_at(until)
        )
        try:
            with self._db.transaction() as session:
                session.add(row)
                session.flush()
        except IntegrityError:
            return "replayed proof (jti seen before)"
        return ""
