"""A running service with webhook settings scaled down for tests (through settings, not
sleeps), a tenant with an API client, and a local receiver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from sealwright.services.runtime import Runtime
from sealwright.storage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sealwright.web.app import create_app
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import new_client
from tests.integration.token_helpers import access_token, bearer
from tests.integration.webhook_receiver import Receiver, running_receiver

FAST = {
    "webhook_retry_schedule": [0.0, 0.3, 0.3, 0.3, 0.3],
    "webhook_max_attempts": 4,
    "webhook_max_age": 60.0,
    "webhook_retry_jitter": 0.1,
    "webhook_retry_after_max": 1.5,
    "webhook_connect_timeout": 1.0,
    "webhook_read_timeout": 1.0,
    "webhook_allow_private_networks": True,
}


def fast_settings(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={**FAST, **extra})


@dataclass
class World:
    rt: Runtime
    server: BackgroundServer
    receiver: Receiver
    tenant: str
    token: str
    client: tuple[str, str] = ("", "")

    def renew_token(self) -> None:
        """A fresh access token (after the test moved the clock past the old one's life)."""
        self.token = access_token(self.server, *self.client)

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.server.url}{path}", headers=self.headers, **kw)

    def subscribe(self, path: str, events: list[str], **body: Any) -> dict[str, Any]:
        r = self.api(
            "POST", "/v1/webhooks", json={"url": self.receiver.url(path), "events": events, **body}
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def emit(self, tag: EventTag = EventTag.ENVELOPE_COMPLETED, envelope: str = "e" * 32) -> None:
        """Append a ledger event the way any use case does (the outbox hook runs)."""
        with self.rt.db.transaction() as session:
            self.rt.audit.append(
                session, tag, tenant=self.tenant, actor="system", envelope=envelope
            )

    def deliveries(self, endpoint: str) -> list[WebhookDelivery]:
        with self.rt.db.transaction() as session:
            return list(
                session.execute(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.endpoint_id == endpoint)
                    .order_by(WebhookDelivery.ledger_index)
                ).scalars()
            )

    def attempts(self, delivery: str) -> list[WebhookAttempt]:
        with self.rt.db.transaction() as session:
            return list(
                session.execute(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id == delivery)
                    .order_by(WebhookAttempt.number)
                ).scalars()
            )

    def endpoint(self, endpoint: str) -> WebhookEndpoint:
        with self.rt.db.transaction() as session:
            found = session.get(WebhookEndpoint, endpoint)
            assert found is not None
            return found


def build_world(settings: Settings, clock: OffsetClock) -> Iterator[World]:
    rt = Runtime.build(fast_settings(settings), clock=clock)
    try:
        with (
            running_receiver() as receiver,
            BackgroundServer(create_app(rt), port=rt.settings.port) as server,
        ):
            tenant, cid, secret = new_client(rt, "acme")
            token = access_token(server, cid, secret)
            yield World(rt, server, receiver, tenant, token, (cid, secret))
    finally:
        rt.close()
