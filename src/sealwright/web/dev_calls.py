"""Development page of the carrier simulator's phone calls (/dev/calls): what each call
said, and a keypad to answer a ``<Gather>`` as the phone would. Mounted under ``/dev``
only with the simulator (``web/dev.py``); a real carrier is never read here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sealwright.errors import NotFound
from sealwright.services.runtime import Runtime
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.web.auth import runtime
from sealwright.web.signer_pages import denied, same_origin, templates

router = APIRouter(include_in_schema=False)
RuntimeDep = Annotated[Runtime, Depends(runtime)]


def _carrier(rt: Runtime) -> CarrierSimulator:
    if rt.sms is None or rt.sms.simulator is None:
        raise NotFound("the carrier simulator is not running")
    return rt.sms.simulator


@router.get("/calls", response_class=HTMLResponse)
def calls_list(request: Request, rt: RuntimeDep) -> HTMLResponse:
    calls = sorted(_carrier(rt).voice.all(), key=lambda c: c.created_at, reverse=True)
    return templates.TemplateResponse(request, "dev_calls.html", {"calls": calls, "title": None})


@router.get("/calls.json")
def calls_json(rt: RuntimeDep) -> JSONResponse:
    """The simulator's calls, oldest first, with what they said (development only)."""
    calls = sorted(_carrier(rt).voice.all(), key=lambda c: c.created_at)
    return JSONResponse(
        [
            {
                "sid": c.sid,
                "to": c.to,
                "status": c.status,
                "said": c.spoken,
                "waiting_for_keys": c.gather is not None,
                "created_at": c.created_at.isoformat(),
            }
            for c in calls
        ]
    )


@router.post("/calls/{sid}/keys")
def press(
    sid: str, request: Request, rt: RuntimeDep, digits: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    if not same_origin(request, rt):
        return denied(request)
    try:
        _carrier(rt).voice.press(sid, digits)
    except (KeyError, ValueError):
        return Response("that call is not waiting for keys", status_code=409)
    return RedirectResponse("/dev/calls", status_code=303)


@router.post("/calls/{sid}/hangup")
def hang_up(sid: str, request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return denied(request)
    try:
        _carrier(rt).voice.hang_up(sid)
    except KeyError:
        raise NotFound("no such call") from None
    return RedirectResponse("/dev/calls", status_code=303)
