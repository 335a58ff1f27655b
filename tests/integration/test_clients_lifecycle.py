"""API clients (B1): rotation with an overlapping secret, immediate revocation, last-used
time written at most once a minute, and ``sealwright credentials report`` flagging
long-lived, unused and over-privileged credentials with a non-zero exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from sealwright.clock import OffsetClock
from sealwright.identity.scopes import Scope
from sealwright.services.admin import revoke_client, rotate_client
from sealwright.services.credentials_report import credentials_report
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ApiClient
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client
from tests.integration.token_helpers import access_token, bearer, client_token

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")
DAY = 86_400


def _client(rt: Runtime, cid: str) -> ApiClient:
    with rt.db.transaction() as session:
        client = session.get(ApiClient, cid)
        assert client is not None
        return client


def test_rotation_keeps_the_old_secret_until_the_overlap_ends(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    _, cid, old = new_client(runtime, "t1")
    with runtime.db.transaction() as session:
        _, new = rotate_client(runtime, session, cid, overlap=timedelta(hours=24))
    assert new != old
    assert client_token(server, cid, new).status_code == 200
    r = client_token(server, cid, old)
    assert r.status_code == 200
    issued = events(runtime, "api:token:issued")
    assert [e["data"]["secret"] for e in issued] == ["current", "previous"]
    clock.advance(24 * 3600 + 1)
    r = client_token(server, cid, old)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert events(runtime, "api:token:refused")[-1]["data"]["reason"] == (
        "previous secret past its overlap deadline"
    )
    assert client_token(server, cid, new).status_code == 200
    rotated = events(runtime, "operator:client:rotated")
    assert [e["data"]["client"] for e in rotated] == [cid]
    ledger = json.dumps(events(runtime))
    assert old not in ledger
    assert new not in ledger
    # rotating again with no overlap cuts the previous secret at once
    with runtime.db.transaction() as session:
        _, newest = rotate_client(runtime, session, cid, overlap=timedelta(0))
    assert client_token(server, cid, new).status_code == 401
    assert client_token(server, cid, newest).status_code == 200
    assert _client(runtime, cid).secret_created_at >= runtime.clock.now() - timedelta(minutes=1)


def test_revocation_refuses_live_tokens_at_once(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "t1")
    token = access_token(server, cid, secret)
    url = f"{server.url}/v1/envelopes"
    assert httpx.get(url, headers=bearer(token)).status_code == 200
    with runtime.db.transaction() as session:
        revoke_client(runtime, session, cid)
    r = httpx.get(url, headers=bearer(token))
    assert r.status_code == 401
    assert events(runtime, "api:access:denied")[-1]["data"]["reason"] == "client revoked"
    assert client_token(server, cid, secret).status_code == 401
    assert events(runtime, "api:token:refused")[-1]["data"]["reason"] == "revoked client"
    assert [e["data"] for e in events(runtime, "operator:client:revoked")] == [{"client": cid}]
    actions = [e["data"]["action"] for e in events(runtime, "api:access:granted")]
    assert "client:revoke" in actions
    with pytest.raises(Exception, match="revoked already"), runtime.db.transaction() as s:
        revoke_client(runtime, s, cid)


def test_last_used_is_written_at_most_once_a_minute(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    _, cid, secret = new_client(runtime, "t1")
    assert _client(runtime, cid).last_used_at is None
    token = access_token(server, cid, secret)
    first = _client(runtime, cid).last_used_at
    assert first is not None
    access_token(server, cid, secret)
    httpx.get(f"{server.url}/v1/envelopes", headers=bearer(token))
    assert _client(runtime, cid).last_used_at == first
    clock.advance(61)
    access_token(server, cid, secret)
    later = _client(runtime, cid).last_used_at
    assert later is not None
    assert later > first


def test_report_flags_old_unused_and_over_privileged(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    clock.advance(-100 * DAY)  # clients made 100 days ago
    _, stale, _ = new_client(runtime, "stale")
    _, busy, busy_secret = new_client(
        runtime, "busy", frozenset({Scope.ENVELOPES_READ, Scope.ENVELOPES_VOID})
    )
    clock.advance(100 * DAY)
    with runtime.db.transaction() as session:
        _, busy_secret = rotate_client(runtime, session, busy, overlap=timedelta(0))
    token = access_token(server, busy, busy_secret)
    assert httpx.get(f"{server.url}/v1/envelopes", headers=bearer(token)).status_code == 200
    with runtime.db.transaction() as session:
        rows = {
            r.client: r
            for r in credentials_report(
                session, now=runtime.clock.now(), max_secret_age_days=90, unused_days=30
            )
        }
    assert {f.kind for f in rows[stale].findings} == {"long-lived", "unused"}
    assert [(f.kind, f.detail) for f in rows[busy].findings] == [
        ("over-privileged", "scopes not used in 30 days: envelopes:void")
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_lists_rotates_revokes_and_reports(
    runtime: Runtime, clock: OffsetClock, database_url: str
) -> None:
    clock.advance(-120 * DAY)
    _, old_client, _ = new_client(runtime, "acme")
    clock.advance(120 * DAY)
    env = {**os.environ, "SEALWRIGHT_DATABASE_URL": database_url}
    base = [SEALWRIGHT, "--data-dir", str(runtime.settings.data_dir)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    report = run("credentials", "report", "--json")
    assert report.returncode == 1, report.stderr
    found = json.loads(report.stdout)
    assert found["max_secret_age_days"] == 90
    (row,) = [c for c in found["clients"] if c["client"] == old_client]
    assert any(f["kind"] == "long-lived" for f in row["findings"])
    assert (
        run("credentials", "report", "--max-secret-age", "200", "--unused-days", "200").returncode
        == 0
    )

    listed = json.loads(run("clients", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [old_client]
    assert not {"secret", "secret_hash", "client_secret"} & set(listed[0])
    assert "scrypt" not in json.dumps(listed)

    rotated = run("clients", "rotate", old_client, "--overlap-hours", "2")
    assert rotated.returncode == 0, rotated.stderr
    assert "client_secret:" in rotated.stdout
    assert "works until" in rotated.stdout
    assert run("credentials", "report").returncode == 1  # still unused for 120 days
    assert run("clients", "revoke", old_client).returncode == 0
    again = run("clients", "revoke", old_client)
    assert again.returncode != 0
    assert "revoked already" in again.stderr
    final = run("credentials", "report")
    assert final.returncode == 0, final.stdout  # revoked clients are listed, not flagged
    assert "revoked" in final.stdout
    tags = [e["tag"] for e in events(runtime)]
    assert tags.count("operator:client:rotated") == tags.count("operator:client:revoked") == 1
