"""The console's QR verification page (C4): an operator pastes a scanned code's text and
sees what it vouches for, or why it is refused -- the same checks, keys and ledger event
as ``POST /v1/qr/verify`` (``services/qr_verification.py``), with the operator as actor.

Allowed to whoever may read the audit log (auditors, owners): checking a code is an
auditor's act. Mounted by ``web/qr_api.py: install``; guarded like every console route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sealwright.identity.roles import Permission
from sealwright.services.console_sessions import ConsoleContext
from sealwright.services.qr_verification import verify_qr_code
from sealwright.services.runtime import Runtime
from sealwright.web.auth import runtime
from sealwright.web.console.factors import in_session
from sealwright.web.console.guard import console_context, needs
from sealwright.web.console.render import page

router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_context)]
)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Ctx = Annotated[ConsoleContext | None, Depends(console_context)]


@router.get("/qr", response_class=HTMLResponse)
@needs(Permission.AUDIT_READ)
def qr_form(request: Request, ctx: Ctx) -> Response:
    return page(request, "console/qr.html", ctx=ctx, title="Verify a QR code", check=None)


@router.post("/qr", response_class=HTMLResponse)
@needs(Permission.AUDIT_READ)
def qr_verify(
    request: Request,
    rt: RuntimeDep,
    ctx: Ctx,
    code: Annotated[str, Form(min_length=1, max_length=4096)],
    doc_hash: Annotated[str, Form(pattern=r"^([0-9a-f]{64})?$")] = "",
) -> Response:
    def who(_db: Session, c: ConsoleContext) -> dict[str, Any]:
        return {"tenant": c.tenant_id, "actor": c.actor, "operator": c.operator.id}

    verifier = in_session(rt, request, ctx, who)
    check = verify_qr_code(
        rt,
        request.app.state.qr_partner_keys,
        code.strip(),
        doc_hash or None,
        tenant=verifier["tenant"],
        actor=verifier["actor"],
        who={"operator": verifier["operator"]},
    )
    return page(
        request,
        "console/qr.html",
        status=200 if check.ok else 422,
        ctx=ctx,
        title="Verify a QR code",
        check=check,
        doc_hash=doc_hash,
    )
