"""``GET /metrics`` (G5) over real HTTP: series fed by the audit log as a channel run goes
through the real flow, the KPI gauges computed from the database at scrape time, and no
personal data in any label."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sealwright.channels.port import SignerEvidence
from sealwright.clock import OffsetClock
from sealwright.services.admin import create_tenant
from sealwright.services.channel_flow.flow import ChannelFlow
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Document, Envelope, Recipient
from sealwright.web.app import create_app
from sealwright.web.metrics import RunMetrics
from sealwright.web.server import BackgroundServer
from tests.integration.test_kpi import _envelope, seed

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str, **headers: str) -> tuple[str, Samples]:
    r = httpx.get(f"{base}/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return r.text, samples


def lbl(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _review_run(rt: Runtime, clock: OffsetClock, seconds: float, approve: bool) -> list[str]:
    """A manual-review run through the real ChannelFlow, decided ``seconds`` later."""
    flow = ChannelFlow(rt)
    with rt.db.transaction() as session:
        tenant = create_tenant(rt, session, f"t{clock.offset.total_seconds():.0f}").id
        env_id, recipient_id = _envelope(session, tenant, rt.clock.now(), 1)
        recipient = session.get(Recipient, recipient_id)
        env = session.get(Envelope, env_id)
        assert recipient is not None
        assert env is not None
        session.add(
            Document(
                id=uuid.uuid4().hex, envelope_id=env_id, position=0, name="c.pdf",
                sha256=hashlib.sha256(env_id.encode()).hexdigest(), size=1, page_sizes={},
                blob_key="none",
            )
        )  # fmt: skip
        recipient.auth = {"methods": ["email-otp"], "channels": ["manual-review"]}
        run = flow.start(session, env, recipient, "manual-review", session_hash=None, actor="t")
        run_id = run.id
    clock.advance(seconds)
    verdict = "approve" if approve else "deny"
    with rt.db.transaction() as session:
        flow.complete(session, run_id, SignerEvidence("decision", f"{verdict}:ok"), by="operator:o")
    return [tenant, env_id, recipient_id, run_id]


def test_channel_runs_feed_counters_and_the_duration_histogram(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    _, before = scrape(server.url)
    assert ("sealwright_kpi_window_seconds", ()) in before
    assert before[("sealwright_kpi_window_seconds", ())] == 24 * 3600
    assert not any(name.startswith("sealwright_channel_runs") and v for (name, _), v in
                   before.items())  # fmt: skip

    ids = _review_run(runtime, clock, 90, approve=True)
    ids += _review_run(runtime, clock, 7200, approve=False)
    text, after = scrape(server.url)

    review = (("channel", "manual-review"),)
    passed = (("channel", "manual-review"), ("result", "passed"))
    failed = (("channel", "manual-review"), ("result", "failed"))
    assert after[("sealwright_channel_runs_started_total", review)] == 2
    assert after[("sealwright_channel_runs_completed_total", passed)] == 1
    assert after[("sealwright_channel_runs_completed_total", failed)] == 1
    assert after[("sealwright_assertions_issued_total", passed)] == 1
    bucket = "sealwright_channel_verification_duration_seconds_bucket"
    assert after[(bucket, lbl(channel="manual-review", le="60.0", result="passed"))] == 0
    assert after[(bucket, lbl(channel="manual-review", le="120.0", result="passed"))] == 1
    assert after[(bucket, lbl(channel="manual-review", le="3600.0", result="failed"))] == 0
    assert after[(bucket, lbl(channel="manual-review", le="14400.0", result="failed"))] == 1
    total = after[("sealwright_channel_verification_duration_seconds_sum", passed)]
    assert 90 <= total < 100
    # The gauges, from the database at scrape time.
    assert after[("sealwright_kpi_success_rate", review)] == 0.5
    assert 90 <= after[("sealwright_kpi_time_to_complete_median_seconds", review)] < 100
    assert after[("sealwright_kpi_cost", review)] == 4.0
    assert after[("sealwright_kpi_cost_per_success", review)] == 4.0
    assert after[("sealwright_kpi_cost_per_verification", ())] == 4.0
    # Channel names, results and decisions only: no tenant, envelope, recipient or run id.
    for identifier in ids:
        assert identifier not in text
    labels = {k for _, lbl in after for k, _ in lbl}
    assert labels <= {"channel", "result", "le", "kind", "decision"}


def test_kpi_gauges_of_seeded_runs(runtime: Runtime, server: BackgroundServer) -> None:
    seed(runtime)  # its events pass the observer too
    _, m = scrape(server.url)
    phone = (("channel", "phone-callback"),)
    sms = (("channel", "sms-otp"),)
    assert m[("sealwright_kpi_escalation_rate", phone)] == 0.5
    assert m[("sealwright_kpi_success_rate", phone)] == 0.25
    assert m[("sealwright_kpi_time_to_complete_median_seconds", sms)] == 40  # 10 30 50 70
    assert ("sealwright_kpi_escalation_rate", (("channel", "manual-review"),)) not in m
    assert m[("sealwright_kpi_escalation_rate_overall", ())] == 0.2  # 2 of 10 (both tenants)
    assert m[("sealwright_kpi_review_overturn_rate", ())] == 0.5
    decided = "sealwright_review_decisions_total"
    assert m[(decided, (("decision", "approve"), ("kind", "manual-review")))] == 1
    assert m[(decided, (("decision", "approve"), ("kind", "assisted")))] == 1
    assert m[("sealwright_assertions_issued_total", (*sms, ("result", "passed")))] == 1
    # The run of ten days ago is outside the 24-hour window: 7 sms runs in all, 6 here.
    assert m[("sealwright_kpi_cost", sms)] == pytest.approx(0.06)


def test_the_window_follows_the_setting(runtime: Runtime, clock: OffsetClock) -> None:
    seed(runtime)
    clock.advance(2 * 3600 + 60 * 20)  # every seeded run started over two hours ago
    runtime.settings = runtime.settings.model_copy(update={"kpi_window_hours": 2})
    with BackgroundServer(create_app(runtime), port=runtime.settings.port) as srv:
        _, m = scrape(srv.url)
    assert m[("sealwright_kpi_window_seconds", ())] == 2 * 3600
    assert not [k for k in m if k[0] == "sealwright_kpi_success_rate"]
    assert ("sealwright_kpi_cost_per_verification", ()) not in m


def test_one_observer_per_runtime(runtime: Runtime, server: BackgroundServer) -> None:
    create_app(runtime)  # a second app on the same runtime counts nothing twice
    owners = [getattr(o, "__self__", None) for o in runtime.audit.observers]
    assert len([o for o in owners if isinstance(o, RunMetrics)]) == 1
