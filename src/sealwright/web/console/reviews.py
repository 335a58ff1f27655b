"""The review queue (C5) and human-assisted verification (C7) in the console.

Reviewers (``review:read``) see escalated verifications and assistance requests of their
tenant with every channel's evidence; those who may decide (``review:decide``) approve or
deny with a reason. The decision is a signed assertion and an event
(services/channel_flow/review_queue.py); a denied manual review voids the envelope.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sealwright.errors import NotFound, SealwrightError
from sealwright.identity.roles import Permission
from sealwright.services.channel_flow.review_queue import QueueItem, ReviewQueue
from sealwright.services.console_sessions import ConsoleContext
from sealwright.services.runtime import Runtime
from sealwright.web.auth import runtime
from sealwright.web.console.factors import in_session
from sealwright.web.console.guard import console_context, needs, record_denial
from sealwright.web.console.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_context)]
)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Ctx = Annotated[ConsoleContext | None, Depends(console_context)]


@router.get("/review", response_class=HTMLResponse)
@needs(Permission.REVIEW_READ)
def queue(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    items = in_session(rt, request, ctx, lambda db, c: ReviewQueue(rt).pending(db, c.tenant_id))
    return page(request, "console/review.html", ctx=ctx, items=items)


@router.get("/review/{verification_id}", response_class=HTMLResponse)
@needs(Permission.REVIEW_READ)
def item(verification_id: str, request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    def load(db: Session, c: ConsoleContext) -> QueueItem | None:
        try:
            return ReviewQueue(rt).item(db, c.tenant_id, verification_id)
        except NotFound:
            return None

    found = in_session(rt, request, ctx, load)
    if found is None:
        return _not_found(request, rt, ctx, verification_id)
    assert ctx is not None
    return page(
        request,
        "console/review_item.html",
        ctx=ctx,
        item=found,
        can_decide=Permission.REVIEW_DECIDE in ctx.permissions,
        error=None,
    )


@router.post("/review/{verification_id}")
@needs(Permission.REVIEW_DECIDE)
def decide(
    verification_id: str,
    request: Request,
    rt: RuntimeDep,
    ctx: Ctx,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def act(db: Session, c: ConsoleContext) -> bool:
        try:
            ReviewQueue(rt).decide(
                db,
                c.tenant_id,
                verification_id,
                approve=decision == "approve",
                reason=reason,
                actor=c.actor,
            )
        except NotFound:
            return False
        return True

    if decision not in ("approve", "deny"):
        return page(request, "console/problem.html", status=400, ctx=ctx, message="approve or deny")
    try:
        found = in_session(rt, request, ctx, act)
    except SealwrightError as exc:
        return page(request, "console/problem.html", status=400, ctx=ctx, message=str(exc))
    if not found:
        return _not_found(request, rt, ctx, verification_id)
    return RedirectResponse("/console/review", status_code=303)


def _not_found(request: Request, rt: Runtime, ctx: ConsoleContext | None, target: str) -> Response:
    record_denial(rt, request, ctx, "review not in operator's tenant or absent", target)
    return page(request, "console/not_found.html", status=404, ctx=ctx)
