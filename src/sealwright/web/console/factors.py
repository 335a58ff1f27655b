"""The second factor after SSO (B7): enrol one (TOTP or passkey) or pass one, before any
other console page. Every failure -- wrong code, replayed code, lock-out, a passkey that
does not verify -- gets the same answer; the ledger gets the reason.

Passing the second factor rotates the session token: the new cookie goes out with the
answer that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sealwright.errors import AuthenticationFailed
from sealwright.services import console_sessions
from sealwright.services.console_sessions import ConsoleContext
from sealwright.services.operator_factors import PASSKEY, TOTP, FactorService
from sealwright.services.runtime import Runtime
from sealwright.web.auth import runtime
from sealwright.web.console.guard import (
    COOKIE_PATH,
    SESSION_COOKIE,
    ConsoleRefusal,
    Stage,
    console_context,
    needs,
    record_denial,
)
from sealwright.web.console.render import page

# The guard on the router too: a route that forgot its context parameter is still checked.
router = APIRouter(
    prefix="/console", include_in_schema=False, dependencies=[Depends(console_context)]
)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Ctx = Annotated[ConsoleContext | None, Depends(console_context)]
T = TypeVar("T")
NOT_ACCEPTED = "That was not accepted. Check your authenticator and try again."
#: The most a browser's credential JSON may be (passkeys.MAX_CREDENTIAL_JSON, plus room).
MAX_BODY = 70 * 1024


def in_session(
    rt: Runtime,
    request: Request,
    ctx: ConsoleContext | None,
    fn: Callable[[Session, ConsoleContext], T],
) -> T:
    """Run ``fn`` in one unit of work on the session the guard let in, re-read in it."""
    assert ctx is not None  # the guard returns a context on every non-public route
    with rt.db.transaction() as db:
        found = console_sessions.resolve(rt, db, ctx.token)
        if found.context is not None:
            return fn(db, found.context)
    record_denial(rt, request, ctx, found.reason)
    raise ConsoleRefusal(401, "/console/login", drop_session=True)


def _passed(rt: Runtime, db: Session, ctx: ConsoleContext, method: str) -> str | None:
    """The rotated token when this attempt opened the session, else None."""
    if ctx.second_factor_passed:
        return None
    return console_sessions.second_factor_passed(rt, db, ctx, method)


def _with_cookie(response: Response, rt: Runtime, token: str | None) -> Response:
    if token is not None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path=COOKIE_PATH,
            httponly=True,
            secure=rt.settings.public_url.startswith("https"),
            samesite="strict",
        )
    return response


@router.get("/second-factor", response_class=HTMLResponse)
@needs(Stage.SIGNED_IN)
def second_factor(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    def load(db: Session, c: ConsoleContext) -> tuple[bool, set[str], bool]:
        kinds = {f.kind for f in FactorService.confirmed(db, c.operator.id)}
        return c.second_factor_passed, kinds, FactorService(rt).locked(c)

    passed, kinds, _locked = in_session(rt, request, ctx, load)
    if passed:
        return RedirectResponse("/console", status_code=303)
    if not kinds:
        return page(request, "console/enrol.html", ctx=ctx, adding=False)
    return page(
        request, "console/verify.html", ctx=ctx, totp=TOTP in kinds, passkey=PASSKEY in kinds
    )


def _verify_page(request: Request, rt: Runtime, ctx: ConsoleContext | None) -> Response:
    kinds = in_session(
        rt,
        request,
        ctx,
        lambda db, c: {f.kind for f in FactorService.confirmed(db, c.operator.id)},
    )
    return page(
        request,
        "console/verify.html",
        status=400,
        ctx=ctx,
        totp=TOTP in kinds,
        passkey=PASSKEY in kinds,
        error=NOT_ACCEPTED,
    )


@router.post("/verify/totp")
@needs(Stage.SIGNED_IN)
def verify_totp(
    request: Request, rt: RuntimeDep, ctx: Ctx, code: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    def act(db: Session, c: ConsoleContext) -> tuple[bool, str | None]:
        if c.second_factor_passed:
            return True, None
        ok = FactorService(rt).verify_totp(db, c, code.strip())
        return ok, _passed(rt, db, c, TOTP) if ok else None

    ok, token = in_session(rt, request, ctx, act)
    if not ok:
        return _verify_page(request, rt, ctx)
    return _with_cookie(RedirectResponse("/console", status_code=303), rt, token)


# -- TOTP enrolment ------------------------------------------------------------------------


@router.post("/factor/totp", response_class=HTMLResponse)
@needs(Stage.SIGNED_IN)
def totp_begin(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    try:
        enrolment = in_session(rt, request, ctx, FactorService(rt).begin_totp)
    except AuthenticationFailed:
        return page(request, "console/denied.html", status=403, ctx=ctx)
    return page(
        request,
        "console/totp_enrol.html",
        ctx=ctx,
        qr_svg=enrolment.qr_svg,
        secret=enrolment.secret,
        error=None,
    )


@router.post("/factor/totp/confirm")
@needs(Stage.SIGNED_IN)
def totp_confirm(
    request: Request, rt: RuntimeDep, ctx: Ctx, code: Annotated[str, Form(max_length=20)] = ""
) -> Response:
    def act(db: Session, c: ConsoleContext) -> tuple[bool, str | None]:
        ok = FactorService(rt).confirm_totp(db, c, code.strip())
        return ok, _passed(rt, db, c, TOTP) if ok else None

    try:
        ok, token = in_session(rt, request, ctx, act)
    except AuthenticationFailed:
        return page(request, "console/denied.html", status=403, ctx=ctx)
    if not ok:
        # The secret is not shown again: enrolment starts over with a new one.
        return page(request, "console/enrol.html", status=400, ctx=ctx, error=NOT_ACCEPTED)
    return _with_cookie(RedirectResponse("/console", status_code=303), rt, token)


# -- passkeys (JSON, called by /static/console.js) -----------------------------------------


async def _credential(request: Request) -> str | None:
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _options(options_json: str) -> Response:
    return Response(
        options_json, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _refused_json() -> JSONResponse:
    return JSONResponse({"ok": False, "error": NOT_ACCEPTED}, status_code=400)


@router.post("/factor/passkey/options")
@needs(Stage.SIGNED_IN)
def passkey_register_options(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    try:
        return _options(in_session(rt, request, ctx, FactorService(rt).passkey_registration))
    except AuthenticationFailed:
        return _refused_json()


@router.post("/factor/passkey")
@needs(Stage.SIGNED_IN)
async def passkey_register(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    credential = await _credential(request)

    def act(db: Session, c: ConsoleContext) -> tuple[bool, str | None]:
        ok = FactorService(rt).register_passkey(db, c, credential or "")
        return ok, _passed(rt, db, c, PASSKEY) if ok else None

    return await _json_outcome(rt, request, ctx, act)


@router.post("/verify/passkey/options")
@needs(Stage.SIGNED_IN)
def passkey_verify_options(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    try:
        return _options(in_session(rt, request, ctx, FactorService(rt).passkey_authentication))
    except AuthenticationFailed:
        return _refused_json()


@router.post("/verify/passkey")
@needs(Stage.SIGNED_IN)
async def passkey_verify(request: Request, rt: RuntimeDep, ctx: Ctx) -> Response:
    credential = await _credential(request)

    def act(db: Session, c: ConsoleContext) -> tuple[bool, str | None]:
        if c.second_factor_passed:
            return True, None
        ok = FactorService(rt).verify_passkey(db, c, credential or "")
        return ok, _passed(rt, db, c, PASSKEY) if ok else None

    return await _json_outcome(rt, request, ctx, act)


async def _json_outcome(
    rt: Runtime,
    request: Request,
    ctx: ConsoleContext | None,
    act: Callable[[Session, ConsoleContext], tuple[bool, str | None]],
) -> Response:
    from fastapi.concurrency import run_in_threadpool

    try:
        ok, token = await run_in_threadpool(in_session, rt, request, ctx, act)
    except AuthenticationFailed:
        return _refused_json()
    if not ok:
        return _refused_json()
    body: dict[str, Any] = {"ok": True, "next": "/console"}
    return _with_cookie(JSONResponse(body), rt, token)
