"""The console's pages once signed in (B7, G4): home, envelopes, audit log.

Every object is loaded through the operator's tenant: another tenant's envelope is "not
found" (and a ``console:access:denied`` event). Pages show envelope metadata and status,
never document contents.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.errors import Conflict, NotFound
from sealwright.identity.roles import Permission
from sealwright.services.checkpoints import CheckpointPublisher
from sealwright.services.console_sessions import ConsoleContext
from sealwright.services.envelopes import EnvelopeService, load_envelope
from sealwright.services.evidence_export import export_bundle
from sealwright.services.operator_factors import FactorService
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Envelope, LedgerEvent
from sealwright.web.auth import runtime
from sealwright.web.console.factors import in_session
from sealwright.web.console.guard import console_context, needs, record_denial
from sealwright.web.console.render import page

# The guard on the router too: a route that forgot its context parameter is still checked.
router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_context)]
)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Ctx = Annotated[ConsoleContext | None, Depends(console_context)]
PAGE_SIZE = 100


@router.get("", response_class=HTMLResponse)
@needs(Permission.CONSOLE_ENTER)
def home(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    factors = in_session(
        rt,
        request,
        ctx,
        lambda db, c: [
            {"kind": f.kind, "created_at": f.created_at, "last_used_at": f.last_used_at}
            for f in FactorService.confirmed(db, c.operator.id)
        ],
    )
    return page(request, "console/home.html", ctx=ctx, factors=factors)


@router.get("/factors/add", response_class=HTMLResponse)
@needs(Permission.CONSOLE_ENTER)
def add_factor(request: Request, ctx: Ctx) -> Response:
    return page(request, "console/enrol.html", ctx=ctx, adding=True)


# -- envelopes -----------------------------------------------------------------------------


@router.get("/envelopes", response_class=HTMLResponse)
@needs(Permission.ENVELOPES_READ)
def envelopes(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    def load(db: Session, c: ConsoleContext) -> list[dict[str, Any]]:
        rows = db.execute(
            select(Envelope)
            .where(Envelope.tenant_id == c.tenant_id)
            .order_by(Envelope.created_at.desc())
            .limit(PAGE_SIZE)
        ).scalars()
        out = []
        for env in rows:
            recipients = EnvelopeService.recipients(db, env.id)
            out.append(
                {
                    "id": env.id,
                    "title": env.title,
                    "status": env.status,
                    "seal": env.seal_status,
                    "created_at": env.created_at,
                    "sent_at": env.sent_at,
                    "completed_at": env.completed_at,
                    "signed": sum(1 for r in recipients if r.status == "signed"),
                    "recipients": len(recipients),
                }
            )
        return out

    rows = in_session(rt, request, ctx, load)
    assert ctx is not None
    return page(
        request,
        "console/envelopes.html",
        ctx=ctx,
        envelopes=rows,
        can_void=Permission.ENVELOPES_SEND in ctx.permissions,
        can_export=Permission.EVIDENCE_EXPORT in ctx.permissions,
    )


def _tenant_envelope(db: Session, ctx: ConsoleContext, envelope_id: str) -> Envelope | None:
    try:
        return load_envelope(db, envelope_id, ctx.tenant_id)
    except NotFound:
        return None


def _not_found(request: Request, rt: Runtime, ctx: ConsoleContext | None, target: str) -> Response:
    record_denial(rt, request, ctx, "envelope not in operator's tenant or absent", target)
    return page(request, "console/not_found.html", status=404, ctx=ctx)


@router.post("/envelopes/{envelope_id}/void")
@needs(Permission.ENVELOPES_SEND)
def void(
    envelope_id: str,
    request: Request,
    rt: RuntimeDep,
    ctx: Ctx,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    def act(db: Session, c: ConsoleContext) -> str | None:
        env = _tenant_envelope(db, c, envelope_id)
        if env is None:
            return "not-found"
        EnvelopeService(rt).void(db, env, actor=c.actor, reason=reason.strip() or "voided")
        return None

    try:
        outcome = in_session(rt, request, ctx, act)
    except Conflict as exc:
        return page(request, "console/problem.html", status=409, ctx=ctx, message=str(exc))
    if outcome == "not-found":
        return _not_found(request, rt, ctx, envelope_id)
    return RedirectResponse("/console/envelopes", status_code=303)


@router.get("/envelopes/{envelope_id}/evidence")
@needs(Permission.EVIDENCE_EXPORT)
async def evidence(envelope_id: str, request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    assert ctx is not None
    try:
        data = await run_in_threadpool(
            export_bundle, rt, envelope_id, actor=ctx.actor, tenant_id=ctx.tenant_id
        )
    except NotFound:
        return await run_in_threadpool(_not_found, request, rt, ctx, envelope_id)
    except Conflict as exc:
        return page(request, "console/problem.html", status=409, ctx=ctx, message=str(exc))
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{envelope_id}.zip"',
            "Cache-Control": "no-store",
        },
    )


# -- audit log -----------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
@needs(Permission.AUDIT_READ)
def audit(
    request: Request,
    rt: RuntimeDep,
    ctx: Ctx,
    before: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The tenant's ledger events, newest first, each with a link to its inclusion proof in
    the latest signed checkpoint (the public ledger API serves the proof)."""

    def load(db: Session, c: ConsoleContext) -> dict[str, Any]:
        q = select(LedgerEvent).where(LedgerEvent.tenant_id == c.tenant_id)
        if before is not None:
            q = q.where(LedgerEvent.idx < before)
        rows = list(db.execute(q.order_by(LedgerEvent.idx.desc()).limit(PAGE_SIZE)).scalars())
        latest = CheckpointPublisher.latest(db)
        size = latest.size if latest is not None else 0
        return {
            "events": [
                {
                    "idx": e.idx,
                    "tag": e.tag,
                    "time": e.created_at,
                    "envelope": e.envelope_id,
                    "proof": (
                        f"/v1/log/proof/inclusion?index={e.idx}&tree_size={size}"
                        if e.idx < size
                        else None
                    ),
                }
                for e in rows
            ],
            "checkpoint": {"size": size, "note": latest.note} if latest is not None else None,
            "older": rows[-1].idx if len(rows) == PAGE_SIZE else None,
        }

    return page(request, "console/audit.html", ctx=ctx, **in_session(rt, request, ctx, load))
