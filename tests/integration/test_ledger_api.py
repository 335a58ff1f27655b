"""The public ledger API (E5) over real HTTP: checkpoints, inclusion and consistency proofs
that verify against the signed roots, and RFC 9457 problems for bad parameters."""

from __future__ import annotations

import base64

import httpx
import pytest

from sealwright.domain.events import EventTag
from sealwright.ledger.checkpoint import Checkpoint, open_checkpoint
from sealwright.ledger.merkle import root_hash, verify_consistency, verify_inclusion
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer

SIZES = (3, 7, 20)


def grow(rt: Runtime) -> list[bytes]:
    """Events and a checkpoint at each of SIZES; returns the leaf hashes."""
    for size in SIZES:
        with rt.db.transaction() as session:
            while rt.audit.size(session) < size:
                rt.audit.append(session, EventTag.TENANT_CREATED, tenant="t", actor="system")
            rt.checkpoints.publish(session)
    with rt.db.transaction() as session:
        return rt.audit.leaf_hashes(session)


def signed(rt: Runtime, note: str) -> Checkpoint:
    trust = trust_store(rt)
    return open_checkpoint(note, trust.checkpoint_keys, origin=trust.log_origin)


def b64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(i) for i in items]


def test_checkpoints_and_proofs_verify_against_signed_roots(
    runtime: Runtime, server: BackgroundServer
) -> None:
    leaves = grow(runtime)
    with httpx.Client(base_url=server.url) as http:
        head = http.get("/v1/log/checkpoint")
        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/plain")
        assert head.headers["cache-control"] == "public, max-age=10"
        newest = signed(runtime, head.text)
        assert newest.size == 20

        heads = {}
        for size in SIZES:
            r = http.get(f"/v1/log/checkpoints/{size}")
            assert r.status_code == 200
            assert "immutable" in r.headers["cache-control"]
            heads[size] = signed(runtime, r.text)
            assert heads[size].size == size

        for size in SIZES:
            for index in (0, size // 2, size - 1):
                r = http.get("/v1/log/proof/inclusion", params={"index": index, "tree_size": size})
                assert r.status_code == 200, r.text
                assert "immutable" in r.headers["cache-control"]
                body = r.json()
                assert (body["index"], body["tree_size"]) == (index, size)
                assert base64.b64decode(body["leaf_hash"]) == leaves[index]
                verify_inclusion(
                    leaves[index], index, size, b64(body["proof"]), heads[size].root_hash
                )

        for first, second in [(1, 3), (3, 7), (2, 20), (7, 20), (20, 20), (5, 7)]:
            r = http.get("/v1/log/proof/consistency", params={"first": first, "second": second})
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["first"], body["second"]) == (first, second)
            # the client's older root: from a checkpoint it saw, or from leaves it holds
            old_root = heads[first].root_hash if first in heads else root_hash(leaves[:first])
            verify_consistency(first, second, old_root, heads[second].root_hash, b64(body["proof"]))
        # no token, no cookie: the ledger API is public
        assert "authorization" not in {k.lower() for k in r.request.headers}


@pytest.mark.parametrize(
    ("path", "params", "status", "needle"),
    [
        ("/v1/log/proof/inclusion", {"index": 3, "tree_size": 3}, 422, "not a leaf"),
        ("/v1/log/proof/inclusion", {"index": -1, "tree_size": 3}, 422, "not a leaf"),
        ("/v1/log/proof/inclusion", {"index": 0, "tree_size": 5}, 404, "no signed checkpoint"),
        ("/v1/log/proof/inclusion", {"index": "x", "tree_size": 3}, 422, "invalid"),
        ("/v1/log/proof/inclusion", {"tree_size": 3}, 422, "invalid"),
        ("/v1/log/proof/consistency", {"first": 0, "second": 3}, 422, "empty tree"),
        ("/v1/log/proof/consistency", {"first": 7, "second": 3}, 422, "must not be smaller"),
        ("/v1/log/proof/consistency", {"first": 1, "second": 4}, 404, "no signed checkpoint"),
        ("/v1/log/checkpoints/4", {}, 404, "no signed checkpoint of size 4"),
        ("/v1/log/checkpoints/-1", {}, 422, "non-negative"),
        ("/v1/log/checkpoints/abc", {}, 422, "invalid"),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_parameters_get_problem_details(
    runtime: Runtime,
    server: BackgroundServer,
    path: str,
    params: dict[str, object],
    status: int,
    needle: str,
) -> None:
    grow(runtime)
    r = httpx.get(f"{server.url}{path}", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://")
    assert needle in problem["detail"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_fresh_log_publishes_its_first_head_even_without_a_tsa(
    runtime: Runtime, server: BackgroundServer
) -> None:
    from tests.integration.test_checkpoint_publisher import DownTsa

    runtime.checkpoints.tsa = DownTsa()
    note = httpx.get(f"{server.url}/v1/log/checkpoint").text
    assert signed(runtime, note).size == 0
    with runtime.db.transaction() as session:
        latest = runtime.checkpoints.latest(session)
        assert latest is not None
        assert latest.timestamp_token is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_log_that_no_longer_matches_its_signature_serves_no_proofs(
    runtime: Runtime, server: BackgroundServer
) -> None:
    from sqlalchemy import text

    grow(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER ledger_events_no_update"))
        conn.execute(text("UPDATE ledger_events SET leaf_hash = zeroblob(32) WHERE idx = 1"))
    r = httpx.get(f"{server.url}/v1/log/proof/inclusion", params={"index": 0, "tree_size": 7})
    assert r.status_code == 500
    assert r.json()["type"].endswith("/ledger-inconsistent")
