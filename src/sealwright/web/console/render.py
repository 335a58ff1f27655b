"""Rendering for the console's server-side pages: one template set, no-store everywhere
(console pages show tenant data and, during enrolment, a TOTP secret)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from sealwright.identity.roles import Permission
from sealwright.services.console_sessions import ConsoleContext

templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

#: The console's navigation: (label, path, permission). Links an operator may not follow
#: are not shown (the guard refuses them anyway).
NAV: tuple[tuple[str, str, Permission], ...] = (
    ("Envelopes", "/console/envelopes", Permission.ENVELOPES_READ),
    ("Review queue", "/console/review", Permission.REVIEW_READ),
    ("Audit log", "/console/audit", Permission.AUDIT_READ),
    ("QR codes", "/console/qr", Permission.AUDIT_READ),
    ("Operators", "/console/operators", Permission.OPERATORS_MANAGE),
    ("API clients", "/console/clients", Permission.CLIENTS_MANAGE),
)


def nav_for(ctx: ConsoleContext | None) -> list[tuple[str, str]]:
    if ctx is None or not ctx.second_factor_passed:
        return []
    return [(label, path) for label, path, need in NAV if need in ctx.permissions]


def page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    ctx: ConsoleContext | None = None,
    **values: Any,
) -> HTMLResponse:
    values.setdefault("title", "Console")
    values["console"] = ctx
    values["nav"] = nav_for(ctx)
    values["csrf"] = ctx.csrf if ctx is not None else ""
    response = templates.TemplateResponse(request, template, values, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response
