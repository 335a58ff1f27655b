"""``GET /metrics`` in the Prometheus text format (G5, docs/kpi.md).

Two kinds of series, in a registry of the app's own (never the process-global one, so two
apps in one process do not collide):

- counters and a histogram fed by an audit-log observer (``services/audit.py``): every
  appended ``signer:channel:started``, ``system:assertion:issued`` and
  ``operator:review:decided`` event, in the process that appended it;
- gauges computed from the database at scrape time by ``services/kpi.py`` over the last
  ``kpi_window_hours``, the same in every replica.

Labels are channel names, results and decisions only: no tenant, recipient or envelope.
With ``metrics_token`` set, a scrape must send ``Authorization: Bearer <token>``; anything
else is one plain 401.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.services.kpi import kpi_report
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ChannelVerification, LedgerEvent

__all__ = ["RunMetrics", "install", "run_metrics"]

log = structlog.get_logger("sealwright.metrics")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds: a PIN answered in seconds, a video in minutes, a manual review in days.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86400, 3 * 86400)


class RunMetrics:
    """The event-fed series of one runtime."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.started = Counter(
            "sealwright_channel_runs_started", "Verification channel runs started.",
            ["channel"], registry=r,
        )  # fmt: skip
        self.completed = Counter(
            "sealwright_channel_runs_completed",
            "Verification channel runs that reached a final result.",
            ["channel", "result"], registry=r,
        )  # fmt: skip
        self.duration = Histogram(
            "sealwright_channel_verification_duration_seconds",
            "Seconds from a run's start to its final result.",
            ["channel", "result"], buckets=DURATION_BUCKETS, registry=r,
        )  # fmt: skip
        self.assertions = Counter(
            "sealwright_assertions_issued", "Signed verification assertions issued.",
            ["channel", "result"], registry=r,
        )  # fmt: skip
        self.reviews = Counter(
            "sealwright_review_decisions", "Reviewer decisions on escalations and assistance.",
            ["kind", "decision"], registry=r,
        )  # fmt: skip

    def on_events(self, session: Session, events: Sequence[LedgerEvent]) -> None:
        """The audit observer. A failure here is logged, never raised: metrics must not
        stop the event (and the change it records) from being written."""
        for event in events:
            if event.tag not in _WANTED:
                continue
            try:
                self._count(session, event)
            except (SQLAlchemyError, ValueError, KeyError, TypeError) as exc:
                log.warning("metrics observer failed", tag=event.tag, error=type(exc).__name__)

    def _count(self, session: Session, event: LedgerEvent) -> None:
        data = orjson.loads(event.leaf).get("data") or {}
        channel = _label(data.get("channel"))
        if event.tag == EventTag.CHANNEL_STARTED:
            self.started.labels(channel).inc()
        elif event.tag == EventTag.REVIEW_DECIDED:
            self.reviews.labels(_label(data.get("kind")), _label(data.get("decision"))).inc()
        else:
            result = _label(data.get("result"))
            self.assertions.labels(channel, result).inc()
            self.completed.labels(channel, result).inc()
            started = self._started_at(session, data.get("recipient"), data.get("channel"))
            if started is not None:
                seconds = (event.created_at - started).total_seconds()
                self.duration.labels(channel, result).observe(max(0.0, seconds))

    @staticmethod
    def _started_at(session: Session, recipient: object, channel: object) -> datetime | None:
        """When the run being completed began: the flow issues the assertion while the
        run is still ``pending`` (its status is set right after)."""
        if not isinstance(recipient, str) or not isinstance(channel, str):
            return None
        with session.no_autoflush:
            started: datetime | None = session.execute(
                select(ChannelVerification.started_at)
                .where(
                    ChannelVerification.recipient_id == recipient,
                    ChannelVerification.channel == channel,
                    ChannelVerification.status == "pending",
                )
                .order_by(ChannelVerification.started_at.desc())
                .limit(1)
            ).scalar_one_or_none()
        return started


_WANTED = frozenset(
    {str(EventTag.CHANNEL_STARTED), str(EventTag.ASSERTION_ISSUED), str(EventTag.REVIEW_DECIDED)}
)


def _label(value: object) -> str:
    """Label values come from our own fixed vocabularies; anything else is ``other``, so a
    label can never carry personal data or grow without bound."""
    if isinstance(value, str) and _LABEL.fullmatch(value):
        return value
    return "other"


_LABEL = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


class KpiCollector(Collector):
    """Gauges from ``services/kpi.py``, computed at each scrape."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        window = timedelta(hours=self.rt.settings.kpi_window_hours)
        now = self.rt.clock.now()
        with self.rt.db.transaction() as session:
            report = kpi_report(
                session, since=now - window, unit_costs=self.rt.settings.kpi_unit_costs
            )
        yield GaugeMetricFamily(
            "sealwright_kpi_window_seconds", "The window of the KPI gauges.",
            value=window.total_seconds(),
        )  # fmt: skip
        per_channel = {
            "success_rate": ("Passed runs / runs with a final result.", "success_rate"),
            "time_to_complete_median_seconds": (
                "Median seconds from start to pass.", "median_seconds"
            ),
            "escalation_rate": ("Escalated runs / runs with a final result.", "escalation_rate"),
            "cost": ("Runs started x the channel's unit cost.", "cost"),
            "cost_per_success": ("Cost / passed runs.", "cost_per_success"),
        }  # fmt: skip
        for name, (doc, attr) in per_channel.items():
            gauge = GaugeMetricFamily(f"sealwright_kpi_{name}", doc, labels=["channel"])
            for c in report.channels:
                value = getattr(c, attr)
                if value is not None:
                    gauge.add_metric([_label(c.channel)], float(value))
            yield gauge
        overall = {
            "escalation_rate_overall": report.escalation_rate,
            "review_overturn_rate": report.review_overturn_rate,
            "success_rate_overall": report.success_rate,
            "cost_per_verification": report.cost_per_verification,
        }
        for name, value in overall.items():
            if value is not None:
                yield GaugeMetricFamily(f"sealwright_kpi_{name}", _DOCS[name], value=value)


_DOCS = {
    "escalation_rate_overall": "Escalated runs / final runs, channels that can escalate.",
    "review_overturn_rate": "Approved manual reviews / decided ones, after an escalation.",
    "success_rate_overall": "Passed runs / runs with a final result, every channel.",
    "cost_per_verification": "Total cost / passed runs.",
}


def run_metrics(rt: Runtime) -> RunMetrics:
    """The runtime's event-fed metrics, observing its audit log (made once)."""
    for observer in rt.audit.observers:
        owner = getattr(observer, "__self__", None)
        if isinstance(owner, RunMetrics):
            return owner
    metrics = RunMetrics()
    rt.audit.observers.append(metrics.on_events)
    return metrics


def install(app: FastAPI, rt: Runtime) -> None:
    if not rt.settings.metrics_enabled:
        return
    metrics = run_metrics(rt)
    registry = CollectorRegistry()
    registry.register(_Forward(metrics.registry))
    registry.register(KpiCollector(rt))
    token = rt.settings.metrics_token

    @app.get("/metrics", include_in_schema=False)
    def scrape(request: Request) -> Response:
        if token is not None:
            expected = b"Bearer " + token.get_secret_value().encode()
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return PlainTextResponse(
                    "unauthorized\n", status_code=401, headers={"WWW-Authenticate": "Bearer"}
                )
        body = generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


class _Forward(Collector):
    """The event-fed registry's series, inside the scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()
