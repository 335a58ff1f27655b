"""The authorisation matrix (issue 4, first acceptance point), generated from the app's own
route table: a route added tomorrow is covered without touching this file.

Every route must be classified, or the test fails. Every API-token route -- found by the
``scoped(...)`` dependency it declares, which also names its scope and the path parameter
holding the envelope it touches -- is called with every kind of credential that must not
work: none, expired, another tenant's, another folder's, another envelope's, one lacking
the route's scope, a replayed single-use one, forged widened children (a foreign key, and
our key but beyond the parent), and DPoP proofs by another key and for another URL. Each
call must be refused with 401/403/404 as the route's shape gives, leave an audit event,
and change nothing: every table but the ledger is byte-for-byte the same, and the ledger
grew by denial events only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from joserfc.jwk import OKPKey
from sqlalchemy import func, inspect, select, text

from sealwright.identity.scopes import ALL_SCOPES, format_scopes
from sealwright.services.runtime import Runtime
from sealwright.storage.models import LedgerEvent
from sealwright.web.app import create_app
from sealwright.web.auth import Scoped
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import new_client
from tests.integration.token_helpers import (
    access_token,
    bearer,
    child_token,
    claims_of,
    exchange,
    expired_token,
    proof,
    signed_by_foreign_key,
)

DENIALS = {"api:access:denied", "api:token:refused"}
#: How routes that take no API token are classified, by path prefix. A route matching
#: none of these and declaring no ``scoped`` dependency fails the test.
CLASSES: list[tuple[str, str]] = [
    ("/v1/log/", "public"),
    ("/.well-known/", "public"),
    ("/oauth/token", "public (client credentials / token exchange)"),
    ("/openapi.json", "public"),
    ("/docs", "public"),
    ("/redoc", "public"),
    ("/healthz", "public"),
    ("/readyz", "public"),
    ("/metrics", "public, or its own bearer token (metrics_token: docs/kpi.md)"),
    ("/static", "public"),
    ("/sign/", "signer link"),
    ("/s/", "signer session"),
    ("/embedded/", "signing token"),
    ("/console", "console"),
    ("/dev/", "dev"),
]


def scoped_of(dependant: Dependant) -> Scoped | None:
    for dep in dependant.dependencies:
        if isinstance(dep.call, Scoped):
            return dep.call
        found = scoped_of(dep)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    params: frozenset[str]


def classify(app: FastAPI) -> tuple[list[tuple[Route, Scoped]], list[str]]:
    """(API-token routes with their metadata, paths nobody classified). FastAPI includes
    routers lazily; ``iter_route_contexts`` gives each route with its full path."""
    api: list[tuple[Route, Scoped]] = []
    unclassified: list[str] = []
    for ctx in iter_route_contexts(app.routes):
        path = str(ctx.path or "")
        original = ctx.original_route
        meta = scoped_of(original.dependant) if isinstance(original, APIRoute) else None
        if meta is not None:
            route = Route(
                path, tuple(sorted(ctx.methods or ())), frozenset(re.findall(r"{(\w+)}", path))
            )
            api.append((route, meta))
        elif path.startswith("/v1/") and not path.startswith("/v1/log/"):
            unclassified.append(f"{path}: an API route without a scoped() dependency")
        elif not any(path.startswith(prefix) for prefix, _ in CLASSES):
            unclassified.append(path or repr(original))
    return api, unclassified


@dataclass
class World:
    rt: Runtime
    server: BackgroundServer
    app: FastAPI
    tenant_a: str
    client_a: str
    secret_a: str
    token_a: str
    token_b: str
    envelope: str
    other_envelope: str


@pytest.fixture
def world(runtime: Runtime) -> Iterator[World]:
    # The matrix mints a few hundred tokens from one address in a minute.
    runtime.settings.token_rate_limit = 100_000
    # No in-process worker: nothing may write in the background while tables are compared.
    app = create_app(runtime, start_worker=False)
    with BackgroundServer(app, port=runtime.settings.port) as server:
        tenant_a, cid, secret = new_client(runtime, "tenant-a")
        _, cid_b, secret_b = new_client(runtime, "tenant-b")
        token_a = access_token(server, cid, secret)
        ids = []
        for title in ("target", "neighbour"):
            r = httpx.post(
                f"{server.url}/v1/envelopes",
                headers=bearer(token_a),
                json={"title": title, "recipients": [{"name": "A", "email": "a@example.com"}]},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        yield World(
            rt=runtime,
            server=server,
            app=app,
            tenant_a=tenant_a,
            client_a=cid,
            secret_a=secret,
            token_a=token_a,
            token_b=access_token(server, cid_b, secret_b),
            envelope=ids[0],
            other_envelope=ids[1],
        )


def snapshot(rt: Runtime) -> dict[str, list[str]]:
    """Every row of every table but the ledger (alembic_version included: nothing moves).
    Per-address request counters (``auth_throttle`` rows of a ``rate:`` scope) count every
    request by design -- refused ones too -- and are left out."""
    with rt.db.engine.connect() as conn:
        tables = sorted(t for t in inspect(conn).get_table_names() if t != "ledger_events")
        out = {}
        for t in tables:
            rows = [tuple(row) for row in conn.execute(text(f'SELECT * FROM "{t}"'))]
            if t == "auth_throttle":
                rows = [r for r in rows if not str(r[0]).startswith("rate:")]
            out[t] = sorted(map(repr, rows))
        return out


def ledger_size(rt: Runtime) -> int:
    with rt.db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(LedgerEvent)).scalar_one())


def new_events(rt: Runtime, since: int) -> list[dict[str, Any]]:
    with rt.db.transaction() as session:
        rows = session.execute(
            select(LedgerEvent).where(LedgerEvent.idx >= since).order_by(LedgerEvent.idx)
        ).scalars()
        return [json.loads(r.leaf) for r in rows]


# A case gives the request headers (built before the snapshot: minting a token is allowed
# to change state) and the statuses a route of the given shape must answer with; None:
# the case says nothing about routes of that shape (e.g. another tenant's token on a list).
Prepare = Callable[[World, Route, Scoped], dict[str, str]]
Expect = Callable[[Scoped], set[int] | None]


def _always(status: int) -> Expect:
    return lambda _meta: {status}


def _zone(meta: Scoped) -> set[int] | None:
    if meta.envelope is not None:
        return {404}  # outside the token's zone an envelope looks like none
    if meta.creates:
        return {403}
    return None  # listing filters instead (test_listing_filters_by_zone)


def _tenant(meta: Scoped) -> set[int] | None:
    return {404} if meta.envelope is not None else None


def _url(w: World, route: Route) -> str:
    params = {name: w.envelope if name == "envelope_id" else "0" * 32 for name in route.params}
    return w.server.url + route.path.format(**params)


def _no_token(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    return {}


def _expired(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    return bearer(expired_token(w.rt, w.client_a, w.tenant_a, ALL_SCOPES))


def _other_tenant(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    return bearer(w.token_b)


def _other_folder(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    return bearer(child_token(w.server, w.token_a, folders="hr"))


def _other_envelope(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    return bearer(child_token(w.server, w.token_a, envelopes=w.other_envelope))


def _wrong_action(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    return bearer(child_token(w.server, w.token_a, scope=format_scopes(ALL_SCOPES - {meta.scope})))


def _replayed(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    once = child_token(w.server, w.token_a, single_use="true")
    spent = httpx.get(f"{w.server.url}/v1/envelopes", headers=bearer(once))
    assert spent.status_code == 200, spent.text
    return bearer(once)


def _forged_foreign_key(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    narrow = child_token(w.server, w.token_a, scope="envelopes:read")
    claims = claims_of(w.rt, narrow)
    claims["scope"] = format_scopes(ALL_SCOPES)  # widened, re-signed by an outsider
    return bearer(signed_by_foreign_key(w.rt, claims))


def _forged_beyond_parent(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    parent = child_token(w.server, w.token_a, expires_in="60")
    parent_claims = claims_of(w.rt, parent)
    forged, _ = w.rt.tokens.issue(  # the service's own key: only a recorded child counts
        client_id=w.client_a,
        tenant_id=w.tenant_a,
        scopes=ALL_SCOPES,
        parent=parent_claims["jti"],
        expires_at=parent_claims["exp"] + 300,
    )
    return bearer(forged)


def _dpop_bound(w: World) -> tuple[OKPKey, str]:
    key = OKPKey.generate_key("Ed25519", private=True)
    url = f"{w.server.url}/oauth/token"
    r = httpx.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(w.client_a, w.secret_a),
        headers={"DPoP": proof(w.rt, key, "POST", url)},
    )
    assert r.status_code == 200, r.text
    return key, str(r.json()["access_token"])


def _dpop_other_key(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    _key, token = _dpop_bound(w)
    other = OKPKey.generate_key("Ed25519", private=True)
    method = route.methods[0]
    return {
        "Authorization": f"DPoP {token}",
        "DPoP": proof(w.rt, other, method, _url(w, route), token),
    }


def _dpop_other_url(w: World, route: Route, meta: Scoped) -> dict[str, str]:
    key, token = _dpop_bound(w)
    method = route.methods[0]
    elsewhere = f"{w.server.url}/v1/elsewhere"
    return {"Authorization": f"DPoP {token}", "DPoP": proof(w.rt, key, method, elsewhere, token)}


CASES: dict[str, tuple[Prepare, Expect]] = {
    "no token": (_no_token, _always(401)),
    "expired token": (_expired, _always(401)),
    "another tenant's token": (_other_tenant, _tenant),
    "another folder's token": (_other_folder, _zone),
    "another envelope's token": (_other_envelope, _zone),
    "token lacking the route's scope": (_wrong_action, _always(403)),
    "replayed single-use token": (_replayed, _always(401)),
    "widened child signed by a foreign key": (_forged_foreign_key, _always(401)),
    "widened child beyond its parent": (_forged_beyond_parent, _always(401)),
    "DPoP proof by another key": (_dpop_other_key, _always(401)),
    "DPoP proof for another URL": (_dpop_other_url, _always(401)),
}


def test_every_route_is_classified(world: World) -> None:
    api, unclassified = classify(world.app)
    assert unclassified == []
    assert len(api) >= 9
    for route, meta in api:
        # A route touching an envelope must say so, or no zone check would run.
        if "envelope_id" in route.params:
            assert meta.envelope == "envelope_id", route.path
        if meta.envelope is not None:
            assert meta.envelope in route.params, route.path


def test_every_api_route_refuses_every_bad_credential(world: World) -> None:
    api, _ = classify(world.app)
    calls = 0
    for route, meta in api:
        for method in route.methods:
            for case, (prepare, expect) in CASES.items():
                statuses = expect(meta)
                if statuses is None:
                    continue
                headers = prepare(world, route, meta)
                before, size = snapshot(world.rt), ledger_size(world.rt)
                r = httpx.request(
                    method,
                    _url(world, route),
                    headers={**headers, "Content-Type": "application/json"},
                    content=b"{}" if method == "POST" else None,
                )
                where = f"{method} {route.path} with {case}"
                assert r.status_code in statuses, (where, r.status_code, r.text)
                assert r.headers["content-type"].startswith("application/problem+json"), where
                added = new_events(world.rt, size)
                assert added, f"{where}: no audit event"
                assert {e["tag"] for e in added} <= DENIALS, (where, added)
                assert snapshot(world.rt) == before, f"{where} changed state"
                for e in added:
                    assert headers.get("Authorization", "x x").split()[1] not in json.dumps(e)
                calls += 1
    assert calls >= 9 * 8


def test_widening_exchanges_are_refused_and_change_nothing(world: World) -> None:
    narrow = child_token(
        world.server, world.token_a, scope="envelopes:read", folders="general", expires_in="120"
    )
    attempts = {
        "scope": ({"scope": "envelopes:read envelopes:void"}, "invalid_scope"),
        "lifetime": ({"expires_in": "600"}, "invalid_request"),
        "audience": ({"audience": "sealwright-signing"}, "invalid_target"),
        "folder": ({"folders": "general hr"}, "invalid_request"),
    }
    for what, (form, error) in attempts.items():
        before, size = snapshot(world.rt), ledger_size(world.rt)
        r = exchange(world.server, narrow, **form)
        assert r.status_code == 400, (what, r.text)
        assert r.json()["error"] == error, what
        added = new_events(world.rt, size)
        assert [e["tag"] for e in added] == ["api:token:refused"], what
        assert "widening" in added[0]["data"]["reason"], what
        assert narrow not in json.dumps(added)
        assert snapshot(world.rt) == before, what


def test_listing_filters_by_zone(world: World) -> None:
    url = f"{world.server.url}/v1/envelopes"
    everything = httpx.get(url, headers=bearer(world.token_a)).json()["items"]
    assert {e["id"] for e in everything} == {world.envelope, world.other_envelope}
    one = child_token(world.server, world.token_a, envelopes=world.envelope)
    assert [e["id"] for e in httpx.get(url, headers=bearer(one)).json()["items"]] == [
        world.envelope
    ]
    hr = child_token(world.server, world.token_a, folders="hr")
    assert httpx.get(url, headers=bearer(hr)).json()["items"] == []
    assert httpx.get(url, headers=bearer(world.token_b)).json()["items"] == []
