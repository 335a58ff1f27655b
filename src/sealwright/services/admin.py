"""Operator use cases: tenants and API clients (the CLI calls these).

A client's secret is shown once and stored only as an scrypt hash. Rotation keeps the
previous secret working until an overlap deadline the operator chooses, so integrations
can roll over without downtime; revocation is immediate (the token endpoint refuses the
client, and every request re-reads ``revoked_at``, so tokens already issued stop working).
Every change is an audit event.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, NotFound, ValidationError
from sealwright.identity.scopes import ALL_SCOPES, Scope, format_names, format_scopes
from sealwright.identity.secrets import hash_secret
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ApiClient, Tenant

OPERATOR = "operator:cli"
#: Longest overlap an operator may give a previous secret.
MAX_OVERLAP = timedelta(days=30)


def create_tenant(rt: Runtime, session: Session, name: str) -> Tenant:
    name = name.strip()
    if not name:
        raise ValidationError("a tenant needs a name")
    if session.execute(select(Tenant).where(Tenant.name == name)).scalar_one_or_none():
        raise Conflict(f"a tenant named {name!r} exists already")
    tenant = Tenant(id=uuid.uuid4().hex, name=name, created_at=rt.clock.now())
    session.add(tenant)
    session.flush()
    rt.audit.append(
        session,
        EventTag.TENANT_CREATED,
        tenant=tenant.id,
        actor=OPERATOR,
        data={"tenant": tenant.id},
    )
    return tenant


def tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.execute(select(Tenant).where(Tenant.name == name)).scalar_one_or_none()
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}")
    return tenant


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def create_client(
    rt: Runtime,
    session: Session,
    tenant: Tenant,
    name: str,
    scopes: frozenset[Scope] = ALL_SCOPES,
    folders: frozenset[str] | None = None,
) -> tuple[ApiClient, str]:
    """Returns the client and its secret. The secret is shown once and stored only hashed.
    ``folders``: the folders (security zones) it may touch; None means every folder."""
    if folders is not None and not folders:
        raise ValidationError("name at least one folder, or none for every folder")
    secret = _new_secret()
    now = rt.clock.now()
    client = ApiClient(
        id="swc_" + secrets.token_hex(12),
        tenant_id=tenant.id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=format_scopes(scopes),
        folders=format_names(folders),
        created_at=now,
        secret_created_at=now,
    )
    session.add(client)
    session.flush()
    data: dict[str, object] = {"client": client.id, "scope": sorted(s.value for s in scopes)}
    if folders is not None:
        data["folders"] = sorted(folders)
    rt.audit.append(session, EventTag.CLIENT_CREATED, tenant=tenant.id, actor=OPERATOR, data=data)
    return client, secret


def client_by_id(session: Session, client_id: str) -> ApiClient:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    return client


def rotate_client(
    rt: Runtime, session: Session, client_id: str, *, overlap: timedelta, actor: str = OPERATOR
) -> tuple[ApiClient, str]:
    """A new secret (returned, shown once); the current one becomes the previous secret and
    keeps working until now + ``overlap`` (zero: refused at once). A previous secret still
    in its overlap from an earlier rotation is dropped: only one old secret ever works."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise ValidationError(f"the overlap must be between 0 and {MAX_OVERLAP.days} days")
    client = client_by_id(session, client_id)
    if client.revoked_at is not None:
        raise Conflict(f"client {client_id} is revoked; create a new one")
    now = rt.clock.now()
    secret = _new_secret()
    client.previous_secret_hash = client.secret_hash if overlap else None
    client.previous_secret_expires_at = now + overlap if overlap else None
    client.secret_hash = hash_secret(secret)
    client.secret_created_at = now
    rt.audit.append(
        session,
        EventTag.CLIENT_ROTATED,
        tenant=client.tenant_id,
        actor=actor,
        data={"client": client.id, "previous_valid_until": _iso(client.previous_secret_expires_at)},
    )
    _granted(rt, session, client, "client:rotate", actor)
    return client, secret


def revoke_client(
    rt: Runtime, session: Session, client_id: str, *, actor: str = OPERATOR
) -> ApiClient:
    """Immediately: no new tokens, and tokens already issued are refused on their next use."""
    client = client_by_id(session, client_id)
    if client.revoked_at is not None:
        raise Conflict(f"client {client_id} was revoked already")
    client.revoked_at = rt.clock.now()
    client.previous_secret_hash = None
    client.previous_secret_expires_at = None
    rt.audit.append(
        session,
        EventTag.CLIENT_REVOKED,
        tenant=client.tenant_id,
        actor=actor,
        data={"client": client.id},
    )
    _granted(rt, session, client, "client:revoke", actor)
    return client


def _granted(rt: Runtime, session: Session, client: ApiClient, action: str, actor: str) -> None:
    rt.audit.append(
        session,
        EventTag.ACCESS_GRANTED,
        tenant=client.tenant_id,
        actor=actor,
        data={"action": action, "target": client.id},
    )


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


@dataclass(frozen=True, slots=True)
class ClientInfo:
    id: str
    tenant: str
    name: str
    scopes: list[str]
    folders: list[str] | None
    created_at: datetime
    secret_created_at: datetime
    previous_secret_valid_until: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def list_clients(session: Session, tenant: Tenant | None = None) -> list[ClientInfo]:
    q = select(ApiClient, Tenant.name).join(Tenant, Tenant.id == ApiClient.tenant_id)
    if tenant is not None:
        q = q.where(ApiClient.tenant_id == tenant.id)
    return [
        ClientInfo(
            id=c.id,
            tenant=tname,
            name=c.name,
            scopes=c.scopes.split(),
            folders=None if c.folders is None else c.folders.split(),
            created_at=c.created_at,
            secret_created_at=c.secret_created_at,
            previous_secret_valid_until=c.previous_secret_expires_at,
            last_used_at=c.last_used_at,
            revoked_at=c.revoked_at,
        )
        for c, tname in session.execute(q.order_by(Tenant.name, ApiClient.created_at))
    ]
