"""What operators do in the console (B7, G4): owners manage operators and API clients,
senders void envelopes, auditors read the ledger with links to its proofs. Everything is
tenant-scoped: another tenant's object is "not found", a denial event, and unchanged."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from sealwright.identity.roles import Role
from sealwright.services.operators import get_operator
from sealwright.services.runtime import Runtime
from tests.integration.console_world import (
    Browser,
    add,
    browsers,
    draft,
    start_idp,
    status_of,
)
from tests.integration.helpers import events, new_client
from tests.support.oidc import RunningProvider, oidc_provider_factory

__all__ = ["browsers", "oidc_provider_factory"]

Browsers = Callable[[], Browser]


@pytest.fixture
def idp(runtime: Runtime, oidc_provider_factory: Callable[..., RunningProvider]) -> RunningProvider:
    return start_idp(runtime, oidc_provider_factory)


@pytest.fixture
def tenants(runtime: Runtime) -> dict[str, str]:
    acme, _, _ = new_client(runtime, "acme")
    other, _, _ = new_client(runtime, "globex")
    return {"acme": acme, "globex": other}


def _denials(rt: Runtime) -> list[str]:
    return [e["data"]["reason"] for e in events(rt, "console:access:denied")]


def test_owner_manages_operators(
    runtime: Runtime, idp: RunningProvider, tenants: dict[str, str], browsers: Browsers
) -> None:
    owner = add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    stranger = add(runtime, "globex", "sam", Role.OWNER, issuer=idp.issuer)
    b = browsers()
    b.sign_in("alice")
    b.get("/console/operators")
    added = b.post(
        "/console/operators",
        data={"email": "rita@example.com", "subject": "rita", "role": ["reviewer", "auditor"]},
    )
    assert added.status_code == 303
    page = b.get("/console/operators")
    assert "rita@example.com" in page.text
    event = events(runtime, "operator:operator:added")[-1]
    assert event["actor"] == f"operator:{owner}"
    assert event["data"]["roles"] == ["auditor", "reviewer"]
    assert event["data"]["issuer"] == idp.issuer  # the console's provider by default
    rita = event["data"]["operator"]

    # Bad input: a clear message, nothing added.
    bad = b.post(
        "/console/operators",
        data={"email": "x@example.com", "subject": "x", "issuer": "ftp://idp", "role": "sender"},
    )
    assert bad.status_code == 400
    assert "https URL" in bad.text
    none = b.post("/console/operators", data={"email": "y@example.com", "subject": "y"})
    assert none.status_code == 400
    assert "at least one role" in none.text
    assert len(events(runtime, "operator:operator:added")) == 3  # two by the CLI, one here

    b.get("/console/operators")
    assert b.post(f"/console/operators/{rita}/roles", data={"role": "sender"}).status_code == 303
    b.get("/console/operators")
    demote = b.post(f"/console/operators/{owner}/roles", data={"role": "auditor"})
    assert demote.status_code == 400
    assert "last active owner" in demote.text
    # Another tenant's operator does not exist here.
    b.get("/console/operators")
    assert b.post(f"/console/operators/{stranger}/disable").status_code == 404
    assert _denials(runtime)[-1] == "operator not in operator's tenant or absent"
    with runtime.db.transaction() as db:
        assert get_operator(db, tenants["globex"], stranger).disabled_at is None
        assert get_operator(db, tenants["acme"], rita).roles == "sender"
        assert get_operator(db, tenants["acme"], owner).roles == "owner"


def test_owner_rotates_and_revokes_clients(
    runtime: Runtime,
    idp: RunningProvider,
    tenants: dict[str, str],
    browsers: Browsers,
    server,
) -> None:
    add(runtime, "acme", "alice", Role.OWNER, issuer=idp.issuer)
    with runtime.db.transaction() as db:
        from sealwright.services.admin import create_client, tenant_by_name

        mine, old_secret = create_client(runtime, db, tenant_by_name(db, "acme"), "erp")
        theirs, _ = create_client(runtime, db, tenant_by_name(db, "globex"), "crm")
    b = browsers()
    b.sign_in("alice")
    listing = b.get("/console/clients")
    assert mine.id in listing.text
    assert theirs.id not in listing.text
    assert old_secret not in listing.text

    rotated = b.post(f"/console/clients/{mine.id}/rotate", data={"overlap_hours": "1"})
    assert rotated.status_code == 200
    found = re.search(r'<code class="secret">([^<]+)</code>', rotated.text)
    assert found is not None
    new_secret = found.group(1)
    assert rotated.headers["cache-control"] == "no-store"
    assert new_secret not in b.get("/console/clients").text  # shown once

    def token(secret: str) -> int:
        return httpx.post(
            f"{server.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(mine.id, secret),
        ).status_code

    assert token(new_secret) == 200
    assert token(old_secret) == 200  # within the overlap
    b.get("/console/clients")
    assert b.post(f"/console/clients/{mine.id}/revoke").status_code == 303
    assert token(new_secret) == 401
    granted = [e["data"]["path"] for e in events(runtime, "console:access:granted")]
    assert f"/console/clients/{mine.id}/rotate" in granted
    assert f"/console/clients/{mine.id}/revoke" in granted

    b.get("/console/clients")
    assert b.post(f"/console/clients/{theirs.id}/revoke").status_code == 404
    assert _denials(runtime)[-1] == "client not in operator's tenant or absent"
    assert [e["data"]["client"] for e in events(runtime, "operator:client:revoked")] == [mine.id]


def test_sender_voids_only_their_tenants_envelopes(
    runtime: Runtime,
    idp: RunningProvider,
    tenants: dict[str, str],
    browsers: Browsers,
    server,
) -> None:
    sam = add(runtime, "acme", "sam", Role.SENDER, issuer=idp.issuer)
    mine = draft(runtime, server.url, "acme")
    theirs = draft(runtime, server.url, "globex")
    b = browsers()
    b.sign_in("sam")
    listing = b.get("/console/envelopes")
    assert mine in listing.text
    assert theirs not in listing.text
    assert b.post(f"/console/envelopes/{theirs}/void", data={"reason": "x"}).status_code == 404
    assert _denials(runtime)[-1] == "envelope not in operator's tenant or absent"
    assert status_of(runtime, theirs) == "draft"
    b.get("/console/envelopes")
    voided = b.post(f"/console/envelopes/{mine}/void", data={"reason": "wrong recipient"})
    assert voided.status_code == 303
    assert status_of(runtime, mine) == "voided"
    event = events(runtime, "api:envelope:voided")[-1]
    assert event["actor"] == f"operator:{sam}"
    assert event["envelope"] == mine
    # Voiding twice is a conflict with a clear message, and changes nothing.
    b.get("/console/envelopes")
    again = b.post(f"/console/envelopes/{mine}/void", data={"reason": "again"})
    assert again.status_code == 409
    assert "cannot void" in again.text
    assert len(events(runtime, "api:envelope:voided")) == 1


def test_auditor_reads_the_ledger_with_proof_links(
    runtime: Runtime,
    idp: RunningProvider,
    tenants: dict[str, str],
    browsers: Browsers,
    server,
) -> None:
    add(runtime, "acme", "audrey", Role.AUDITOR, issuer=idp.issuer)
    envelope = draft(runtime, server.url, "acme")
    draft(runtime, server.url, "globex")
    b = browsers()
    b.sign_in("audrey")
    before = b.get("/console/audit")
    assert "not yet checkpointed" in before.text
    with runtime.db.transaction() as db:
        runtime.checkpoints.publish(db)
    page = b.get("/console/audit")
    proof_link = r'href="(/v1/log/proof/inclusion\?index=(\d+)&amp;tree_size=(\d+))"'
    links = re.findall(proof_link, page.text)
    assert links
    shown = {int(i) for _, i, _ in links}
    acme = {e["idx"] for e in _leaves(runtime) if e["tenant"] == tenants["acme"]}
    globex = {e["idx"] for e in _leaves(runtime) if e["tenant"] == tenants["globex"]}
    assert shown <= acme
    assert not shown & globex
    href = links[0][0].replace("&amp;", "&")
    proof = httpx.get(server.url + href)
    assert proof.status_code == 200
    assert "leaf_hash" in proof.json()
    # An unsealed envelope has no evidence yet: a clear answer, nothing exported.
    r = b.get(f"/console/envelopes/{envelope}/evidence")
    assert r.status_code == 409
    assert "evidence is exported once it is sealed" in r.text
    assert events(runtime, "api:evidence:exported") == []


def _leaves(rt: Runtime) -> list[dict[str, object]]:
    from sqlalchemy import select

    from sealwright.storage.models import LedgerEvent

    with rt.db.transaction() as db:
        return [
            {"idx": e.idx, "tenant": e.tenant_id} for e in db.execute(select(LedgerEvent)).scalars()
        ]
