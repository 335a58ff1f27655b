"""Small helpers shared by integration tests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from sealwright.identity.scopes import ALL_SCOPES, Scope
from sealwright.services.admin import create_client, create_tenant
from sealwright.services.runtime import Runtime
from sealwright.storage.models import LedgerEvent


def new_client(
    rt: Runtime, tenant: str, scopes: frozenset[Scope] = ALL_SCOPES
) -> tuple[str, str, str]:
    """(tenant id, client id, client secret)."""
    with rt.db.transaction() as session:
        t = create_tenant(rt, session, tenant)
        client, secret = create_client(rt, session, t, "test", scopes)
        return t.id, client.id, secret


def events(rt: Runtime, tag: str | None = None) -> list[dict[str, Any]]:
    with rt.db.transaction() as session:
        q = select(LedgerEvent).order_by(LedgerEvent.idx)
        if tag is not None:
            q = q.where(LedgerEvent.tag == tag)
        return [json.loads(row.leaf) for row in session.execute(q).scalars()]
