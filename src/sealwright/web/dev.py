"""Development-only pages: the captured mail of the embedded default. Mounted only when the
local SMTP capture is in use, never with a real mail server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from sealwright.errors import NotFound
from sealwright.services.runtime import Runtime
from sealwright.web.auth import runtime
from sealwright.web.signer import templates

router = APIRouter(prefix="/dev", include_in_schema=False)


def _capture(rt: Runtime):  # type: ignore[no-untyped-def]
    if rt.mail_capture is None:
        raise NotFound("mail capture is not enabled")
    return rt.mail_capture


@router.get("/mail", response_class=HTMLResponse)
def mail_list(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> HTMLResponse:
    mails = sorted(_capture(rt).list(), key=lambda m: m.received_at, reverse=True)
    return templates.TemplateResponse(request, "mail_list.html", {"mails": mails, "title": None})


@router.get("/mail/{mail_id}", response_class=HTMLResponse)
def mail_view(
    mail_id: str, request: Request, rt: Annotated[Runtime, Depends(runtime)]
) -> HTMLResponse:
    mail = _capture(rt).get(mail_id)
    return templates.TemplateResponse(request, "mail_view.html", {"mail": mail, "title": None})


@router.get("/mail.json")
def mail_json(rt: Annotated[Runtime, Depends(runtime)]) -> JSONResponse:
    """Machine-readable list for scripts (the demo reads its mail like a signer would)."""
    mails = sorted(_capture(rt).list(), key=lambda m: m.received_at)
    return JSONResponse(
        [
            {
                "id": m.id,
                "to": list(m.to),
                "subject": m.subject,
                "received_at": m.received_at.isoformat(),
            }
            for m in mails
        ]
    )


@router.get("/mail/{mail_id}/text", response_class=PlainTextResponse)
def mail_text(mail_id: str, rt: Annotated[Runtime, Depends(runtime)]) -> PlainTextResponse:
    return PlainTextResponse(_capture(rt).get(mail_id).text)
