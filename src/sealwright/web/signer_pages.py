"""What every signer page shares: templates, the session cookie, the same-origin check, the
unit of work around a signer's request, and the few answers a signer can get when something
is refused (one opaque "not valid" page, a lock-out page, a "verify again" page)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from sealwright.services.ceremony import CeremonyService
from sealwright.services.orchestrator import Orchestrator, RequestSignals
from sealwright.services.runtime import Runtime
from sealwright.services.signer_audit import SignerContext
from sealwright.services.signer_auth.policy import Method
from sealwright.services.signer_auth.step_up import AuthState
from sealwright.web.auth import deny, runtime
from sealwright.web.client_address import client_ip as client_ip

COOKIE = "sw_signer"
DEVICE_COOKIE = "sw_device"
_DEVICE = re.compile(r"[0-9a-f]{32}")
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
RuntimeDep = Annotated[Runtime, Depends(runtime)]
T = TypeVar("T")

#: The page of each method (where "verify" and "verify again" links lead).
METHOD_PAGES = {
    Method.EMAIL_OTP: "/s/otp",
    Method.SMS_OTP: "/s/sms",
    Method.ACCESS_CODE: "/s/access-code",
    Method.TOTP: "/s/totp",
    Method.PASSKEY: "/s/passkey",
    Method.OIDC: "/s/oidc",
}
METHOD_LABELS = {
    Method.EMAIL_OTP: "A code sent to your email",
    Method.SMS_OTP: "A code sent to your phone by text message",
    Method.ACCESS_CODE: "The access code the sender gave you",
    Method.TOTP: "A code from your authenticator app",
    Method.PASSKEY: "Your passkey (fingerprint, face, screen lock or security key)",
    Method.OIDC: "Signing in with your organisation's account",
}


def page(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, ctx, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def denied(request: Request) -> HTMLResponse:
    return page(request, "denied.html", status=403)


def throttled(request: Request, retry_after: int) -> HTMLResponse:
    response = page(request, "throttled.html", status=429, minutes=max(1, -(-retry_after // 60)))
    response.headers["Retry-After"] = str(retry_after)
    return response


def json_refusal(status: int, retry_after: int | None = None) -> JSONResponse:
    """The one answer of a JSON signer endpoint to any failure (401) or a lock-out (429)."""
    body = {"error": "too many attempts" if status == 429 else "not valid"}
    headers = {"Cache-Control": "no-store"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, headers=headers)


def device_id(request: Request) -> str | None:
    """The ``sw_device`` cookie (a random id, D1 device novelty), or the one just minted
    for this response by :func:`install_device_cookie`."""
    found = request.cookies.get(DEVICE_COOKIE, "")
    if _DEVICE.fullmatch(found):
        return found
    minted = getattr(request.state, "device_id", None)
    return minted if isinstance(minted, str) else None


def request_signals(request: Request) -> RequestSignals:
    return RequestSignals(
        ip=client_ip(request) or None,
        user_agent=request.headers.get("user-agent", "")[:500],
        accept_language=request.headers.get("accept-language", "")[:200],
        device_id=device_id(request),
    )


def install_device_cookie(app: FastAPI, rt: Runtime) -> None:
    """Signer pages without a valid ``sw_device`` cookie get one (path /s, HttpOnly,
    SameSite=Strict, a year): the id is minted before the page runs, so the page's risk
    observation already uses it."""

    @app.middleware("http")
    async def device_cookie(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/s/") or _DEVICE.fullmatch(
            request.cookies.get(DEVICE_COOKIE, "")
        ):
            response: Response = await call_next(request)
            return response
        minted = rt.random.token_bytes(16).hex()
        request.state.device_id = minted
        response = await call_next(request)
        response.set_cookie(
            DEVICE_COOKIE,
            minted,
            httponly=True,
            samesite="strict",
            path="/s",
            secure=rt.settings.public_url.startswith("https"),
            max_age=365 * 86400,
        )
        return response


def observing(
    request: Request, fn: Callable[[CeremonyService, Session, SignerContext], T]
) -> Callable[[CeremonyService, Session, SignerContext], T]:
    """``fn`` preceded by the risk orchestrator's look at this request (D4; a no-op for
    recipients that are not risk-based)."""
    info = request_signals(request)

    def run(s: CeremonyService, db: Session, c: SignerContext) -> T:
        Orchestrator(s.rt).observe(db, c, info)
        return fn(s, db, c)

    return run


def same_origin(request: Request, rt: Runtime) -> bool:
    """False (and an audit event) for a form POST another site made the browser send."""
    origin = request.headers.get("origin")
    host_url = f"{request.url.scheme}://{request.url.netloc}"
    if origin is None or origin.rstrip("/") in (host_url, rt.settings.public_url.rstrip("/")):
        return True
    deny(rt, None, request, f"cross-origin POST from {origin[:100]!r}")
    return False


def signer(
    rt: Runtime, request: Request, fn: Callable[[CeremonyService, Session, SignerContext], T]
) -> T:
    service = CeremonyService(rt)
    with rt.db.transaction() as session:
        ctx = service.resolve(session, request.cookies.get(COOKIE), client_ip(request))
        return fn(service, session, ctx)


def next_url(state: AuthState, ctx: SignerContext) -> str:
    """Where a signer goes next: the page of the one method still to pass, the list of
    several, the consent, or the review."""
    missing = state.missing
    if len(missing) == 1:
        return METHOD_PAGES[missing[0]]
    if missing:
        return "/s/verify"
    if ctx.session.consent_at is None:
        return "/s/consent"
    return "/s/review"


def set_session_cookie(response: Response, rt: Runtime, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/s",
        secure=rt.settings.public_url.startswith("https"),
        max_age=rt.settings.signer_session_ttl,
    )


def masked_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def masked_phone(phone: str | None) -> str:
    return f"{phone[:3]}•••{phone[-2:]}" if phone else ""
