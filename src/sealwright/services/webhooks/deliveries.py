"""Reading deliveries (the delivery log, the dead-letter list) and redelivering by hand."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, NotFound, ValidationError
from sealwright.services.audit import AuditLog
from sealwright.services.webhooks.outbox import DEAD, PENDING, WebhookOutbox
from sealwright.storage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

STATUSES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class Page:
    items: list[WebhookDelivery]
    next_cursor: str | None


def _cursor_of(d: WebhookDelivery) -> str:
    return base64.urlsafe_b64encode(f"{d.ledger_index}/{d.id}".encode()).decode()


def _after(query: Select[Any], cursor: str | None) -> Select[Any]:
    if not cursor:
        return query
    try:
        index, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("/")
        position = (int(index), ident)
    except ValueError:
        raise ValidationError("invalid cursor") from None
    return query.where(tuple_(WebhookDelivery.ledger_index, WebhookDelivery.id) < position)


def page(
    session: Session,
    *,
    tenant_id: str | None,
    endpoint_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Newest event first. ``tenant_id`` None: every tenant (the operator's CLI)."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status is one of {', '.join(STATUSES)}")
    query = select(WebhookDelivery)
    if tenant_id is not None:
        query = query.where(WebhookDelivery.tenant_id == tenant_id)
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = _after(query, cursor).order_by(
        WebhookDelivery.ledger_index.desc(), WebhookDelivery.id.desc()
    )
    rows = list(session.execute(query.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, _cursor_of(rows[-1]) if more and rows else None)


def load(session: Session, delivery_id: str, tenant_id: str | None) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or (tenant_id is not None and delivery.tenant_id != tenant_id):
        raise NotFound("webhook delivery not found")
    return delivery


def attempts(session: Session, delivery_id: str) -> Sequence[WebhookAttempt]:
    return (
        session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.number, WebhookAttempt.id)
        )
        .scalars()
        .all()
    )


def redeliver(
    session: Session,
    delivery: WebhookDelivery,
    *,
    clock: Clock,
    audit: AuditLog,
    outbox: WebhookOutbox,
    actor: str,
    by_operator: bool = False,
) -> WebhookDelivery:
    """Put a dead letter back in line: a new cycle (fresh attempt and age caps), the same
    ``webhook-id`` and body. Only to an enabled endpoint."""
    if delivery.status != DEAD:
        raise Conflict("only a dead-lettered delivery can be redelivered")
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or endpoint.status != "enabled":
        raise Conflict("the endpoint is not enabled: enable it first")
    now = clock.now()
    delivery.status = PENDING
    delivery.cycle_attempts = 0
    delivery.cycle_started_at = now
    delivery.next_attempt_at = now
    delivery.dead_reason = None
    delivery.dead_at = None
    delivery.lease = None
    delivery.locked_until = None
    audit.append(
        session,
        EventTag.WEBHOOK_REDELIVERED_BY_OPERATOR if by_operator else EventTag.WEBHOOK_REDELIVERED,
        tenant=delivery.tenant_id,
        actor=actor,
        data={
            "endpoint": delivery.endpoint_id,
            "delivery": delivery.id,
            "event": delivery.event_id,
        },
    )
    outbox.kick(session)
    return delivery
