"""The webhook outbox: the audit log calls :meth:`WebhookOutbox.on_events` with every batch
of events it appends, inside the appending transaction. For each event that an enabled
endpoint of the event's tenant subscribes to, a delivery row (the exact body to send, and
the ``webhook-id`` every attempt will carry) is written there and then, with a dispatch job
-- so a delivery exists exactly when its event does, and survives any restart.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.jobs.queue import JobQueue
from sealwright.storage.models import LedgerEvent, WebhookDelivery, WebhookEndpoint
from sealwright.webhooks.payloads import build_payload, deliverable, matches

#: The job kind that runs the dispatcher (services/webhooks/dispatch.py).
DISPATCH = "webhook.dispatch"
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def new_delivery_id() -> str:
    """A ``webhook-id``: no ``.`` (it delimits the signed content), unique, not guessable."""
    return "msg_" + uuid.uuid4().hex


class WebhookOutbox:
    def __init__(self, *, clock: Clock, jobs: JobQueue) -> None:
        self._clock = clock
        self._jobs = jobs

    def on_events(self, session: Session, events: Sequence[LedgerEvent]) -> None:
        wanted = [e for e in events if deliverable(e.tag)]
        if not wanted:
            return
        tenants = sorted({e.tenant_id for e in wanted})
        rows = session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.tenant_id, WebhookEndpoint.event_filter)
            .where(WebhookEndpoint.tenant_id.in_(tenants), WebhookEndpoint.status == "enabled")
            .order_by(WebhookEndpoint.id)
        ).all()
        if not rows:
            return
        now = self._clock.now()
        added = 0
        for event in wanted:
            targets = [
                endpoint_id
                for endpoint_id, tenant_id, entries in rows
                if tenant_id == event.tenant_id and matches(entries.split(), event.tag)
            ]
            if not targets:
                continue
            payload = build_payload(
                orjson.loads(event.leaf), ledger_index=event.idx, leaf_hash=event.leaf_hash
            )
            for endpoint_id in targets:
                session.add(
                    WebhookDelivery(
                        id=new_delivery_id(),
                        endpoint_id=endpoint_id,
                        tenant_id=event.tenant_id,
                        event_id=event.event_id,
                        event_tag=event.tag,
                        ledger_index=event.idx,
                        payload=payload,
                        status=PENDING,
                        attempts=0,
                        cycle_attempts=0,
                        cycle_started_at=now,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
                added += 1
        if added:
            session.flush()
            self.kick(session)

    def kick(self, session: Session, *, delay: float = 0.0) -> None:
        """Have the dispatcher look for due deliveries (``delay`` seconds from now)."""
        self._jobs.enqueue(session, DISPATCH, {}, delay=max(0.0, delay))
