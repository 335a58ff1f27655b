"""Owners' pages (B7): the tenant's operators (add, change roles, disable) and its API
clients. Each change is an audit event written by the service it calls, in the same unit
of work; a refused change (the last owner, a bad issuer) changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sealwright.errors import Conflict, NotFound, ValidationError
from sealwright.identity.roles import Permission, Role, parse_roles
from sealwright.services import operators as ops
from sealwright.services.admin import (
    MAX_OVERLAP,
    ClientInfo,
    list_clients,
    revoke_client,
    rotate_client,
)
from sealwright.services.console_sessions import ConsoleContext
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ApiClient, Tenant
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
RolesField = Annotated[list[str], Form()]


def _operators(db: Session, ctx: ConsoleContext) -> list[dict[str, Any]]:
    return [
        {
            "id": o.id,
            "email": o.email,
            "display_name": o.display_name,
            "issuer": o.issuer,
            "roles": sorted(ops.roles_of(o)),
            "created_at": o.created_at,
            "disabled_at": o.disabled_at,
            "me": o.id == ctx.operator.id,
        }
        for o in ops.list_operators(db, ctx.tenant_id)
    ]


def _operators_page(
    request: Request, rt: Runtime, ctx: ConsoleContext | None, status: int = 200, error: str = ""
) -> Response:
    rows = in_session(rt, request, ctx, _operators)
    return page(
        request,
        "console/operators.html",
        status=status,
        ctx=ctx,
        operators=rows,
        roles=[r.value for r in Role],
        issuer=rt.settings.console_oidc_issuer,
        error=error or None,
    )


@router.get("/operators", response_class=HTMLResponse)
@needs(Permission.OPERATORS_MANAGE)
def operators(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    return _operators_page(request, rt, ctx)


@router.post("/operators")
@needs(Permission.OPERATORS_MANAGE)
def add_operator(
    request: Request,
    rt: RuntimeDep,
    ctx: Ctx,
    email: Annotated[str, Form(max_length=320)] = "",
    subject: Annotated[str, Form(max_length=255)] = "",
    issuer: Annotated[str, Form(max_length=300)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: RolesField = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    def act(db: Session, c: ConsoleContext) -> None:
        tenant = db.get(Tenant, c.tenant_id)
        assert tenant is not None
        ops.add_operator(
            rt,
            db,
            tenant,
            email=email,
            issuer=issuer or rt.settings.console_oidc_issuer,
            subject=subject,
            roles=_roles(role),
            display_name=display_name,
            actor=c.actor,
        )

    return _change(request, rt, ctx, act)


@router.post("/operators/{operator_id}/roles")
@needs(Permission.OPERATORS_MANAGE)
def change_roles(
    operator_id: str,
    request: Request,
    rt: RuntimeDep,
    ctx: Ctx,
    role: RolesField = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    def act(db: Session, c: ConsoleContext) -> None:
        target = ops.get_operator(db, c.tenant_id, operator_id)
        ops.set_roles(rt, db, target, _roles(role), actor=c.actor)

    return _change(request, rt, ctx, act, operator_id)


@router.post("/operators/{operator_id}/disable")
@needs(Permission.OPERATORS_MANAGE)
def disable(operator_id: str, request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    def act(db: Session, c: ConsoleContext) -> None:
        ops.disable_operator(rt, db, ops.get_operator(db, c.tenant_id, operator_id), actor=c.actor)

    return _change(request, rt, ctx, act, operator_id)


def _roles(names: list[str]) -> frozenset[Role]:
    try:
        return parse_roles(names)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _change(
    request: Request,
    rt: Runtime,
    ctx: ConsoleContext | None,
    act: Any,
    target: str = "",
) -> Response:
    try:
        in_session(rt, request, ctx, act)
    except NotFound:
        record_denial(rt, request, ctx, "operator not in operator's tenant or absent", target)
        return page(request, "console/not_found.html", status=404, ctx=ctx)
    except (ValidationError, Conflict) as exc:
        return _operators_page(request, rt, ctx, status=400, error=str(exc))
    return RedirectResponse("/console/operators", status_code=303)


# -- API clients ---------------------------------------------------------------------------
#
# Rotation and revocation are the services the CLI uses too (services/admin.py); the
# ledger events name the signed-in operator as their actor.


@router.get("/clients", response_class=HTMLResponse)
@needs(Permission.CLIENTS_MANAGE)
def clients(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    """The tenant's API clients, secrets never shown (only their hashes are stored)."""
    return _clients_page(request, rt, ctx)


def _clients_page(
    request: Request,
    rt: Runtime,
    ctx: ConsoleContext | None,
    *,
    status: int = 200,
    error: str = "",
    new_secret: tuple[str, str] | None = None,
) -> Response:
    def load(db: Session, c: ConsoleContext) -> list[ClientInfo]:
        tenant = db.get(Tenant, c.tenant_id)
        assert tenant is not None
        return list_clients(db, tenant)

    rows = in_session(rt, request, ctx, load)
    return page(
        request,
        "console/clients.html",
        status=status,
        ctx=ctx,
        clients=rows,
        error=error or None,
        new_secret=new_secret,
        max_overlap_hours=int(MAX_OVERLAP.total_seconds() // 3600),
    )


def _tenant_client(db: Session, ctx: ConsoleContext, client_id: str) -> ApiClient:
    """Tenant-scoped: another tenant's client is indistinguishable from none."""
    client = db.get(ApiClient, client_id)
    if client is None or client.tenant_id != ctx.tenant_id:
        raise NotFound("client not found")
    return client


@router.post("/clients/{client_id}/rotate", response_class=HTMLResponse)
@needs(Permission.CLIENTS_MANAGE)
def rotate(
    client_id: str,
    request: Request,
    rt: RuntimeDep,
    ctx: Ctx,
    overlap_hours: Annotated[int, Form(ge=0, le=24 * 30)] = 24,
) -> Response:
    """A new secret, shown on this one answer only; the old one works for the overlap."""

    def act(db: Session, c: ConsoleContext) -> str:
        _tenant_client(db, c, client_id)
        _, secret = rotate_client(
            rt, db, client_id, overlap=timedelta(hours=overlap_hours), actor=c.actor
        )
        return secret

    try:
        secret = in_session(rt, request, ctx, act)
    except NotFound:
        record_denial(rt, request, ctx, "client not in operator's tenant or absent", client_id)
        return page(request, "console/not_found.html", status=404, ctx=ctx)
    except (ValidationError, Conflict) as exc:
        return _clients_page(request, rt, ctx, status=400, error=str(exc))
    return _clients_page(request, rt, ctx, new_secret=(client_id, secret))


@router.post("/clients/{client_id}/revoke")
@needs(Permission.CLIENTS_MANAGE)
def revoke(client_id: str, request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    def act(db: Session, c: ConsoleContext) -> None:
        _tenant_client(db, c, client_id)
        revoke_client(rt, db, client_id, actor=c.actor)

    try:
        in_session(rt, request, ctx, act)
    except NotFound:
        record_denial(rt, request, ctx, "client not in operator's tenant or absent", client_id)
        return page(request, "console/not_found.html", status=404, ctx=ctx)
    except Conflict as exc:
        return _clients_page(request, rt, ctx, status=400, error=str(exc))
    return RedirectResponse("/console/clients", status_code=303)
