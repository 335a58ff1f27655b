"""Deny-by-default access control for every console route (B2, B7).

Each route declares what it needs with ``@needs(...)`` -- a :class:`Permission`, or one of
the two stages before permissions apply (``PUBLIC`` for the sign-in pages, ``SIGNED_IN``
for the second-factor pages and sign-out). The one guard, a dependency of every console
router, reads that declaration from the matched route itself, so the declaration *is* the
check: a route without one is refused, and a test walks the app's route table to call
every route as every role.

The guard resolves the session cookie, checks the CSRF token on every POST (a form field,
or a header for the passkey calls), then the stage and the permission. Each refusal is a
``console:access:denied`` event (in its own transaction) and one opaque answer; each grant
of a sensitive permission is a ``console:access:granted`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from sealwright.domain.events import EventTag
from sealwright.identity.roles import SENSITIVE, Permission
from sealwright.services.console_sessions import ConsoleContext, csrf_matches, resolve, touch
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Operator
from sealwright.web.auth import UNATTRIBUTED, runtime

SESSION_COOKIE = "sw_console"
LOGIN_COOKIE = "sw_console_login"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
NEED = "__console_needs__"


class Stage(Enum):
    #: No session needed: the sign-in pages.
    PUBLIC = "public"
    #: SSO passed; the second factor may still be due (its own pages, sign-out).
    SIGNED_IN = "signed-in"


Need = Permission | Stage
F = TypeVar("F", bound=Callable[..., Any])


def needs(need: Need) -> Callable[[F], F]:
    """Declare what a console route needs. Put it under the router's decorator."""

    def mark(fn: F) -> F:
        setattr(fn, NEED, need)
        return fn

    return mark


def declared_need(endpoint: Callable[..., Any]) -> Need | None:
    need = getattr(endpoint, NEED, None)
    return need if isinstance(need, Permission | Stage) else None


class ConsoleRefusal(Exception):
    """Answered by ``web.console.refusal_response``: a redirect (to sign in, to the second
    factor) or the one "not allowed" page. Its audit event is already committed."""

    def __init__(self, status: int, redirect: str | None = None, *, drop_session: bool = False):
        super().__init__(status)
        self.status = status
        self.redirect = redirect
        self.drop_session = drop_session


async def console_context(request: Request) -> ConsoleContext | None:
    """The guard (see the module docstring). Returns the session's context, or None on a
    public route."""
    cached = getattr(request.state, "console", _UNSET)
    if cached is None or isinstance(cached, ConsoleContext):
        return cached
    rt = runtime(request)
    route = request.scope.get("route")
    need = declared_need(route.endpoint) if route is not None else None
    if need is None:
        await _deny(rt, request, None, "console route declares no permission")
        raise ConsoleRefusal(403)
    if need is Stage.PUBLIC:
        request.state.console = None
        return None
    presented = None
    if request.method == "POST":
        presented = request.headers.get(CSRF_HEADER)
        if presented is None and _is_form(request):
            value = (await request.form()).get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    ctx = await run_in_threadpool(_check, rt, request, need, presented)
    request.state.console = ctx
    return ctx


_UNSET = object()


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _check(rt: Runtime, request: Request, need: Need, presented: str | None) -> ConsoleContext:
    page = request.method == "GET"
    with rt.db.transaction() as db:
        found = resolve(rt, db, request.cookies.get(SESSION_COOKIE))
        ctx = found.context
        if ctx is None:
            _record(rt, db, request, found.operator, found.reason)
            refusal = ConsoleRefusal(401, "/console/login" if page else None, drop_session=True)
        elif request.method == "POST" and not csrf_matches(ctx.token, presented):
            _record(rt, db, request, ctx.operator, "csrf token missing or wrong")
            refusal = ConsoleRefusal(403)
        elif need is Stage.SIGNED_IN:
            touch(rt, ctx)
            return ctx
        elif not ctx.second_factor_passed:
            _record(rt, db, request, ctx.operator, "second factor not passed")
            refusal = ConsoleRefusal(401, "/console/second-factor" if page else None)
        elif not isinstance(need, Permission) or need not in ctx.permissions:
            lacking = need if isinstance(need, Permission) else None
            _record(rt, db, request, ctx.operator, f"role lacks {need.value}", lacking)
            refusal = ConsoleRefusal(403)
        else:
            if need in SENSITIVE:
                rt.audit.append(
                    db,
                    EventTag.CONSOLE_ACCESS_GRANTED,
                    tenant=ctx.tenant_id,
                    actor=ctx.actor,
                    data=_request_data(request, need=need.value, session=ctx.row.id),
                )
            touch(rt, ctx)
            return ctx
    # The session's last-seen time and the denial event are committed: then refuse.
    raise refusal


def _request_data(request: Request, **extra: str) -> dict[str, str]:
    return {"method": request.method, "path": request.url.path, **extra}


def _record(
    rt: Runtime,
    db: Any,
    request: Request,
    operator: Operator | None,
    reason: str,
    need: Permission | None = None,
) -> None:
    data = _request_data(request, reason=reason)
    if need is not None:
        data["need"] = need.value
    if operator is not None:
        data["operator"] = operator.id
    rt.audit.append(
        db,
        EventTag.CONSOLE_ACCESS_DENIED,
        tenant=operator.tenant_id if operator is not None else UNATTRIBUTED,
        actor=f"operator:{operator.id}" if operator is not None else "anonymous",
        data=data,
    )


async def _deny(rt: Runtime, request: Request, operator: Operator | None, reason: str) -> None:
    def write() -> None:
        with rt.db.transaction() as db:
            _record(rt, db, request, operator, reason)

    await run_in_threadpool(write)


def record_denial(
    rt: Runtime, request: Request, ctx: ConsoleContext | None, reason: str, target: str = ""
) -> None:
    """A denial decided by a handler (an object outside the operator's tenant), in its own
    transaction."""
    with rt.db.transaction() as db:
        data = _request_data(request, reason=reason)
        if target:
            data["target"] = target
        if ctx is not None:
            data["operator"] = ctx.operator.id
        rt.audit.append(
            db,
            EventTag.CONSOLE_ACCESS_DENIED,
            tenant=ctx.tenant_id if ctx is not None else UNATTRIBUTED,
            actor=ctx.actor if ctx is not None else "anonymous",
            data=data,
        )
