"""KPIs (G5) on a database seeded with channel runs and ledger events: the service's
numbers, the window and tenant filters, and ``sealwright kpi`` (JSON and table)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.services.admin import create_tenant
from sealwright.services.kpi import kpi_report
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ChannelVerification, Envelope, Recipient

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")
COSTS = {"phone-callback": 0.05, "sms-otp": 0.01, "video": 0.5, "manual-review": 2.0}


@dataclass
class World:
    t0: datetime
    acme: str
    other: str


def _envelope(session: Session, tenant_id: str, now: datetime, recipients: int) -> list[str]:
    env = Envelope(
        id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        title="Contract",
        status="sent",
        created_by="test",
        created_at=now,
    )
    session.add(env)
    ids = []
    for i in range(recipients):
        r = Recipient(
            id=uuid.uuid4().hex,
            envelope_id=env.id,
            name=f"Signer {i}",
            email=f"s{i}@example.com",
            role="signer",
            routing_order=1,
            status="sent",
        )
        session.add(r)
        ids.append(r.id)
    session.flush()
    return [env.id, *ids]


def _run(
    session: Session,
    env: str,
    recipient: str,
    channel: str,
    status: str,
    started: datetime,
    seconds: float | None,
) -> str:
    row = ChannelVerification(
        id=uuid.uuid4().hex,
        envelope_id=env,
        recipient_id=recipient,
        channel=channel,
        nonce=os.urandom(16),
        status=status,
        state={},
        display={},
        session_hash=None,
        started_at=started,
        expires_at=started + timedelta(hours=1),
        completed_at=None if seconds is None else started + timedelta(seconds=seconds),
        completed_by=None if seconds is None else "signer",
        assertion_id=None,
    )
    session.add(row)
    return row.id


def seed(rt: Runtime) -> World:
    """Two tenants. acme, in the window: sms-otp 3 passed (30, 50, 70 s), 1 failed, 1
    superseded; phone-callback 1 passed (120 s), 2 escalated, 1 expired, 1 pending;
    manual-review 1 passed (approved after an escalation), 1 failed (denied); an assisted
    approval that is no overturn. Plus one sms-otp run ten days before the window.
    other: sms-otp passed (10 s), video passed (300 s)."""
    t0 = rt.clock.now()
    start = t0 - timedelta(hours=2)
    with rt.db.transaction() as session:
        acme = create_tenant(rt, session, "acme").id
        other = create_tenant(rt, session, "other").id
        env, r1, r2, r3, r4 = _envelope(session, acme, t0, 4)
        env2, r5 = _envelope(session, other, t0, 1)
        runs = [
            (env, r1, "sms-otp", "passed", 30),
            (env, r2, "sms-otp", "passed", 50),
            (env, r3, "sms-otp", "failed", 20),
            (env, r3, "sms-otp", "superseded", 5),
            (env, r3, "sms-otp", "passed", 70),
            (env, r1, "phone-callback", "passed", 120),
            (env, r2, "phone-callback", "escalated", 90),
            (env, r3, "phone-callback", "escalated", 95),
            (env, r4, "phone-callback", "expired", 3600),
            (env, r4, "phone-callback", "pending", None),
            (env, r2, "manual-review", "passed", 3600),
            (env, r3, "manual-review", "failed", 7200),
            (env2, r5, "sms-otp", "passed", 10),
            (env2, r5, "video", "passed", 300),
        ]
        for i, (e, r, channel, status, seconds) in enumerate(runs):
            _run(session, e, r, channel, status, start + timedelta(minutes=i), seconds)
        _run(session, env, r1, "sms-otp", "failed", t0 - timedelta(days=10), 40)
        session.flush()
        review = EventTag.REVIEW_DECIDED
        for r, kind, decision in (
            (r2, "manual-review", "approve"),
            (r3, "manual-review", "deny"),
            (r4, "assisted", "approve"),
        ):
            rt.audit.append(
                session,
                review,
                tenant=acme,
                envelope=env,
                actor="operator:op1",
                data={"verification": "v", "kind": kind, "recipient": r, "decision": decision},
            )
        for tenant, e, r, channel, result in (
            (acme, env, r1, "sms-otp", "passed"),
            (acme, env, r2, "phone-callback", "escalated"),
            (other, env2, r5, "video", "passed"),
        ):
            rt.audit.append(
                session,
                EventTag.ASSERTION_ISSUED,
                tenant=tenant,
                envelope=e,
                actor="system",
                data={"assertion": uuid.uuid4().hex, "channel": channel, "result": result,
                      "recipient": r},
            )  # fmt: skip
    return World(t0, acme, other)


@pytest.fixture
def world(runtime: Runtime) -> World:
    return seed(runtime)


def test_kpis_of_one_tenant_in_a_window(runtime: Runtime, world: World) -> None:
    with runtime.db.transaction() as session:
        report = kpi_report(
            session, since=world.t0 - timedelta(days=1), tenant_id=world.acme, unit_costs=COSTS
        )
    by = {c.channel: c for c in report.channels}
    assert sorted(by) == ["manual-review", "phone-callback", "sms-otp"]
    sms, phone, review = by["sms-otp"], by["phone-callback"], by["manual-review"]
    assert sms.runs == 5
    assert sms.final == 4
    assert sms.statuses["superseded"] == 1
    assert sms.success_rate == 0.75
    assert sms.median_seconds == 50
    assert sms.escalation_rate == 0
    assert sms.cost == pytest.approx(0.05)
    assert sms.cost_per_success == pytest.approx(0.05 / 3, abs=1e-6)
    assert phone.runs == 5
    assert phone.final == 4
    assert phone.statuses["pending"] == 1
    assert phone.success_rate == 0.25
    assert phone.escalation_rate == 0.5
    assert phone.median_seconds == 120
    assert review.escalation_rate is None  # the escalation path itself
    assert review.median_seconds == 3600
    assert report.runs == 12
    assert report.final == 10
    assert report.passed == 5
    assert report.success_rate == 0.5
    assert report.escalated == 2
    assert report.escalation_rate == 0.25  # 2 of the 8 final sms/phone runs
    assert (report.reviews_decided, report.reviews_approved) == (2, 1)
    assert report.review_overturn_rate == 0.5
    assert report.total_cost == pytest.approx(0.05 + 0.25 + 4.0)
    assert report.cost_per_verification == pytest.approx(4.30 / 5)
    assert report.assertions == {"phone-callback": {"escalated": 1}, "sms-otp": {"passed": 1}}


def test_kpis_of_every_tenant_and_all_time(runtime: Runtime, world: World) -> None:
    with runtime.db.transaction() as session:
        report = kpi_report(session, unit_costs=COSTS)
    by = {c.channel: c for c in report.channels}
    assert by["sms-otp"].runs == 7  # acme's 5, other's 1, the old one
    assert by["sms-otp"].success_rate == pytest.approx(4 / 6, abs=1e-4)
    assert by["sms-otp"].median_seconds == 40  # of 10, 30, 50, 70
    assert by["video"].cost == 0.5
    assert report.assertions["video"] == {"passed": 1}
    assert report.review_overturn_rate == 0.5


def test_the_window_bounds_runs_and_events(runtime: Runtime, world: World) -> None:
    with runtime.db.transaction() as session:
        old = kpi_report(
            session, until=world.t0 - timedelta(days=1), tenant_id=world.acme, unit_costs={}
        )
        empty = kpi_report(session, since=world.t0 + timedelta(days=1))
    assert [(c.channel, c.runs, c.statuses["failed"]) for c in old.channels] == [("sms-otp", 1, 1)]
    assert old.success_rate == 0
    assert old.total_cost == 0  # no unit costs given
    assert old.cost_per_verification is None
    assert old.reviews_decided == 0  # the decisions came later
    assert old.assertions == {}
    assert empty.channels == []
    assert empty.success_rate is None
    assert empty.review_overturn_rate is None


def _cli(rt: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SEALWRIGHT_DATA_DIR": str(rt.settings.data_dir),
        "SEALWRIGHT_DATABASE_URL": rt.settings.database_url,
        "SEALWRIGHT_KPI_UNIT_COSTS": json.dumps({"sms-otp": 0.02, "phone-callback": 0.1}),
    }
    return subprocess.run(
        [SEALWRIGHT, "kpi", *args], capture_output=True, text=True, timeout=120, env=env,
        check=False,
    )  # fmt: skip


def test_cli_json_and_table(runtime: Runtime, world: World) -> None:
    since = (world.t0 - timedelta(days=1)).isoformat()
    done = _cli(runtime, "--since", since, "--tenant", "acme", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["tenant"] == world.acme
    assert doc["runs"] == 12
    assert doc["review_overturn_rate"] == 0.5
    sms = next(c for c in doc["channels"] if c["channel"] == "sms-otp")
    assert sms["cost"] == pytest.approx(0.10)  # 5 runs at the unit cost from the environment
    assert sms["median_seconds"] == 50
    assert doc["total_cost"] == pytest.approx(0.10 + 0.5)  # manual review: no cost set here

    table = _cli(runtime, "--since", since, "--tenant", "acme")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("KPIs from ")
    assert lines[0].endswith("tenant: " + world.acme)
    row = next(line.split() for line in lines if line.startswith("phone-callback"))
    assert row == ["phone-callback", "5", "4", "1", "25.0%", "50.0%", "120.0", "0.50", "0.5000"]
    assert "manual reviews after escalation: 2 decided, 1 approved, overturn rate 50.0%" in lines

    bad = _cli(runtime, "--tenant", "nobody")
    assert bad.returncode != 0
    assert "no such tenant" in bad.stderr
    bad_date = _cli(runtime, "--since", "yesterday")
    assert bad_date.returncode == 2
    assert "ISO 8601" in bad_date.stderr
