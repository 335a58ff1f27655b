"""The console's authorisation matrix, generated from the app's own route table: every
``/console`` route declares what it needs, and every role lacking it -- and anyone without
a session, or with a session that has not passed the second factor -- is refused with a
``console:access:denied`` event and changes nothing. A route added later is covered
without touching this file."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from sealwright.identity.roles import ROLE_PERMISSIONS, SENSITIVE, Permission, Role
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Envelope, Operator, OperatorFactor
from sealwright.web.app import create_app
from sealwright.web.console.guard import Stage, declared_need
from tests.integration.console_world import ROLE_ACCOUNT, Browser, add, browsers, start_idp
from tests.integration.helpers import events, new_client
from tests.support.oidc import RunningProvider, oidc_provider_factory

__all__ = ["browsers", "oidc_provider_factory"]

Browsers = Callable[[], Browser]
#: Routes anyone may call. Adding one here is a decision to review.
PUBLIC = {("GET", "/console/login"), ("GET", "/console/login/start"), ("GET", "/console/callback")}
PLACEHOLDER = "0123456789abcdef0123456789abcdef"


def console_routes(rt: Runtime) -> list[tuple[str, str, object]]:
    """(method, path, need) of every console route of the app as built (FastAPI keeps
    included routers nested; ``iter_route_contexts`` walks them)."""
    app = create_app(rt, start_worker=False)
    out = []
    for route in iter_route_contexts(app.routes):
        if route.path.startswith("/console") and route.endpoint is not None:
            for method in sorted(route.methods or ()):
                out.append((method, route.path, declared_need(route.endpoint)))
    return out


def _call(b: Browser, method: str, path: str) -> int:
    url = re.sub(r"\{[^}]+\}", PLACEHOLDER, path)
    if method == "GET":
        return b.get(url).status_code
    return b.post(url, data={"reason": "x", "role": "owner", "code": "000000x"}).status_code


def _state(rt: Runtime) -> tuple[object, ...]:
    with rt.db.transaction() as db:
        return (
            sorted((o.id, o.roles, o.disabled_at) for o in db.execute(select(Operator)).scalars()),
            sorted((e.id, e.status) for e in db.execute(select(Envelope)).scalars()),
            db.execute(select(OperatorFactor.id)).scalars().all(),
        )


def test_every_console_route_declares_what_it_needs(runtime: Runtime) -> None:
    routes = console_routes(runtime)
    assert len(routes) >= 20
    for method, path, need in routes:
        assert need is not None, f"{method} {path} declares nothing"
        if need is Stage.PUBLIC:
            assert (method, path) in PUBLIC, f"{method} {path} is public"
    assert {(m, p) for m, p, n in routes if n is Stage.PUBLIC} == PUBLIC


@pytest.fixture
def signed_in(
    runtime: Runtime,
    oidc_provider_factory: Callable[..., RunningProvider],
    browsers: Browsers,
) -> dict[Role, Browser]:
    idp = start_idp(runtime, oidc_provider_factory)
    new_client(runtime, "acme")
    out = {}
    for role, account in ROLE_ACCOUNT.items():
        add(runtime, "acme", account, role, issuer=idp.issuer)
        b = browsers()
        b.sign_in(account)
        out[role] = b
    return out


def test_each_role_is_refused_what_it_lacks(
    runtime: Runtime, signed_in: dict[Role, Browser], browsers: Browsers
) -> None:
    before = _state(runtime)
    expected_denials = 0
    for method, path, need in console_routes(runtime):
        if not isinstance(need, Permission):
            continue
        for role, b in signed_in.items():
            if need in ROLE_PERMISSIONS[role]:
                continue
            b.get("/console")  # a fresh page, for its CSRF token
            status = _call(b, method, path)
            assert status == 403, f"{role} got {status} for {method} {path}"
            expected_denials += 1
            denied = events(runtime, "console:access:denied")[-1]
            assert denied["data"]["need"] == need.value
            assert denied["data"]["path"] == re.sub(r"\{[^}]+\}", PLACEHOLDER, path)
    assert expected_denials > 20
    assert len(events(runtime, "console:access:denied")) == expected_denials
    assert _state(runtime) == before


def test_roles_holding_a_permission_get_through_and_sensitive_grants_are_logged(
    runtime: Runtime, signed_in: dict[Role, Browser]
) -> None:
    for method, path, need in console_routes(runtime):
        if method != "GET" or not isinstance(need, Permission) or "{" in path:
            continue
        for role, b in signed_in.items():
            if need not in ROLE_PERMISSIONS[role]:
                continue
            granted_before = len(events(runtime, "console:access:granted"))
            assert b.get(path).status_code == 200, f"{role} {path}"
            granted = events(runtime, "console:access:granted")
            if need in SENSITIVE:
                assert len(granted) == granted_before + 1
                assert granted[-1]["data"]["need"] == need.value
            else:
                assert len(granted) == granted_before


def test_without_a_session_or_before_the_second_factor_everything_is_refused(
    runtime: Runtime, signed_in: dict[Role, Browser], browsers: Browsers
) -> None:
    before = _state(runtime)
    anonymous = browsers()
    pending = browsers()
    assert pending.sso("alice").status_code == 200
    pending.get("/console/second-factor")
    for method, path, need in console_routes(runtime):
        if need is Stage.PUBLIC:
            continue
        count = len(events(runtime, "console:access:denied"))
        anonymous.last_page = pending.last_page  # a real token, but not this session's
        status = _call(anonymous, method, path)
        assert status in (303, 401) if method == "GET" else status == 401, (method, path)
        assert len(events(runtime, "console:access:denied")) == count + 1
        if need is Stage.SIGNED_IN:
            continue
        status = _call(pending, method, path)
        if method == "GET":
            assert status == 303  # to the second factor
        else:
            assert status == 401
        denied = events(runtime, "console:access:denied")[-1]
        assert denied["data"]["reason"] == "second factor not passed"
    assert _state(runtime) == before
