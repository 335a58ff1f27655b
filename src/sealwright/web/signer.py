"""Server-rendered signer pages (A4, B5): usable without JavaScript, except the drawing pad.

The signer's session lives in an HttpOnly, SameSite=Strict cookie scoped to ``/s``; every
POST also checks the Origin header when the browser sends one. Authentication failures all
render the same page: no oracle about which check failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from sealwright.domain.signature import MEANING, SignatureInput
from sealwright.errors import AuthenticationFailed, Conflict, SealwrightError, ValidationError
from sealwright.keys.aead import decrypt_bytes, decrypt_stream
from sealwright.sealing.preview import render_page_png
from sealwright.services.ceremony import CeremonyService
from sealwright.services.envelopes import document_aad
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.web.auth import deny, runtime

router = APIRouter(include_in_schema=False)
COOKIE = "sw_signer"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
RuntimeDep = Annotated[Runtime, Depends(runtime)]
T = TypeVar("T")

DISCLOSURE = (
    "By continuing you agree to use electronic records and signatures for this transaction "
    "(ESIGN Act, 15 U.S.C. § 7001; UETA). Your electronic signature has the same legal effect "
    "as a handwritten one. You may ask the sender for a paper copy, and you may withdraw this "
    "consent before you sign by closing this page and telling the sender. To view and keep "
    "these records you need a device that can display PDF files."
)


def _page(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, ctx, status_code=status)


def _denied(request: Request) -> HTMLResponse:
    return _page(request, "denied.html", status=403)


def _same_origin(request: Request, rt: Runtime) -> bool:
    """False (and an audit event) for a form POST another site made the browser send."""
    origin = request.headers.get("origin")
    host_url = f"{request.url.scheme}://{request.url.netloc}"
    if origin is None or origin.rstrip("/") in (host_url, rt.settings.public_url.rstrip("/")):
        return True
    deny(rt, None, request, f"cross-origin POST from {origin[:100]!r}")
    return False


def _signer(
    rt: Runtime, request: Request, fn: Callable[[CeremonyService, Session, SignerContext], T]
) -> T:
    service = CeremonyService(rt)
    with rt.db.transaction() as session:
        ctx = service.resolve(session, request.cookies.get(COOKIE))
        return fn(service, session, ctx)


def _masked(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# -- one-time link -------------------------------------------------------------------------


@router.get("/sign/{token}", response_class=HTMLResponse)
def landing(token: str, request: Request, rt: RuntimeDep) -> HTMLResponse:
    try:
        with rt.db.transaction() as session:
            recipient, env = CeremonyService(rt).peek_link(session, token)
            return _page(request, "landing.html", title=env.title, name=recipient.name, token=token)
    except AuthenticationFailed:
        return _denied(request)


@router.post("/sign/{token}")
def redeem(token: str, request: Request, rt: RuntimeDep) -> Response:
    if not _same_origin(request, rt):
        return _denied(request)
    try:
        with rt.db.transaction() as session:
            session_token = CeremonyService(rt).redeem_link(session, token)
    except AuthenticationFailed:
        return _denied(request)
    response = RedirectResponse("/s/otp", status_code=303)
    response.set_cookie(
        COOKIE,
        session_token,
        httponly=True,
        samesite="strict",
        path="/s",
        secure=rt.settings.public_url.startswith("https"),
        max_age=rt.settings.signer_session_ttl,
    )
    return response


# -- email OTP -----------------------------------------------------------------------------


@router.get("/s/otp", response_class=HTMLResponse)
def otp_form(request: Request, rt: RuntimeDep) -> Response:
    try:
        ctx = _signer(rt, request, lambda s, db, c: c)
    except AuthenticationFailed:
        return _denied(request)
    if ctx.session.otp_verified_at is not None:
        return RedirectResponse("/s/consent", status_code=303)
    return _page(
        request,
        "otp.html",
        title=ctx.envelope.title,
        email=_masked(ctx.recipient.email),
        error=None,
    )


@router.post("/s/otp")
def otp_submit(request: Request, rt: RuntimeDep, code: Annotated[str, Form()] = "") -> Response:
    if not _same_origin(request, rt):
        return _denied(request)
    try:
        ok, ctx = _signer(rt, request, lambda s, db, c: (s.otp.verify(db, c, code), c))
    except AuthenticationFailed:
        return _denied(request)
    if ok:
        return RedirectResponse("/s/consent", status_code=303)
    if ctx.session.locked_at is not None:
        return _denied(request)
    return _page(
        request,
        "otp.html",
        status=400,
        title=ctx.envelope.title,
        email=_masked(ctx.recipient.email),
        error="That code is not valid. Check the latest email and try again.",
    )


@router.post("/s/otp/resend")
def otp_resend(request: Request, rt: RuntimeDep) -> Response:
    if not _same_origin(request, rt):
        return _denied(request)
    try:
        _signer(rt, request, lambda s, db, c: s.otp.send(db, c))
    except AuthenticationFailed:
        return _denied(request)
    return RedirectResponse("/s/otp", status_code=303)


# -- consent, review, sign -----------------------------------------------------------------


def _verified(s: CeremonyService, db: Session, c: SignerContext) -> SignerContext:
    s.require_verified(c)
    return c


@router.get("/s/consent", response_class=HTMLResponse)
def consent_form(request: Request, rt: RuntimeDep) -> Response:
    try:
        ctx = _signer(rt, request, _verified)
    except AuthenticationFailed:
        return _denied(request)
    if ctx.session.consent_at is not None:
        return RedirectResponse("/s/review", status_code=303)
    return _page(
        request, "consent.html", title=ctx.envelope.title, disclosure=DISCLOSURE, error=None
    )


@router.post("/s/consent")
def consent_submit(
    request: Request, rt: RuntimeDep, agree: Annotated[str, Form()] = ""
) -> Response:
    if not _same_origin(request, rt):
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
    }


@router.get("/s/review", response_class=HTMLResponse)
def review(request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        s.require_consent(c)
        page = _review_context(s, db, c)
        if c.recipient.role == "viewer":
            s.acknowledge(db, c)
            page["viewer"] = True
        return page

    try:
        page = _signer(rt, request, load)
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
        s.require_consent(c)
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
        s.require_consent(c)
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
    if not _same_origin(request, rt):
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

    from fastapi.concurrency import run_in_threadpool

    try:
        await run_in_threadpool(_signer, rt, request, act)
    except AuthenticationFailed:
        return _denied(request)
    except SealwrightError as exc:
        page = await run_in_threadpool(
            _signer, rt, request, lambda s, db, c: _review_context(s, db, c)
        )
        return _page(request, "review.html", status=400, error=str(exc), **page)
    return RedirectResponse("/s/done", status_code=303)


@router.post("/s/decline")
def decline(request: Request, rt: RuntimeDep, reason: Annotated[str, Form()] = "") -> Response:
    if not _same_origin(request, rt):
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
