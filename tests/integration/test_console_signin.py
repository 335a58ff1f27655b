"""Console sign-in (B7) end to end: a real OIDC provider (panva/oidc-provider on loopback),
the real app on a real port, SQLite and PostgreSQL. SSO, then a TOTP enrolment or code,
then the pages each role is for; and every way in that must fail -- an unknown identity,
a disabled operator, a replayed callback, a wrong or replayed code -- fails with one answer
and an audit event, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from sealwright.identity.roles import Role
from sealwright.services.operators import disable_operator, get_operator
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ConsoleSession, LedgerEvent
from tests.integration.console_world import (
    ACCOUNTS,
    ROLE_ACCOUNT,
    Browser,
    add,
    browsers,
    draft,
    start_idp,
    status_of,
)
from tests.integration.helpers import events, new_client
from tests.support.oidc import RunningProvider, oidc_provider_factory

__all__ = ["browsers", "oidc_provider_factory"]  # fixtures used by the tests below

Browsers = Callable[[], Browser]


@pytest.fixture
def idp(runtime: Runtime, oidc_provider_factory: Callable[..., RunningProvider]) -> RunningProvider:
    return start_idp(runtime, oidc_provider_factory)


@pytest.fixture
def tenant(runtime: Runtime) -> str:
    tenant_id, _, _ = new_client(runtime, "acme")
    return tenant_id


def _sessions(rt: Runtime) -> int:
    with rt.db.transaction() as db:
        return int(db.execute(select(func.count()).select_from(ConsoleSession)).scalar_one())


def _ledger_text(rt: Runtime) -> str:
    with rt.db.transaction() as db:
        return b"\n".join(db.execute(select(LedgerEvent.leaf)).scalars()).decode()


def test_sso_then_totp_enrolment_then_each_role_sees_its_pages(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers
) -> None:
    ids = {
        role: add(runtime, "acme", account, role, issuer=idp.issuer)
        for role, account in ROLE_ACCOUNT.items()
    }
    own_page = {
        Role.OWNER: ("/console/operators", "add-operator"),
        Role.SENDER: ("/console/envelopes", "No envelopes yet"),
        Role.REVIEWER: ("/console/review", "review-empty"),
        Role.AUDITOR: ("/console/audit", "console:signin:passed"),
    }
    secrets = []
    for role, account in ROLE_ACCOUNT.items():
        b = browsers()
        callback = b.sso(account)
        assert callback.status_code == 200
        cookie = callback.headers["set-cookie"]
        assert "sw_console=" in cookie
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/console"):
            assert attribute.lower() in cookie.lower()
        assert "secure" not in cookie.lower()  # plain http on loopback
        # No page but the second factor's before the second factor.
        assert b.get("/console").headers["location"] == "/console/second-factor"
        done = b.enrol_totp()
        assert done.status_code == 303
        assert done.headers["location"] == "/console"
        assert b.totp_secret is not None
        secrets.append(b.totp_secret)
        home = b.get("/console")
        assert home.status_code == 200
        assert ACCOUNTS[account]["name"] in home.text
        path, marker = own_page[role]
        page = b.get(path)
        assert page.status_code == 200, page.text
        assert marker in page.text
        assert page.headers["cache-control"] == "no-store"

    passed = events(runtime, "console:signin:passed")
    assert [e["data"]["operator"] for e in passed] == [ids[r] for r in ROLE_ACCOUNT]
    enrolled = events(runtime, "console:factor:enrolled")
    assert [e["data"]["method"] for e in enrolled] == ["totp"] * 4
    assert len(events(runtime, "console:factor:passed")) == 4
    # The ledger names operators by id: no address, no TOTP secret, no subject.
    ledger = _ledger_text(runtime)
    for account in ROLE_ACCOUNT.values():
        assert str(ACCOUNTS[account]["email"]) not in ledger
    for secret in secrets:
        assert secret not in ledger


def test_a_second_sign_in_asks_for_the_code_and_refuses_a_replayed_one(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers
) -> None:
    operator = add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    first = browsers()
    first.sign_in("alice")
    assert first.used_step is not None
    assert first.totp_secret is not None

    again = browsers()
    again.totp_secret = first.totp_secret
    assert again.sso("alice").status_code == 200
    page = again.get("/console/second-factor")
    assert "verify-totp" in page.text
    assert "enrol-totp" not in page.text
    from sealwright.identity import totp

    replayed = totp.code_at(first.totp_secret, first.used_step)
    refused = again.post("/console/verify/totp", data={"code": replayed})
    wrong = again.post("/console/verify/totp", data={"code": "12345x"})
    assert refused.status_code == wrong.status_code == 400
    assert refused.text == wrong.text  # one answer, whatever the reason
    assert again.get("/console").headers["location"] == "/console/second-factor"
    failed = events(runtime, "console:factor:failed")
    assert [e["data"]["reason"] for e in failed] == ["TOTP code replayed", "wrong TOTP code"]
    assert all(e["data"]["operator"] == operator for e in failed)

    again.used_step = first.used_step
    ok = again.post("/console/verify/totp", data={"code": again.next_code()})
    assert ok.status_code == 303
    assert again.get("/console").status_code == 200


def test_second_factor_locks_out_with_back_off(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers, clock
) -> None:
    add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    first = browsers()
    first.sign_in("sam")
    b = browsers()
    b.totp_secret, b.used_step = first.totp_secret, first.used_step
    b.sso("sam")
    b.get("/console/second-factor")
    limit = runtime.settings.console_factor_max_attempts
    for _ in range(limit):
        assert b.post("/console/verify/totp", data={"code": "000000x"}).status_code == 400
    locked = events(runtime, "console:factor:locked")
    assert [e["data"]["seconds"] for e in locked] == [30]
    # Locked: even the right code is refused, with the same answer, and not even checked.
    right = b.post("/console/verify/totp", data={"code": b.next_code()})
    assert right.status_code == 400
    assert events(runtime, "console:factor:failed")[-1]["data"]["reason"] == "locked"
    # One more failure after the lock doubles it.
    clock.advance(31)
    assert b.post("/console/verify/totp", data={"code": "000000x"}).status_code == 400
    assert events(runtime, "console:factor:locked")[-1]["data"]["seconds"] == 60
    clock.advance(61)
    ok = b.post("/console/verify/totp", data={"code": b.next_code()})
    assert ok.status_code == 303


def test_unknown_identity_and_disabled_operator_get_the_same_refusal(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers
) -> None:
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    sam = add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    # Mallory's provider account has Alice's email address but another subject: she is
    # not Alice, however the address reads.
    mallory = browsers().sso("mallory")
    assert mallory.status_code == 401
    assert "sw_console=" not in mallory.headers.get("set-cookie", "")
    with runtime.db.transaction() as db:
        disable_operator(runtime, db, get_operator(db, tenant, sam), actor="operator:cli")
    disabled = browsers().sso("sam")
    assert disabled.status_code == 401
    assert disabled.text == mallory.text
    refused = events(runtime, "console:signin:refused")
    assert [e["data"]["reason"] for e in refused] == ["unknown identity", "operator disabled"]
    assert len(refused[0]["data"]["identity"]) == 64  # a digest, not the identity
    assert refused[1]["data"]["operator"] == sam
    assert _sessions(runtime) == 0


def test_disabling_an_operator_ends_their_session_at_the_next_request(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers
) -> None:
    sam = add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    b = browsers()
    b.sign_in("sam")
    assert b.get("/console/envelopes").status_code == 200
    with runtime.db.transaction() as db:
        disable_operator(runtime, db, get_operator(db, tenant, sam), actor="operator:cli")
    r = b.get("/console/envelopes")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    denied = events(runtime, "console:access:denied")[-1]
    assert denied["data"]["reason"] == "operator disabled"
    assert denied["tenant"] == tenant


def test_a_callback_cannot_be_replayed_or_carried_to_another_browser(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers
) -> None:
    from tests.support.oidc import login_redirect

    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    victim, attacker = browsers(), browsers()
    # Login CSRF: the attacker starts a sign-in and feeds their callback to the victim.
    start = attacker.get("/console/login/start")
    params = login_redirect(attacker.http, start.headers["location"], "alice")
    assert victim.get("/console/callback", params=params).status_code == 401
    # Replay: the same callback twice in the browser that started it.
    b = browsers()
    start = b.get("/console/login/start")
    params = login_redirect(b.http, start.headers["location"], "alice")
    binding = b.http.cookies.get("sw_console_login")
    assert b.get("/console/callback", params=params).status_code == 200
    # The answer dropped the binding cookie; someone who copied it replays both.
    b.http.cookies.set("sw_console_login", binding, path="/console")
    assert b.get("/console/callback", params=params).status_code == 401
    reasons = [e["data"]["reason"] for e in events(runtime, "console:signin:refused")]
    assert reasons == ["callback without the sign-in cookie", "callback for a sign-in already used"]
    assert _sessions(runtime) == 1


def test_idle_session_is_refused_and_changes_nothing(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers, clock
) -> None:
    add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    b = browsers()
    b.sign_in("sam")
    page = b.get("/console/envelopes")
    envelope = draft(runtime, b.server.url, "acme")
    page = b.get("/console/envelopes")
    assert envelope in page.text
    clock.advance(runtime.settings.console_idle_timeout + 1)
    r = b.post(f"/console/envelopes/{envelope}/void", data={"reason": "late"})
    assert r.status_code == 401
    assert b.get("/console/envelopes").headers["location"] == "/console/login"
    reasons = [e["data"]["reason"] for e in events(runtime, "console:access:denied")]
    # The refusal dropped the cookie: the next request has none.
    assert reasons == ["console session idle too long", "no console session"]
    assert events(runtime, "api:envelope:voided") == []
    assert status_of(runtime, envelope) == "draft"


def test_absolute_timeout_needs_sso_and_the_factor_again(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers, clock
) -> None:
    runtime.settings.console_absolute_timeout = 1000
    add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    b = browsers()
    b.sign_in("sam")
    clock.advance(600)
    assert b.get("/console/envelopes").status_code == 200  # still alive, and touched
    clock.advance(600)  # not idle for long, but 1200 s old
    r = b.get("/console/envelopes")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
    assert events(runtime, "console:access:denied")[-1]["data"]["reason"] == (
        "console session past its absolute timeout"
    )
    # The cookie is gone; the old token is worth nothing even if replayed.
    assert "sw_console" not in {c.name for c in b.http.cookies.jar}


def test_post_without_the_csrf_token_is_refused_and_changes_nothing(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers
) -> None:
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    sam = add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    b = browsers()
    b.sign_in("alice")
    b.get("/console/operators")
    missing = b.post(f"/console/operators/{sam}/disable", csrf=False)
    forged = b.post(f"/console/operators/{sam}/disable", csrf=False, data={"csrf": "x" * 43})
    header = b.http.post(
        "/console/factor/passkey/options", headers={"X-CSRF-Token": "forged"}, content=b"{}"
    )
    assert missing.status_code == forged.status_code == header.status_code == 403
    reasons = [e["data"]["reason"] for e in events(runtime, "console:access:denied")]
    assert reasons == ["csrf token missing or wrong"] * 3
    assert events(runtime, "operator:operator:disabled") == []
    with runtime.db.transaction() as db:
        assert get_operator(db, tenant, sam).disabled_at is None
    # With the token, the same request works.
    assert b.post(f"/console/operators/{sam}/disable").status_code == 303
    assert len(events(runtime, "operator:operator:disabled")) == 1


def test_sign_out_ends_the_session(
    runtime: Runtime, idp: RunningProvider, tenant: str, browsers: Browsers
) -> None:
    add(runtime, "acme", "audrey", Role.AUDITOR, issuer=idp.issuer)
    b = browsers()
    b.sign_in("audrey")
    cookie = b.http.cookies.get("sw_console")
    assert b.post("/console/logout").status_code == 303
    assert events(runtime, "console:session:ended")[0]["data"]["reason"] == "sign-out"
    b.http.cookies.set("sw_console", cookie, path="/console")
    r = b.get("/console/audit")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login"
