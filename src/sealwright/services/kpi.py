"""Verification KPIs (G5): what the channel runs and the ledger say about friction, fraud
flags and cost over a time window, for one tenant or all (definitions: docs/kpi.md).

A run counts in the window its ``started_at`` falls in (``since`` <= started < ``until``);
ledger events (review decisions, assertions) count by their ``created_at``. Everything is
counted from stored rows, so the figures are the same from any process, and contain no
personal data: channels, statuses, counts, durations and costs.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from sealwright.clock import rfc3339
from sealwright.domain.events import EventTag
from sealwright.errors import NotFound
from sealwright.storage.models import ChannelVerification, Envelope, LedgerEvent, Tenant

__all__ = ["ChannelKpi", "KpiReport", "kpi_report", "resolve_tenant"]

#: Outcomes a run ends with (``superseded`` is a run abandoned for a new one, not a result).
FINAL = ("passed", "failed", "expired", "locked", "escalated")
STATUSES = ("pending", *FINAL, "superseded")
#: Channels that are themselves the escalation path: never counted as escalating.
REVIEW_CHANNELS = frozenset({"manual-review", "assisted"})


@dataclass(frozen=True, slots=True)
class ChannelKpi:
    channel: str
    #: Runs started in the window, by status (every status present, 0 when none).
    statuses: dict[str, int]
    runs: int
    #: Runs with a final outcome (FINAL).
    final: int
    success_rate: float | None
    escalation_rate: float | None
    #: Median of completed_at - started_at over the passed runs, in seconds.
    median_seconds: float | None
    unit_cost: float
    cost: float
    cost_per_success: float | None


@dataclass(frozen=True, slots=True)
class KpiReport:
    since: datetime | None
    until: datetime | None
    tenant: str | None
    channels: list[ChannelKpi]
    runs: int
    final: int
    passed: int
    success_rate: float | None
    escalated: int
    escalation_rate: float | None
    #: Manual reviews decided in the window for recipients with an escalated run.
    reviews_decided: int
    reviews_approved: int
    review_overturn_rate: float | None
    #: ``system:assertion:issued`` in the window: {channel: {result: count}}.
    assertions: dict[str, dict[str, int]]
    total_cost: float
    cost_per_verification: float | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = rfc3339(self.since) if self.since else None
        data["until"] = rfc3339(self.until) if self.until else None
        return data


def resolve_tenant(session: Session, name_or_id: str) -> str:
    """A tenant's id from its name (or id)."""
    found = session.execute(
        select(Tenant.id).where(or_(Tenant.name == name_or_id, Tenant.id == name_or_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("no such tenant")
    return found


def kpi_report(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    tenant_id: str | None = None,
    unit_costs: Mapping[str, float] | None = None,
) -> KpiReport:
    costs = dict(unit_costs or {})
    runs = _run_filter(since, until, tenant_id)
    counts: dict[str, Counter[str]] = {}
    q = (
        select(ChannelVerification.channel, ChannelVerification.status, func.count())
        .join(Envelope, Envelope.id == ChannelVerification.envelope_id)
        .where(*runs)
        .group_by(ChannelVerification.channel, ChannelVerification.status)
    )
    for channel, status, n in session.execute(q):
        counts.setdefault(channel, Counter())[status] += n
    durations: dict[str, list[float]] = {}
    q2 = (
        select(
            ChannelVerification.channel,
            ChannelVerification.started_at,
            ChannelVerification.completed_at,
        )
        .join(Envelope, Envelope.id == ChannelVerification.envelope_id)
        .where(*runs, ChannelVerification.status == "passed")
    )
    for channel, started, completed in session.execute(q2):
        if completed is not None:
            durations.setdefault(channel, []).append((completed - started).total_seconds())
    channels = [
        _channel(name, counts[name], durations.get(name, []), costs.get(name, 0.0))
        for name in sorted(counts)
    ]
    decided, approved = _reviews(session, since, until, tenant_id)
    flagging = [c for c in channels if c.channel not in REVIEW_CHANNELS]
    escalated = sum(c.statuses["escalated"] for c in flagging)
    passed = sum(c.statuses["passed"] for c in channels)
    final = sum(c.final for c in channels)
    total_cost = round(sum(c.cost for c in channels), 6)
    return KpiReport(
        since=since,
        until=until,
        tenant=tenant_id,
        channels=channels,
        runs=sum(c.runs for c in channels),
        final=final,
        passed=passed,
        success_rate=_rate(passed, final),
        escalated=escalated,
        escalation_rate=_rate(escalated, sum(c.final for c in flagging)),
        reviews_decided=decided,
        reviews_approved=approved,
        review_overturn_rate=_rate(approved, decided),
        assertions=_assertions(session, since, until, tenant_id),
        total_cost=total_cost,
        cost_per_verification=_rate(total_cost, passed, digits=6),
    )


def _channel(name: str, counts: Counter[str], durations: list[float], unit: float) -> ChannelKpi:
    statuses = {s: counts.get(s, 0) for s in STATUSES}
    for other, n in counts.items():  # a status this code does not know yet still counts
        statuses.setdefault(other, n)
    runs = sum(statuses.values())
    final = sum(statuses[s] for s in FINAL)
    cost = round(runs * unit, 6)
    return ChannelKpi(
        channel=name,
        statuses=statuses,
        runs=runs,
        final=final,
        success_rate=_rate(statuses["passed"], final),
        escalation_rate=None if name in REVIEW_CHANNELS else _rate(statuses["escalated"], final),
        median_seconds=round(statistics.median(durations), 3) if durations else None,
        unit_cost=unit,
        cost=cost,
        cost_per_success=_rate(cost, statuses["passed"], digits=6),
    )


def _rate(part: float, whole: float, *, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _run_filter(
    since: datetime | None, until: datetime | None, tenant_id: str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if since is not None:
        where.append(ChannelVerification.started_at >= since)
    if until is not None:
        where.append(ChannelVerification.started_at < until)
    if tenant_id is not None:
        where.append(Envelope.tenant_id == tenant_id)
    return where


def _events(
    session: Session,
    tag: EventTag,
    since: datetime | None,
    until: datetime | None,
    tenant_id: str | None,
) -> list[dict[str, Any]]:
    """The ``data`` of each event with ``tag`` in the window."""
    q = select(LedgerEvent.leaf).where(LedgerEvent.tag == str(tag))
    if since is not None:
        q = q.where(LedgerEvent.created_at >= since)
    if until is not None:
        q = q.where(LedgerEvent.created_at < until)
    if tenant_id is not None:
        q = q.where(LedgerEvent.tenant_id == tenant_id)
    out = []
    for leaf in session.execute(q.order_by(LedgerEvent.idx)).scalars():
        data = orjson.loads(leaf).get("data") or {}
        out.append(data if isinstance(data, dict) else {})
    return out


def _reviews(
    session: Session, since: datetime | None, until: datetime | None, tenant_id: str | None
) -> tuple[int, int]:
    """Decided manual reviews of recipients who had an escalated run, and how many of those
    the reviewer approved: an approval overturns the escalation (a false positive)."""
    decisions = [
        d
        for d in _events(session, EventTag.REVIEW_DECIDED, since, until, tenant_id)
        if d.get("kind") == "manual-review" and isinstance(d.get("recipient"), str)
    ]
    recipients = {d["recipient"] for d in decisions}
    if not recipients:
        return 0, 0
    escalated = set(
        session.execute(
            select(ChannelVerification.recipient_id).where(
                ChannelVerification.recipient_id.in_(sorted(recipients)),
                ChannelVerification.status == "escalated",
            )
        ).scalars()
    )
    after = [d for d in decisions if d["recipient"] in escalated]
    return len(after), sum(1 for d in after if d.get("decision") == "approve")


def _assertions(
    session: Session, since: datetime | None, until: datetime | None, tenant_id: str | None
) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for d in _events(session, EventTag.ASSERTION_ISSUED, since, until, tenant_id):
        out.setdefault(str(d.get("channel")), Counter())[str(d.get("result"))] += 1
    return {c: dict(sorted(r.items())) for c, r in sorted(out.items())}
