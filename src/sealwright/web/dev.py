"""Development-only pages: the captured mail and the text messages the carrier simulator
took, in the embedded default. Mounted only when the local SMTP capture or the carrier
simulator is in use; each page answers 404 without its stand-in (a real mail server or
SMS carrier is never read here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from sealwright.errors import NotFound
from sealwright.services.runtime import Runtime
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.web import dev_calls
from sealwright.web.auth import runtime
from sealwright.web.signer import templates

router = APIRouter(prefix="/dev", include_in_schema=False)
router.include_router(dev_calls.router)  # /dev/calls: the simulator's phone calls


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


def _carrier(rt: Runtime) -> CarrierSimulator:
    if rt.sms is None or rt.sms.simulator is None:
        raise NotFound("the carrier simulator is not running")
    return rt.sms.simulator


@router.get("/sms", response_class=HTMLResponse)
def sms_list(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> HTMLResponse:
    messages = sorted(_carrier(rt).messages.all(), key=lambda m: m.created_at, reverse=True)
    return templates.TemplateResponse(
        request, "sms_list.html", {"messages": messages, "title": None}
    )


@router.get("/sms.json")
def sms_json(rt: Annotated[Runtime, Depends(runtime)]) -> JSONResponse:
    """The simulator's messages, oldest first, for scripts (bodies included: development)."""
    messages = sorted(_carrier(rt).messages.all(), key=lambda m: m.created_at)
    return JSONResponse(
        [
            {
                "sid": m.sid,
                "to": m.to,
                "body": m.body,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
            }
            for m in messages
        ]
    )
