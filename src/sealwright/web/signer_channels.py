"""The signer's out-of-band verification pages (C): the list of channels still to pass, one
page per run, the answer form, a status the page polls, and asking for human assistance.

Every route needs the signer session (cookie) and a recipient who has passed their
authentication methods and consented; a run is only ever looked up together with the
session's recipient, so one signer can neither see nor answer another's run. A channel's
own routes (carrier callbacks, video upload, the second device's page) live in their own
modules; the template of a run is ``templates/channels/<channel>.html``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sealwright.channels.port import SignerEvidence
from sealwright.errors import Conflict, NotFound, SealwrightError, ValidationError
from sealwright.services.ceremony import CeremonyService
from sealwright.services.channel_flow.flow import ASSISTED, REVIEW, ChannelFlow
from sealwright.services.signer_audit import SignerContext
from sealwright.storage.models import ChannelVerification
from sealwright.web.signer_methods import guarded as signer_guarded
from sealwright.web.signer_pages import (
    RuntimeDep,
    denied,
    masked_phone,
    observing,
    page,
    same_origin,
    signer,
    templates,
)

router = APIRouter(include_in_schema=False)

LABELS = {
    "phone-callback": "A phone call to the number the sender has on file",
    "sms-otp": "A PIN sent by text message to the number the sender has on file",
    "qr-device": "Scanning a code with your phone",
    "video": "A short video of you following on-screen instructions",
    "manual-review": "A check by a member of the sender's team",
}
STATUS_TEXT = {
    "pending": "in progress",
    "passed": "done",
    "failed": "not passed",
    "expired": "expired",
    "locked": "locked after too many attempts",
    "escalated": "passed to a reviewer",
}
MAX_ANSWER = 4096


class _NeedsConsent(Exception):
    """The signer has not consented to electronic records yet: that page comes first."""


def ready(s: CeremonyService, db: Session, c: SignerContext) -> ChannelFlow:
    s.require_verified(db, c)
    if c.session.consent_at is None:
        raise _NeedsConsent()
    return ChannelFlow(s.rt)


def guarded(request: Request, fn: Callable[[], Response]) -> Response:
    try:
        return signer_guarded(request, fn)
    except _NeedsConsent:
        return RedirectResponse("/s/consent", status_code=303)


def own_run(db: Session, c: SignerContext, verification_id: str) -> ChannelVerification:
    """The run, if it is this signer's (else NotFound, exactly as for an unknown id)."""
    row = db.get(ChannelVerification, verification_id)
    if row is None or row.recipient_id != c.recipient.id:
        raise NotFound("verification not found")
    return row


def _list(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
    flow = ready(s, db, c)
    latest = flow.latest(db, c.recipient)
    missing = set(flow.unpassed(db, c.recipient))
    steps = []
    for name in flow.effective(db, c.recipient):
        run = latest.get(name)
        assisted = latest.get(ASSISTED)
        steps.append(
            {
                "name": name,
                "label": LABELS.get(name, name),
                "done": name not in missing,
                "status": STATUS_TEXT.get(run.status, run.status) if run else "not started",
                "run": run.id if run is not None and run.status == "pending" else None,
                "assistance": assisted is not None
                and assisted.status == "pending"
                and assisted.state.get("for_channel") == name,
            }
        )
    # A review is asked for once everything else is done: the reviewer sees all evidence.
    review_ready = missing <= {REVIEW}
    for step in steps:
        step["startable"] = step["name"] != REVIEW or review_ready
    return {"title": c.envelope.title, "steps": steps, "all_done": not missing}


@router.get("/s/channels", response_class=HTMLResponse)
def channels_page(request: Request, rt: RuntimeDep) -> Response:
    return guarded(
        request,
        lambda: page(
            request,
            "channels_list.html",
            error=None,
            **signer(rt, request, observing(request, _list)),
        ),
    )


@router.post("/s/channels/{name}/start")
def start(name: str, request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return denied(request)

    def act(s: CeremonyService, db: Session, c: SignerContext) -> str:
        flow = ready(s, db, c)
        row = flow.start(
            db, c.envelope, c.recipient, name, session_hash=c.session.token_hash, actor="signer"
        )
        return row.id

    return guarded(
        request,
        lambda: redirect_or_list(request, rt, lambda: signer(rt, request, observing(request, act))),
    )


@router.post("/s/channels/{name}/assist")
def assist(name: str, request: Request, rt: RuntimeDep) -> Response:
    """Ask for a human-assisted alternative to a channel (C7)."""
    if not same_origin(request, rt):
        return denied(request)

    def act(s: CeremonyService, db: Session, c: SignerContext) -> None:
        ready(s, db, c).request_assistance(
            db, c.envelope, c.recipient, name, session_hash=c.session.token_hash, actor="signer"
        )

    def run() -> Response:
        signer(rt, request, act)
        return RedirectResponse("/s/channels", status_code=303)

    return guarded(request, lambda: _or_error(request, rt, run))


@router.get("/s/channels/v/{verification_id}", response_class=HTMLResponse)
def run_page(verification_id: str, request: Request, rt: RuntimeDep) -> Response:
    return guarded(request, lambda: _run_page(request, rt, verification_id))


@router.post("/s/channels/v/{verification_id}/answer")
def answer(
    verification_id: str,
    request: Request,
    rt: RuntimeDep,
    kind: Annotated[str, Form(max_length=40)] = "",
    value: Annotated[str, Form(max_length=MAX_ANSWER)] = "",
) -> Response:
    if not same_origin(request, rt):
        return denied(request)

    def act(s: CeremonyService, db: Session, c: SignerContext) -> None:
        flow = ready(s, db, c)
        flow.complete(
            db,
            verification_id,
            SignerEvidence(kind, value),
            by="signer",
            recipient_id=c.recipient.id,
        )

    def run() -> Response:
        try:
            signer(rt, request, act)
        except ValidationError as exc:
            return _run_page(request, rt, verification_id, error=str(exc), status=400)
        except NotFound:
            return denied(request)
        return RedirectResponse(f"/s/channels/v/{verification_id}", status_code=303)

    return guarded(request, run)


@router.get("/s/channels/v/{verification_id}/status")
def status(verification_id: str, request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        ready(s, db, c)
        row = own_run(db, c, verification_id)
        return {
            "status": row.status,
            "display": row.display,
            "attempts": row.state.get("pin_attempts"),
        }

    try:
        body = signer(rt, request, load)
    except (SealwrightError, ValueError, _NeedsConsent):
        return JSONResponse({"error": "not valid"}, status_code=404)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# -- helpers ---------------------------------------------------------------------------------


def _run_page(
    request: Request,
    rt: RuntimeDep,
    verification_id: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        ready(s, db, c)
        row = own_run(db, c, verification_id)
        phone = s.required(c.recipient).phone
        return {
            "title": c.envelope.title,
            "run": row,
            "verification_id": row.id,
            "display": row.display,
            "status": row.status,
            "status_text": STATUS_TEXT.get(row.status, row.status),
            "label": LABELS.get(row.channel, row.channel),
            "phone": masked_phone(phone),
            "error": error,
        }

    try:
        ctx = signer(rt, request, load)
    except NotFound:
        return denied(request)
    template = f"channels/{ctx['run'].channel}.html"
    if template not in templates.env.list_templates():
        template = "channels/generic.html"
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect_or_list(request: Request, rt: RuntimeDep, fn: Any) -> Response:
    try:
        verification_id = fn()
    except (NotFound, Conflict) as exc:
        return _list_with_error(request, rt, str(exc))
    return RedirectResponse(f"/s/channels/v/{verification_id}", status_code=303)


def _or_error(request: Request, rt: RuntimeDep, fn: Any) -> Response:
    try:
        response: Response = fn()
    except (NotFound, Conflict) as exc:
        return _list_with_error(request, rt, str(exc))
    return response


def _list_with_error(request: Request, rt: RuntimeDep, error: str) -> Response:
    shown = signer(rt, request, _list)
    return page(request, "channels_list.html", status=409, error=error, **shown)
