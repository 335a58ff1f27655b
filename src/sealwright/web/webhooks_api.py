"""Webhook endpoints, their delivery log and dead letters, through the API (G2).

Every route declares its scope with ``scoped(...)`` like the envelope routes (web/auth.py;
the authorisation-matrix test reads it). Webhooks are tenant-wide -- an endpoint receives
events of every folder -- so a token restricted to folders or envelopes may not manage
them (403, recorded as a denial). Another tenant's endpoint or delivery looks like none.

A signing secret is in the answer to create and rotate only. Under an ``Idempotency-Key``
a replay gets the same answer with ``secret`` null: the secret is never stored in the clear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from sealwright.errors import NotFound, PermissionDenied
from sealwright.identity.scopes import Scope
from sealwright.services.runtime import Runtime
from sealwright.services.webhooks import deliveries
from sealwright.services.webhooks.endpoints import EndpointService
from sealwright.storage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from sealwright.web import idempotency as idem
from sealwright.web.auth import Caller, deny, runtime, scoped
from sealwright.webhooks.payloads import LIFECYCLE

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Reader = Annotated[Caller, Depends(scoped(Scope.WEBHOOKS_READ))]
Writer = Annotated[Caller, Depends(scoped(Scope.WEBHOOKS_WRITE))]
Creator = Annotated[Caller, Depends(scoped(Scope.WEBHOOKS_WRITE, action="webhook:create"))]
Rotator = Annotated[Caller, Depends(scoped(Scope.WEBHOOKS_WRITE, action="webhook:rotate"))]
Deleter = Annotated[Caller, Depends(scoped(Scope.WEBHOOKS_WRITE, action="webhook:delete"))]
Redeliverer = Annotated[Caller, Depends(scoped(Scope.WEBHOOKS_WRITE, action="webhook:redeliver"))]
EventList = Annotated[
    list[Annotated[str, Field(max_length=80)]], Field(min_length=1, max_length=50)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointIn(_Strict):
    url: str = Field(max_length=2000)
    #: Event tags, prefixes ending in ``:``, or ``*`` (docs/webhooks.md, "Events").
    events: EventList = Field(default_factory=lambda: [t.value for t in LIFECYCLE])
    #: v1: HMAC-SHA256 (``whsec_`` secret); v1a: Ed25519 (receivers get a ``whpk_`` key).
    scheme: Literal["v1", "v1a"] = "v1"
    description: str = Field(default="", max_length=200)


class EndpointPatch(_Strict):
    url: str | None = Field(default=None, max_length=2000)
    events: EventList | None = None
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None


class RotateIn(_Strict):
    #: Seconds the previous key keeps signing (default: the operator's setting).
    overlap_seconds: int | None = Field(default=None, ge=0, le=30 * 24 * 3600)
    scheme: Literal["v1", "v1a"] | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    events: list[str]
    scheme: str
    status: str
    status_reason: str | None
    #: v1a endpoints: the current ``whpk_`` verification key (public).
    public_key: str | None
    previous_key_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    #: What the receiver verifies with: the ``whsec_`` secret (v1) or ``whpk_`` key (v1a).
    #: Shown once; null on an idempotent replay.
    secret: str | None


class EndpointList(BaseModel):
    items: list[EndpointOut]


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    latency_ms: int
    status_code: int | None
    error_class: str | None
    response_excerpt: str | None
    outcome: str
    next_attempt_at: datetime | None


class DeliveryOut(BaseModel):
    #: The ``webhook-id`` header of every attempt.
    id: str
    endpoint_id: str
    event_id: str
    event_tag: str
    ledger_index: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    dead_reason: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any]
    log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


# -- helpers ---------------------------------------------------------------------------------


def _tenant_wide(rt: Runtime, request: Request, caller: Caller) -> None:
    token = caller.token
    if token.folders is not None or token.envelopes is not None:
        reason = "a folder- or envelope-restricted token cannot manage webhooks"
        deny(rt, caller, request, reason)
        raise PermissionDenied(f"{reason}: webhooks are tenant-wide")


@contextmanager
def _denials_recorded(rt: Runtime, request: Request, caller: Caller, target: str) -> Iterator[None]:
    """Around a unit of work (never inside one): a lookup that found nothing for this
    tenant -- absent, or another tenant's -- is a denial, appended to the ledger."""
    try:
        yield
    except NotFound:
        deny(rt, caller, request, "webhook object not in caller's tenant or absent", target)
        raise


def endpoint_out(rt: Runtime, e: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=e.id,
        url=e.url,
        description=e.description,
        events=e.event_filter.split(),
        scheme=e.scheme,
        status=e.status,
        status_reason=e.status_reason,
        public_key=rt.webhook_endpoints.public_key(e),
        previous_key_expires_at=e.previous_expires_at,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def delivery_out(d: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id,
        endpoint_id=d.endpoint_id,
        event_id=d.event_id,
        event_tag=d.event_tag,
        ledger_index=d.ledger_index,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        dead_reason=d.dead_reason,
        created_at=d.created_at,
        delivered_at=d.delivered_at,
        dead_at=d.dead_at,
    )


def attempt_out(a: WebhookAttempt) -> AttemptOut:
    return AttemptOut(
        number=a.number,
        started_at=a.started_at,
        latency_ms=a.latency_ms,
        status_code=a.status_code,
        error_class=a.error_class,
        response_excerpt=a.response_excerpt,
        outcome=a.outcome,
        next_attempt_at=a.next_attempt_at,
    )


Action = Callable[[Session], tuple[int, Any]]


async def _write(
    rt: Runtime,
    request: Request,
    caller: Caller,
    action: Action,
    *,
    target: str = "",
    secret_field: bool = False,
) -> Response:
    """One unit of work with ``Idempotency-Key`` replay. A secret in the answer is blanked
    in the stored copy: a replay says ``secret: null``."""
    key = idem.key_of(request)
    fp = idem.fingerprint(request, hashlib.sha256(await request.body()).hexdigest())

    def work() -> Response:
        _tenant_wide(rt, request, caller)
        with _denials_recorded(rt, request, caller, target), rt.db.transaction() as session:
            if (again := idem.replay(session, caller, key, fp)) is not None:
                return again
            status, content = action(session)
            content = jsonable_encoder(content)
            stored = {**content, "secret": None} if secret_field else content
            idem.respond(session, caller, key, fp, rt.clock, status, stored)
            return Response(
                orjson.dumps(content), status_code=status, media_type="application/json"
            )

    return await run_in_threadpool(work)


# -- endpoints ---------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=EndpointWithSecret)
async def create_endpoint(
    body: EndpointIn, request: Request, caller: Creator, rt: RuntimeDep
) -> Response:
    def act(session: Session) -> tuple[int, Any]:
        shown = rt.webhook_endpoints.create(
            session,
            tenant_id=caller.tenant_id,
            actor=caller.actor,
            url=body.url,
            events=body.events,
            scheme=body.scheme,
            description=body.description,
        )
        out = endpoint_out(rt, shown.endpoint)
        return 201, EndpointWithSecret(**out.model_dump(), secret=shown.verification_key)

    return await _write(rt, request, caller, act, secret_field=True)


@router.get("", response_model=EndpointList)
def list_endpoints(request: Request, caller: Reader, rt: RuntimeDep) -> EndpointList:
    _tenant_wide(rt, request, caller)
    with rt.db.transaction() as session:
        found = EndpointService.listed(session, caller.tenant_id)
        return EndpointList(items=[endpoint_out(rt, e) for e in found])


@router.get("/dead-letters", response_model=DeliveryPage)
def dead_letters(
    request: Request,
    caller: Reader,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryPage:
    """Deliveries given up on (caps reached, endpoint disabled or deleted), newest first."""
    _tenant_wide(rt, request, caller)
    with rt.db.transaction() as session:
        page = deliveries.page(
            session, tenant_id=caller.tenant_id, status="dead", limit=limit, cursor=cursor
        )
        return DeliveryPage(
            items=[delivery_out(d) for d in page.items], next_cursor=page.next_cursor
        )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(
    delivery_id: str, request: Request, caller: Reader, rt: RuntimeDep
) -> DeliveryDetail:
    _tenant_wide(rt, request, caller)
    with _denials_recorded(rt, request, caller, delivery_id), rt.db.transaction() as session:
        d = deliveries.load(session, delivery_id, caller.tenant_id)
        return DeliveryDetail(
            **delivery_out(d).model_dump(),
            payload=orjson.loads(d.payload),
            log=[attempt_out(a) for a in deliveries.attempts(session, d.id)],
        )


@router.post("/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryOut)
async def redeliver(
    delivery_id: str, request: Request, caller: Redeliverer, rt: RuntimeDep
) -> Response:
    def act(session: Session) -> tuple[int, Any]:
        d = deliveries.load(session, delivery_id, caller.tenant_id)
        deliveries.redeliver(
            session, d, clock=rt.clock, audit=rt.audit, outbox=rt.webhooks, actor=caller.actor
        )
        return 202, delivery_out(d)

    return await _write(rt, request, caller, act, target=delivery_id)


@router.get("/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: str, request: Request, caller: Reader, rt: RuntimeDep) -> EndpointOut:
    _tenant_wide(rt, request, caller)
    with _denials_recorded(rt, request, caller, endpoint_id), rt.db.transaction() as session:
        return endpoint_out(rt, EndpointService.load(session, caller.tenant_id, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointOut)
def update_endpoint(
    endpoint_id: str, body: EndpointPatch, request: Request, caller: Writer, rt: RuntimeDep
) -> EndpointOut:
    """Change the URL, the event filter or the description; enable or disable it."""
    _tenant_wide(rt, request, caller)
    with _denials_recorded(rt, request, caller, endpoint_id), rt.db.transaction() as session:
        endpoint = EndpointService.load(session, caller.tenant_id, endpoint_id)
        rt.webhook_endpoints.update(
            session,
            endpoint,
            actor=caller.actor,
            url=body.url,
            events=body.events,
            description=body.description,
            enabled=body.enabled,
        )
        return endpoint_out(rt, endpoint)


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
async def rotate_secret(
    endpoint_id: str, body: RotateIn, request: Request, caller: Rotator, rt: RuntimeDep
) -> Response:
    def act(session: Session) -> tuple[int, Any]:
        endpoint = EndpointService.load(session, caller.tenant_id, endpoint_id)
        shown = rt.webhook_endpoints.rotate(
            session,
            endpoint,
            actor=caller.actor,
            overlap_seconds=body.overlap_seconds,
            scheme=body.scheme,
        )
        out = endpoint_out(rt, shown.endpoint)
        return 200, EndpointWithSecret(**out.model_dump(), secret=shown.verification_key)

    return await _write(rt, request, caller, act, target=endpoint_id, secret_field=True)


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(
    endpoint_id: str, request: Request, caller: Deleter, rt: RuntimeDep
) -> Response:
    _tenant_wide(rt, request, caller)
    with _denials_recorded(rt, request, caller, endpoint_id), rt.db.transaction() as session:
        endpoint = EndpointService.load(session, caller.tenant_id, endpoint_id)
        rt.webhook_endpoints.delete(session, endpoint, actor=caller.actor)
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    endpoint_id: str,
    request: Request,
    caller: Reader,
    rt: RuntimeDep,
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DeliveryPage:
    """The delivery log of one endpoint, newest event first."""
    _tenant_wide(rt, request, caller)
    with _denials_recorded(rt, request, caller, endpoint_id), rt.db.transaction() as session:
        EndpointService.load(session, caller.tenant_id, endpoint_id)
        page = deliveries.page(
            session,
            tenant_id=caller.tenant_id,
            endpoint_id=endpoint_id,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        return DeliveryPage(
            items=[delivery_out(d) for d in page.items], next_cursor=page.next_cursor
        )
