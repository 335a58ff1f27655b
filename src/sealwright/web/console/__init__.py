"""The operator console (B7): OIDC SSO, a required second factor, roles with least
privilege. Server-rendered pages under ``/console``; ``install(app)`` mounts them.

    guard.py     what each route needs (``@needs``) and the one check that enforces it
    signin.py    SSO sign-in, callback, sign-out
    factors.py   second factor: TOTP and passkey enrolment and verification
    pages.py     home, envelopes (void, evidence), audit log
    reviews.py   the review queue: escalations and assistance requests, decisions (C5, C7)
    admin.py     operators and API clients (owners)
    render.py    templates, navigation
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from sealwright.web.console import admin, factors, pages, reviews, signin
from sealwright.web.console.guard import COOKIE_PATH, SESSION_COOKIE, ConsoleRefusal
from sealwright.web.console.render import page

ROUTERS = (signin.router, factors.router, pages.router, reviews.router, admin.router)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(ConsoleRefusal, refusal_response)  # type: ignore[arg-type]


async def refusal_response(request: Request, exc: ConsoleRefusal) -> Response:
    response: Response
    if exc.redirect is not None:
        response = RedirectResponse(exc.redirect, status_code=303)
    else:
        response = page(request, "console/denied.html", status=exc.status)
    if exc.drop_session:
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    response.headers["Cache-Control"] = "no-store"
    return response
