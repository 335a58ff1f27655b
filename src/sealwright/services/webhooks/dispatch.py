"""The dispatcher: runs as the ``webhook.dispatch`` job of the durable queue and sends due
deliveries on a bounded pool of threads, so that one receiver that hangs holds one thread
for at most the read timeout and never the worker, the other receivers, or mail.

Claiming is a short transaction: due deliveries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite) get a lease -- a token and a deadline -- up to the free
threads of this process and ``webhook_per_endpoint_concurrency`` leases per endpoint, and a
dispatch job is enqueued for when the leases run out. If this process dies mid-attempt,
that job (durable, like everything here) lets any worker claim the delivery again; the
receiver then sees the same ``webhook-id`` again, which is what it deduplicates on.

After the HTTP attempt, one transaction writes the attempt to the delivery log and applies
the policy (webhooks/policy.py): delivered; retry later (with a dispatch job due then);
dead-lettered (a ledger event); or, on 410, the endpoint disabled (a ledger event) with
everything still pending for it dead-lettered. A result whose lease was taken over in the
meantime is logged and changes nothing else.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from sealwright.clock import Clock, Random
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from sealwright.jobs.queue import JobQueue
from sealwright.services.audit import AuditLog
from sealwright.services.webhooks.endpoints import DISABLED, ENABLED, EndpointService
from sealwright.services.webhooks.outbox import DEAD, DELIVERED, PENDING, WebhookOutbox
from sealwright.services.webhooks.sender import HttpSender
from sealwright.storage.db import Database
from sealwright.storage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sealwright.webhooks.policy import AttemptResult, Decision, Outcome, RetryPolicy, decide
from sealwright.webhooks.signing import webhook_headers

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sealwright.services.runtime import Runtime

log = structlog.get_logger("sealwright.webhooks")


class Sender(Protocol):
    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult: ...


@dataclass(frozen=True)
class Claim:
    delivery_id: str
    lease: str


@dataclass(frozen=True)
class Prepared:
    url: str
    headers: dict[str, str]
    body: bytes


def policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        schedule=tuple(float(d) for d in settings.webhook_retry_schedule),
        max_attempts=settings.webhook_max_attempts,
        max_age=settings.webhook_max_age,
        jitter=settings.webhook_retry_jitter,
        retry_after_max=settings.webhook_retry_after_max,
    )


class WebhookDispatcher:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        random: Random,
        jobs: JobQueue,
        audit: AuditLog,
        outbox: WebhookOutbox,
        endpoints: EndpointService,
        sender: Sender,
        policy: RetryPolicy,
        concurrency: int,
        per_endpoint: int,
        lease_seconds: float,
    ) -> None:
        self._db = db
        self._clock = clock
        self._random = random
        self._jobs = jobs
        self._audit = audit
        self._outbox = outbox
        self._endpoints = endpoints
        self._sender = sender
        self._policy = policy
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._lease = timedelta(seconds=lease_seconds)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="sealwright-webhook")
        self._lock = threading.Lock()
        self._inflight = 0
        self._backlog = False
        self._closed = False

    @classmethod
    def for_runtime(cls, rt: Runtime, *, sender: Sender | None = None) -> WebhookDispatcher:
        s = rt.settings
        return cls(
            db=rt.db,
            clock=rt.clock,
            random=rt.random,
            jobs=rt.jobs,
            audit=rt.audit,
            outbox=rt.webhooks,
            endpoints=rt.webhook_endpoints,
            sender=sender
            or HttpSender(
                connect_timeout=s.webhook_connect_timeout,
                read_timeout=s.webhook_read_timeout,
                max_response_bytes=s.webhook_max_response_bytes,
                excerpt_chars=s.webhook_excerpt_chars,
                allow_private=s.webhook_allow_private_networks,
            ),
            policy=policy_from(s),
            concurrency=s.webhook_concurrency,
            per_endpoint=s.webhook_per_endpoint_concurrency,
            lease_seconds=s.webhook_connect_timeout + 2 * s.webhook_read_timeout + 30,
        )

    # -- the job -------------------------------------------------------------------------------

    def run(self, _payload: dict[str, Any]) -> None:
        """The ``webhook.dispatch`` job: lease what is due and hand it to the pool."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the webhook dispatcher is closed")
            capacity = self._concurrency - self._inflight
            if capacity <= 0:
                self._backlog = True
                return
        for claim in self._claim(capacity):
            with self._lock:
                self._inflight += 1
            self._pool.submit(self._attempt_safely, claim)

    def close(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def idle(self) -> bool:
        with self._lock:
            return self._inflight == 0

    def _claim(self, capacity: int) -> list[Claim]:
        now = self._clock.now()
        with self._db.transaction() as session:
            due = list(
                session.execute(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status == PENDING,
                        WebhookDelivery.next_attempt_at <= now,
                        or_(
                            WebhookDelivery.locked_until.is_(None),
                            WebhookDelivery.locked_until < now,
                        ),
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(capacity * 4)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not due:
                return []
            busy = self._busy(session, {d.endpoint_id for d in due}, now)
            claims: list[Claim] = []
            for delivery in due:
                if (
                    len(claims) >= capacity
                    or busy.get(delivery.endpoint_id, 0) >= self._per_endpoint
                ):
                    with self._lock:
                        self._backlog = True
                    continue
                busy[delivery.endpoint_id] = busy.get(delivery.endpoint_id, 0) + 1
                delivery.lease = uuid.uuid4().hex
                delivery.locked_until = now + self._lease
                claims.append(Claim(delivery.id, delivery.lease))
            if claims:
                # Should this process die with these leases, this job finds them again.
                self._outbox.kick(session, delay=self._lease.total_seconds() + 1)
            return claims

    @staticmethod
    def _busy(session: Session, endpoints: set[str], now: Any) -> dict[str, int]:
        rows = session.execute(
            select(WebhookDelivery.endpoint_id, func.count())
            .where(
                WebhookDelivery.endpoint_id.in_(sorted(endpoints)),
                WebhookDelivery.status == PENDING,
                WebhookDelivery.locked_until >= now,
            )
            .group_by(WebhookDelivery.endpoint_id)
        ).all()
        return {endpoint: int(count) for endpoint, count in rows}

    # -- one attempt ---------------------------------------------------------------------------

    def _attempt_safely(self, claim: Claim) -> None:
        try:
            self.attempt(claim)
        except Exception:  # a delivery's failure must never kill the pool thread
            log.exception("webhook attempt failed", delivery=claim.delivery_id)
        finally:
            with self._lock:
                self._inflight -= 1
                kick, self._backlog = self._backlog, False
                closed = self._closed
            if kick and not closed:
                with self._db.transaction() as session:
                    self._outbox.kick(session)

    def attempt(self, claim: Claim) -> None:
        prepared = self._prepare(claim)
        if prepared is None:
            return
        started = self._clock.now()
        result = self._sender.send(prepared.url, prepared.headers, prepared.body)
        self._record(claim, started, result)

    def _prepare(self, claim: Claim) -> Prepared | None:
        with self._db.transaction() as session:
            delivery = session.get(WebhookDelivery, claim.delivery_id)
            if delivery is None or delivery.lease != claim.lease or delivery.status != PENDING:
                return None
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            if endpoint is None or endpoint.status != ENABLED:
                self._dead(session, delivery, "the endpoint is not enabled", event=False)
                return None
            now = self._clock.now()
            keys = self._endpoints.signing_keys(endpoint, now)
            headers = webhook_headers(keys, delivery.id, int(now.timestamp()), delivery.payload)
            return Prepared(endpoint.url, headers, bytes(delivery.payload))

    def _record(self, claim: Claim, started: Any, result: AttemptResult) -> None:
        with self._db.transaction() as session:
            delivery = session.get(WebhookDelivery, claim.delivery_id, with_for_update=True)
            if delivery is None:
                return
            number = delivery.attempts + 1
            if delivery.lease != claim.lease or delivery.status != PENDING:
                self._log(session, delivery, number, started, result, "superseded", None)
                return
            now = self._clock.now()
            decision = decide(
                self._policy,
                result,
                cycle_attempts=delivery.cycle_attempts + 1,
                cycle_started_at=delivery.cycle_started_at,
                now=now,
                jitter=self._random.randbelow(1_000_000) / 1_000_000,
            )
            delivery.attempts = number
            delivery.cycle_attempts += 1
            delivery.last_status_code = result.status
            delivery.last_error = result.error_class
            delivery.lease = None
            delivery.locked_until = None
            self._log(
                session,
                delivery,
                number,
                started,
                result,
                decision.outcome,
                decision.next_attempt_at,
            )
            self._apply(session, delivery, decision)

    def _apply(self, session: Session, delivery: WebhookDelivery, decision: Decision) -> None:
        now = self._clock.now()
        if decision.outcome is Outcome.DELIVERED:
            delivery.status = DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif decision.outcome is Outcome.RETRY:
            assert decision.next_attempt_at is not None
            delivery.next_attempt_at = decision.next_attempt_at
            self._outbox.kick(session, delay=(decision.next_attempt_at - now).total_seconds())
        elif decision.outcome is Outcome.GONE:
            self._dead(session, delivery, decision.reason, event=False)
            self._disable(session, delivery.endpoint_id, decision.reason)
        else:
            self._dead(session, delivery, decision.reason, event=True)

    def _dead(
        self, session: Session, delivery: WebhookDelivery, reason: str, *, event: bool
    ) -> None:
        delivery.status = DEAD
        delivery.dead_reason = reason[:200]
        delivery.dead_at = self._clock.now()
        delivery.next_attempt_at = None
        delivery.lease = None
        delivery.locked_until = None
        if event:
            self._audit.append(
                session,
                EventTag.WEBHOOK_DEAD_LETTERED,
                tenant=delivery.tenant_id,
                actor="system",
                data={
                    "endpoint": delivery.endpoint_id,
                    "delivery": delivery.id,
                    "event": delivery.event_id,
                    "attempts": delivery.cycle_attempts,
                },
            )

    def _disable(self, session: Session, endpoint_id: str, reason: str) -> None:
        endpoint = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None or endpoint.status != ENABLED:
            return
        endpoint.status = DISABLED
        endpoint.status_reason = reason[:200]
        endpoint.updated_at = self._clock.now()
        others = self._endpoints.dead_letter_pending(session, endpoint, "the endpoint was disabled")
        self._audit.append(
            session,
            EventTag.WEBHOOK_DISABLED,
            tenant=endpoint.tenant_id,
            actor="system",
            data={"endpoint": endpoint.id, "reason": "gone", "dead_lettered": others + 1},
        )

    @staticmethod
    def _log(
        session: Session,
        delivery: WebhookDelivery,
        number: int,
        started: Any,
        result: AttemptResult,
        outcome: str,
        next_at: Any,
    ) -> None:
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=number,
                started_at=started,
                latency_ms=result.latency_ms,
                status_code=result.status,
                error_class=result.error_class,
                response_excerpt=result.excerpt,
                outcome=str(outcome),
                next_attempt_at=next_at,
            )
        )
