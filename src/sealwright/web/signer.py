"""Server-rendered signer pages (A4, B5, B6): usable without JavaScript, except the drawing
pad and passkeys. The method pages are in ``signer_methods.py``.

The signer's session lives in an HttpOnly, SameSite=Strict cookie scoped to ``/s``; every
POST also checks the Origin header when the browser sends one. Authentication failures all
render the same page: no oracle about which check failed. Pressing "sign" with a stale
verification shows the "verify again" page (step-up) instead of signing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from sealwright.domain.signature import MEANING, SignatureInput
from sealwright.errors import (
    AuthenticationFailed,
    Conflict,
    RateLimited,
    SealwrightError,
    StepUpRequired,
    ValidationError,
    VerificationRequired,
)
from sealwright.keys.aead import decrypt_bytes, decrypt_stream
from sealwright.sealing.preview import render_page_png
from sealwright.services.ceremony import CeremonyService
from sealwright.services.channel_flow.flow import ChannelFlow
from sealwright.services.envelopes import document_aad
from sealwright.services.orchestrator import Orchestrator
from sealwright.services.orchestrator.history import SignerHistory
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.policy import RecipientAuth, signer_identity
from sealwright.web import signer_channels, signer_methods, signer_sms
from sealwright.web.signer_pages import (
    COOKIE,
    METHOD_LABELS,
    METHOD_PAGES,
    RuntimeDep,
    client_ip,
    denied,
    next_url,
    observing,
    page,
    request_signals,
    same_origin,
    set_session_cookie,
    signer,
    templates,
    throttled,
)

__all__ = ["COOKIE", "router", "templates"]

router = APIRouter(include_in_schema=False)
router.include_router(signer_methods.router)
router.include_router(signer_sms.router)
router.include_router(signer_channels.router)

DISCLOSURE = (
    "By continuing you agree to use electronic records and signatures for this transaction "
    "(ESIGN Act, 15 U.S.C. § 7001; UETA). Your electronic signature has the same legal effect "
    "as a handwritten one. You may ask the sender for a paper copy, and you may withdraw this "
    "consent before you sign by closing this page and telling the sender. To view and keep "
    "these records you need a device that can display PDF files."
)
_page = page
_denied = denied
_signer = signer


# -- one-time link -------------------------------------------------------------------------


@router.get("/sign/{token}", response_class=HTMLResponse)
def landing(token: str, request: Request, rt: RuntimeDep) -> HTMLResponse:
    try:
        with rt.db.transaction() as session:
            recipient, env = CeremonyService(rt).peek_link(session, token, client_ip(request))
            return _page(request, "landing.html", title=env.title, name=recipient.name, token=token)
    except RateLimited as exc:
        return throttled(request, exc.retry_after)
    except AuthenticationFailed:
        return _denied(request)


@router.post("/sign/{token}")
def redeem(token: str, request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return _denied(request)
    service = CeremonyService(rt)
    try:
        with rt.db.transaction() as session:
            session_token = service.redeem_link(session, token, client_ip(request))
            ctx = service.resolve(session, session_token, client_ip(request))
            url = next_url(service.auth_state(session, ctx), ctx)
    except RateLimited as exc:
        return throttled(request, exc.retry_after)
    except AuthenticationFailed:
        return _denied(request)
    response = RedirectResponse(url, status_code=303)
    set_session_cookie(response, rt, session_token)
    return response


# -- consent, review, sign -----------------------------------------------------------------


def _verified(s: CeremonyService, db: Session, c: SignerContext) -> SignerContext:
    s.require_verified(db, c)
    return c


@router.get("/s/consent", response_class=HTMLResponse)
def consent_form(request: Request, rt: RuntimeDep) -> Response:
    try:
        ctx, url = _signer(rt, request, lambda s, db, c: (c, next_url(s.auth_state(db, c), c)))
    except AuthenticationFailed:
        return _denied(request)
    if url != "/s/consent":  # methods still to pass, or consent already given
        return RedirectResponse(url, status_code=303)
    return _page(
        request, "consent.html", title=ctx.envelope.title, disclosure=DISCLOSURE, error=None
    )


@router.post("/s/consent")
def consent_submit(
    request: Request, rt: RuntimeDep, agree: Annotated[str, Form()] = ""
) -> Response:
    if not same_origin(request, rt):
        return _denied(request)
    if agree != "yes":
        try:
            ctx = _signer(rt, request, lambda s, db, c: c)
        except AuthenticationFailed:
            return _denied(request)
        return _page(
            request,
            "consent.html",
            status=400,
            title=ctx.envelope.title,
            disclosure=DISCLOSURE,
            error="Tick the box to agree, or close this page.",
        )
    try:
        _signer(rt, request, lambda s, db, c: s.give_consent(db, c))
    except AuthenticationFailed:
        return _denied(request)
    return RedirectResponse("/s/review", status_code=303)


def _review_context(service: CeremonyService, db: Session, ctx: SignerContext) -> dict[str, Any]:
    docs = service.envelopes.documents(db, ctx.envelope.id)
    names = {d.id: d.name for d in docs}
    mine = service.my_fields(db, ctx)
    fields = [
        {
            "id": f.id,
            "kind": f.kind,
            "label": f.label or f.kind.title(),
            "page": f.page,
            "document": names[f.document_id],
            "required": f.required,
        }
        for f in mine
    ]
    # Page geometry for the review images; SVG's y axis points down, PDF's up.
    pages = [
        {
            "document": d.id,
            "name": d.name,
            "number": n,
            "width": w,
            "height": h,
            "boxes": [
                {
                    "x": f.x,
                    "y": h - f.y - f.height,
                    "width": f.width,
                    "height": f.height,
                    "label": f.label or f.kind.title(),
                }
                for f in mine
                if f.document_id == d.id and f.page == n
            ],
        }
        for d in docs
        for n, (w, h) in enumerate(d.page_sizes["pages"], start=1)
    ]
    return {
        "title": ctx.envelope.title,
        "message": ctx.envelope.message,
        "documents": [{"id": d.id, "name": d.name, "sha256": d.sha256} for d in docs],
        "pages": pages,
        "fields": fields,
        "name": ctx.recipient.name,
        "meaning": MEANING,
        "recipient_status": ctx.recipient.status,
        "envelope_status": ctx.envelope.status,
        "channels_pending": list(ChannelFlow(service.rt).unpassed(db, ctx.recipient)),
    }


@router.get("/s/review", response_class=HTMLResponse)
def review(request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        s.require_consent(db, c)
        page = _review_context(s, db, c)
        if c.recipient.role == "viewer":
            s.acknowledge(db, c)
            page["viewer"] = True
        return page

    try:
        page = _signer(rt, request, observing(request, load))
    except AuthenticationFailed:
        return _denied(request)
    except Conflict:
        return RedirectResponse("/s/consent", status_code=303)
    if page.get("viewer"):
        return _page(request, "copy.html", **page)
    if page["recipient_status"] != "notified":
        return _page(
            request, "done.html", title=page["title"], status_text=page["recipient_status"]
        )
    return _page(request, "review.html", error=None, **page)


@router.get("/s/documents/{document_id}")
def view_document(document_id: str, request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> str:
        s.require_consent(db, c)
        docs = {d.id: d for d in s.envelopes.documents(db, c.envelope.id)}
        if document_id not in docs:
            raise AuthenticationFailed()
        s.record_view(db, c, document_id)
        return docs[document_id].blob_key

    try:
        blob_key = _signer(rt, request, load)
    except (AuthenticationFailed, Conflict):
        return _denied(request)

    def chunks() -> Iterator[bytes]:
        yield from decrypt_stream(
            rt.blobs.get(blob_key), keyring=rt.keyring, aad=document_aad(document_id)
        )

    return StreamingResponse(
        chunks(),
        media_type="application/pdf",
        headers={
            "Content-Disposition": "inline",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/s/documents/{document_id}/pages/{page}")
def page_image(document_id: str, page: int, request: Request, rt: RuntimeDep) -> Response:
    """One page as PNG, for the review screen (viewing a page is an audit event too)."""

    def load(s: CeremonyService, db: Session, c: SignerContext) -> str:
        s.require_consent(db, c)
        docs = {d.id: d for d in s.envelopes.documents(db, c.envelope.id)}
        doc = docs.get(document_id)
        if doc is None or not 1 <= page <= len(doc.page_sizes["pages"]):
            raise AuthenticationFailed()
        s.record_view(db, c, document_id, page=page)
        return doc.blob_key

    try:
        blob_key = _signer(rt, request, load)
    except (AuthenticationFailed, Conflict):
        return _denied(request)
    pdf = decrypt_bytes(
        b"".join(rt.blobs.get(blob_key)), keyring=rt.keyring, aad=document_aad(document_id)
    )
    return Response(
        render_page_png(pdf, page), media_type="image/png", headers={"Cache-Control": "no-store"}
    )


@router.post("/s/sign")
async def sign(request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return _denied(request)
    form = await request.form()
    values = {k[len("field-") :]: str(v) for k, v in form.items() if k.startswith("field-")}
    kind = str(form.get("signature_kind", "typed"))
    try:
        strokes = json.loads(str(form.get("signature_strokes") or "[]"))
        if not isinstance(strokes, list):
            raise ValueError
    except ValueError:
        strokes = None
    signature = SignatureInput(
        kind=kind, text=str(form.get("signature_text", "")), strokes=strokes or []
    )

    def act(s: CeremonyService, db: Session, c: SignerContext) -> None:
        if strokes is None:
            raise ValidationError("the drawn signature could not be read; draw it again")
        s.sign(db, c, values=values, signature=signature)
        _remember_drawing(s, db, c, signature)  # only a signature that was accepted

    try:
        await run_in_threadpool(_signer, rt, request, _risk_look(request, signature))
        await run_in_threadpool(_signer, rt, request, act)
    except StepUpRequired:
        return await run_in_threadpool(_step_up_page, request, rt)
    except VerificationRequired:
        return RedirectResponse("/s/channels", status_code=303)
    except AuthenticationFailed:
        return _denied(request)
    except SealwrightError as exc:
        page = await run_in_threadpool(
            _signer, rt, request, lambda s, db, c: _review_context(s, db, c)
        )
        return _page(request, "review.html", status=400, error=str(exc), **page)
    return RedirectResponse("/s/done", status_code=303)


def _risk_look(
    request: Request, signature: SignatureInput
) -> Callable[[CeremonyService, Session, SignerContext], None]:
    """The orchestrator's look at "sign" (D4): the drawing's motion feeds the score, so a
    bot-like signature can raise the tier, and ``sign`` then finds channels outstanding."""
    info = request_signals(request)

    def look(s: CeremonyService, db: Session, c: SignerContext) -> None:
        if not RecipientAuth.from_json(c.recipient.auth).risk_based:
            return
        motion = None
        if signature.kind == "drawn" and signature.strokes:
            from sealwright.risk.motion import assess as motion_of

            identity = signer_identity(c.envelope.tenant_id, c.recipient.email)
            enrolled, previous = SignerHistory(s.rt).templates(db, identity)
            try:  # a drawing sign() will refuse anyway is not scored
                signature.validate()
                motion = motion_of(signature.strokes, previous=previous, enrolled=enrolled)
            except (ValidationError, ValueError, TypeError):
                motion = None
        Orchestrator(s.rt).observe(db, c, info, motion=motion)

    return look


def _remember_drawing(
    s: CeremonyService, db: Session, c: SignerContext, signature: SignatureInput
) -> None:
    """A risk-based signer's drawn signature leaves its encrypted motion template (D5):
    the first is the enrolled one, and every later drawing is checked against them all."""
    if signature.kind != "drawn" or not RecipientAuth.from_json(c.recipient.auth).risk_based:
        return
    from sealwright.risk.motion import template

    made = template(signature.strokes)
    if made is not None:
        SignerHistory(s.rt).remember(
            db,
            identity=signer_identity(c.envelope.tenant_id, c.recipient.email),
            recipient_id=c.recipient.id,
            template=made,
        )


def _step_up_page(request: Request, rt: RuntimeDep) -> Response:
    """Pressing "sign" with a stale verification: verify again with any required method
    (the refusal and its reason are already in the ledger)."""

    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        state = s.auth_state(db, c)
        return {
            "title": c.envelope.title,
            "max_age_minutes": max(1, s.max_auth_age(c.envelope) // 60),
            "methods": [
                {"name": m.value, "label": METHOD_LABELS[m], "url": METHOD_PAGES[m]}
                for m in state.required
                if m in s.methods
            ],
        }

    try:
        shown = _signer(rt, request, load)
    except AuthenticationFailed:
        return _denied(request)
    return _page(request, "step_up.html", status=401, **shown)


@router.post("/s/decline")
def decline(request: Request, rt: RuntimeDep, reason: Annotated[str, Form()] = "") -> Response:
    if not same_origin(request, rt):
        return _denied(request)
    try:
        _signer(rt, request, lambda s, db, c: s.decline(db, c, reason))
    except AuthenticationFailed:
        return _denied(request)
    except SealwrightError as exc:
        page = _signer(rt, request, lambda s, db, c: _review_context(s, db, c))
        return _page(request, "review.html", status=400, error=str(exc), **page)
    return RedirectResponse("/s/done", status_code=303)


@router.get("/s/done", response_class=HTMLResponse)
def done(request: Request, rt: RuntimeDep) -> Response:
    try:
        ctx = _signer(rt, request, lambda s, db, c: c)
    except AuthenticationFailed:
        return _denied(request)
    return _page(request, "done.html", title=ctx.envelope.title, status_text=ctx.recipient.status)
