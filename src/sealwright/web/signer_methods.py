"""Signer pages for the authentication methods (B5) and step-up (B6): the list of methods
still to pass, one page per method, TOTP enrolment with its QR code, passkey registration
and use (static/passkey.js around ``navigator.credentials``), OIDC redirect and return.

Wrong, expired and unknown codes all get the same page with the same status; a lock-out
gets 429 with Retry-After; anything else that fails authentication gets the one "not
valid" page. Which it was is in the ledger only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sealwright.errors import AuthenticationFailed, Conflict, RateLimited
from sealwright.services.ceremony import CeremonyService
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.oidc import Oidc, Outcome
from sealwright.services.signer_auth.passkey import Passkey
from sealwright.services.signer_auth.policy import Method, RecipientAuth
from sealwright.services.signer_auth.totp import Totp
from sealwright.web.signer_pages import (
    METHOD_LABELS,
    METHOD_PAGES,
    RuntimeDep,
    denied,
    json_refusal,
    masked_email,
    masked_phone,
    next_url,
    page,
    same_origin,
    signer,
    throttled,
)

router = APIRouter(include_in_schema=False)
CodeForm = Annotated[str, Form()]
MAX_JSON = 64 * 1024
NOT_VALID = "That code is not valid. Check it and try again."

#: How each code page reads (email OTP keeps the ids the first version had).
CODE_PAGES: dict[Method, dict[str, Any]] = {
    Method.EMAIL_OTP: {
        "heading": "Confirm it is you",
        "intro": "We sent a six-digit code to {email}. Enter it below.",
        "resend": "/s/otp/resend",
        "numeric": True,
    },
    Method.SMS_OTP: {
        "heading": "Enter the code we texted you",
        "intro": "We sent a six-digit code by text message to {phone}. Enter it below.",
        "resend": "/s/sms/send",
        "numeric": True,
    },
    Method.ACCESS_CODE: {
        "heading": "Enter your access code",
        "intro": "The sender gave you an access code separately (not by email). Enter it below.",
        "resend": None,
        "numeric": False,
    },
    Method.TOTP: {
        "heading": "Enter the code from your authenticator app",
        "intro": "Open your authenticator app and enter the six-digit code it shows now.",
        "resend": None,
        "numeric": True,
    },
}


def code_page(
    request: Request,
    ctx: SignerContext,
    method: Method,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    spec = CODE_PAGES[method]
    return page(
        request,
        "code.html",
        status=status,
        title=ctx.envelope.title,
        heading=spec["heading"],
        intro=spec["intro"].format(
            email=masked_email(ctx.recipient.email),
            phone=masked_phone(RecipientAuth.from_json(ctx.recipient.auth).phone),
        ),
        action=METHOD_PAGES[method],
        resend=spec["resend"],
        numeric=spec["numeric"],
        error=error,
    )


def guarded(request: Request, fn: Callable[[], Response]) -> Response:
    try:
        return fn()
    except RateLimited as exc:
        return throttled(request, exc.retry_after)
    except AuthenticationFailed:
        return denied(request)


def _state_url(s: CeremonyService, db: Session, c: SignerContext) -> str:
    return next_url(s.auth_state(db, c), c)


def submit_code(request: Request, rt: RuntimeDep, method: Method, code: str) -> Response:
    """The shape of every code POST: check, then go on, or show the same form again."""
    if not same_origin(request, rt):
        return denied(request)

    def act(s: CeremonyService, db: Session, c: SignerContext) -> tuple[bool, SignerContext, str]:
        ok = s.method(c, method.value).finish(db, c, {"code": code})
        return ok, c, _state_url(s, db, c) if ok else ""

    def run() -> Response:
        ok, ctx, url = signer(rt, request, act)
        if ok:
            return RedirectResponse(url, status_code=303)
        if ctx.session.locked_at is not None:
            return denied(request)
        return code_page(request, ctx, method, status=400, error=NOT_VALID)

    return guarded(request, run)


def _show_code_page(request: Request, rt: RuntimeDep, method: Method) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> SignerContext:
        s.method(c, method.value)  # only the recipient's own methods have a page
        return c

    return guarded(request, lambda: code_page(request, signer(rt, request, load), method))


# -- the list of methods ---------------------------------------------------------------------


@router.get("/s/verify", response_class=HTMLResponse)
def verify_list(request: Request, rt: RuntimeDep, again: int = 0) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        state = s.auth_state(db, c)
        return {
            "title": c.envelope.title,
            "again": bool(again),
            "methods": [
                {
                    "name": m.value,
                    "label": METHOD_LABELS[m],
                    "url": METHOD_PAGES[m],
                    "passed": m in state.latest,
                }
                for m in state.required
            ],
            "complete": state.complete,
            "next": next_url(state, c),
        }

    return guarded(request, lambda: page(request, "verify.html", **signer(rt, request, load)))


# -- email OTP -------------------------------------------------------------------------------


@router.get("/s/otp", response_class=HTMLResponse)
def otp_form(request: Request, rt: RuntimeDep) -> Response:
    return _show_code_page(request, rt, Method.EMAIL_OTP)


@router.post("/s/otp")
def otp_submit(request: Request, rt: RuntimeDep, code: CodeForm = "") -> Response:
    return submit_code(request, rt, Method.EMAIL_OTP, code)


@router.post("/s/otp/resend")
def otp_resend(request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return denied(request)

    def run() -> Response:
        signer(rt, request, lambda s, db, c: s.method(c, Method.EMAIL_OTP.value).begin(db, c))
        return RedirectResponse("/s/otp", status_code=303)

    return guarded(request, run)


# -- access code -----------------------------------------------------------------------------


@router.get("/s/access-code", response_class=HTMLResponse)
def access_code_form(request: Request, rt: RuntimeDep) -> Response:
    return _show_code_page(request, rt, Method.ACCESS_CODE)


@router.post("/s/access-code")
def access_code_submit(request: Request, rt: RuntimeDep, code: CodeForm = "") -> Response:
    return submit_code(request, rt, Method.ACCESS_CODE, code)


# -- TOTP ------------------------------------------------------------------------------------


def _totp(s: CeremonyService, c: SignerContext) -> Totp:
    method = s.method(c, Method.TOTP.value)
    assert isinstance(method, Totp)
    return method


@router.get("/s/totp", response_class=HTMLResponse)
def totp_form(request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> tuple[bool, SignerContext]:
        return _totp(s, c).enrolled(db, c), c

    def run() -> Response:
        enrolled, ctx = signer(rt, request, load)
        if not enrolled:
            return RedirectResponse("/s/totp/enrol", status_code=303)
        return code_page(request, ctx, Method.TOTP)

    return guarded(request, run)


@router.post("/s/totp")
def totp_submit(request: Request, rt: RuntimeDep, code: CodeForm = "") -> Response:
    return submit_code(request, rt, Method.TOTP, code)


def _other_passed(s: CeremonyService, db: Session, c: SignerContext, own: Method) -> bool:
    return any(m is not own for m in s.auth_state(db, c).latest)


@router.get("/s/totp/enrol", response_class=HTMLResponse)
def totp_enrol_form(request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any] | None:
        if not _other_passed(s, db, c, Method.TOTP):
            return None
        enrolment = _totp(s, c).start_enrolment(db, c)
        return {"title": c.envelope.title, "qr": enrolment.qr_svg, "secret": enrolment.secret}

    def run() -> Response:
        try:
            shown = signer(rt, request, load)
        except Conflict:
            return RedirectResponse("/s/totp", status_code=303)
        if shown is None:  # enrol only after another method: send them to the list first
            return RedirectResponse("/s/verify", status_code=303)
        return page(request, "totp_enrol.html", error=None, **shown)

    return guarded(request, run)


@router.post("/s/totp/enrol")
def totp_enrol_confirm(request: Request, rt: RuntimeDep, code: CodeForm = "") -> Response:
    if not same_origin(request, rt):
        return denied(request)

    def act(s: CeremonyService, db: Session, c: SignerContext) -> tuple[bool, str, dict[str, Any]]:
        if _totp(s, c).confirm_enrolment(db, c, code):
            return True, _state_url(s, db, c), {}
        return False, "", {"title": c.envelope.title}

    def run() -> Response:
        ok, url, shown = signer(rt, request, act)
        if ok:
            return RedirectResponse(url, status_code=303)
        # Show the same QR again (same secret while the enrolment is pending).
        again = signer(
            rt,
            request,
            lambda s, db, c: _totp(s, c).start_enrolment(db, c),
        )
        return page(
            request,
            "totp_enrol.html",
            status=400,
            qr=again.qr_svg,
            secret=again.secret,
            error=NOT_VALID,
            **shown,
        )

    return guarded(request, run)


# -- passkeys --------------------------------------------------------------------------------


def _passkey(s: CeremonyService, c: SignerContext) -> Passkey:
    method = s.method(c, Method.PASSKEY.value)
    assert isinstance(method, Passkey)
    return method


@router.get("/s/passkey", response_class=HTMLResponse)
def passkey_page(request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        return {
            "title": c.envelope.title,
            "registered": bool(_passkey(s, c).registered(db, c)),
            "can_register": _other_passed(s, db, c, Method.PASSKEY),
        }

    return guarded(request, lambda: page(request, "passkey.html", **signer(rt, request, load)))


async def _json_body(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    if len(body) > MAX_JSON:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def _json_call(request: Request, fn: Callable[[], dict[str, Any]]) -> Response:
    try:
        result = await run_in_threadpool(fn)
    except RateLimited as exc:
        return json_refusal(429, exc.retry_after)
    except (AuthenticationFailed, Conflict):
        return json_refusal(401)
    if not result.get("ok", True):
        return json_refusal(401)
    return JSONResponse(result, headers={"Cache-Control": "no-store"})


@router.post("/s/passkey/options")
async def passkey_options(request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return json_refusal(401)
    body = await _json_body(request) or {}
    register = body.get("purpose") == "register"

    def act(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        if register:
            return {"options": _passkey(s, c).registration_options(db, c)}
        begun = _passkey(s, c).begin(db, c)
        if not begun.get("registered"):
            return {"ok": False}
        return {"options": begun["options"]}

    return await _json_call(request, lambda: signer(rt, request, act))


@router.post("/s/passkey/verify")
async def passkey_verify(request: Request, rt: RuntimeDep) -> Response:
    return await _passkey_answer(request, rt, register=False)


@router.post("/s/passkey/register")
async def passkey_register(request: Request, rt: RuntimeDep) -> Response:
    return await _passkey_answer(request, rt, register=True)


async def _passkey_answer(request: Request, rt: RuntimeDep, *, register: bool) -> Response:
    if not same_origin(request, rt):
        return json_refusal(401)
    body = await _json_body(request)
    credential = json.dumps(body.get("credential")) if body else ""

    def act(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        method = _passkey(s, c)
        ok = (
            method.register(db, c, credential)
            if register
            else method.finish(db, c, {"credential": credential})
        )
        return {"ok": ok, "next": _state_url(s, db, c) if ok else None}

    return await _json_call(request, lambda: signer(rt, request, act))


# -- OIDC ------------------------------------------------------------------------------------


def _oidc(s: CeremonyService, c: SignerContext) -> Oidc:
    method = s.method(c, Method.OIDC.value)
    assert isinstance(method, Oidc)
    return method


@router.get("/s/oidc", response_class=HTMLResponse)
def oidc_page(request: Request, rt: RuntimeDep) -> Response:
    def load(s: CeremonyService, db: Session, c: SignerContext) -> dict[str, Any]:
        _oidc(s, c)
        return {"title": c.envelope.title, "email": masked_email(c.recipient.email)}

    return guarded(request, lambda: page(request, "oidc.html", **signer(rt, request, load)))


@router.post("/s/oidc/start")
def oidc_start(request: Request, rt: RuntimeDep) -> Response:
    if not same_origin(request, rt):
        return denied(request)

    def run() -> Response:
        begun = signer(rt, request, lambda s, db, c: _oidc(s, c).begin(db, c))
        return RedirectResponse(str(begun["redirect"]), status_code=303)

    return guarded(request, run)


@router.get("/s/oidc/callback", response_class=HTMLResponse)
def oidc_callback(request: Request) -> Response:
    """The provider sends the browser here from its own site, so the SameSite=Strict
    session cookie is not sent: this page posts the answer on from our own origin (by
    static/oidc-return.js, or a button without JavaScript), which brings the cookie back
    and ties the login to the browser that started it."""
    q = request.query_params
    fields = {k: q.get(k, "")[:4096] for k in ("code", "state", "iss", "error")}
    return page(request, "oidc_return.html", title=None, fields=fields)


@router.post("/s/oidc/finish")
def oidc_finish(
    request: Request,
    rt: RuntimeDep,
    code: CodeForm = "",
    state: CodeForm = "",
    iss: CodeForm = "",
) -> Response:
    if not same_origin(request, rt):
        return denied(request)

    def run() -> Response:
        taken = signer(rt, request, lambda s, db, c: _oidc(s, c).take(db, c))
        # The provider is called with no transaction open (no lock held meanwhile).
        assert rt.signer_oidc is not None  # _oidc found the method, so it is configured
        outcome: Outcome = Oidc(rt, rt.signer_oidc).exchange(
            taken, {"code": code, "state": state, "iss": iss}
        )

        def conclude(s: CeremonyService, db: Session, c: SignerContext) -> tuple[bool, str]:
            ok = _oidc(s, c).conclude(db, c, outcome)
            return ok, _state_url(s, db, c) if ok else ""

        ok, url = signer(rt, request, conclude)
        if not ok:
            return denied(request)
        return RedirectResponse(url, status_code=303)

    return guarded(request, run)
