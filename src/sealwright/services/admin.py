"""Operator use cases: tenants and API clients (the CLI calls these)."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, NotFound, ValidationError
from sealwright.identity.scopes import ALL_SCOPES, Scope, format_scopes
from sealwright.identity.secrets import hash_secret
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ApiClient, Tenant


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
        actor="operator:cli",
        data={"tenant": tenant.id},
    )
    return tenant


def tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.execute(select(Tenant).where(Tenant.name == name)).scalar_one_or_none()
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}")
    return tenant


def create_client(
    rt: Runtime,
    session: Session,
    tenant: Tenant,
    name: str,
    scopes: frozenset[Scope] = ALL_SCOPES,
) -> tuple[ApiClient, str]:
    """Returns the client and its secret. The secret is shown once and stored only hashed."""
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        id="swc_" + secrets.token_hex(12),
        tenant_id=tenant.id,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=format_scopes(scopes),
        created_at=rt.clock.now(),
    )
    session.add(client)
    session.flush()
    rt.audit.append(
        session,
        EventTag.CLIENT_CREATED,
        tenant=tenant.id,
        actor="operator:cli",
        data={"client": client.id, "scope": sorted(s.value for s in scopes)},
    )
    return client, secret
