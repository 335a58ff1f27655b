"""``sealwright kpi``: verification KPIs over a time window (G5; services/kpi.py,
docs/kpi.md) as a table, or as JSON with ``--json``."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sealwright.errors import SealwrightError
from sealwright.services.kpi import KpiReport


def _when(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("use an ISO 8601 date or time, e.g. 2026-11-01T00:00Z") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@click.command("kpi")
@click.option("--since", callback=_when, metavar="ISO", help="Runs started at or after this.")
@click.option("--until", callback=_when, metavar="ISO", help="Runs started before this.")
@click.option("--tenant", "tenant", metavar="NAME", help="One tenant (name or id).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def kpi(
    ctx: click.Context,
    since: datetime | None,
    until: datetime | None,
    tenant: str | None,
    as_json: bool,
) -> None:
    """Verification success, time to complete, escalations, review overturns and cost."""
    from sealwright.cli.credentials_cmds import logs_to_stderr
    from sealwright.cli.main import echo_json
    from sealwright.cli.operator_cmds import _runtime
    from sealwright.services.kpi import kpi_report, resolve_tenant

    logs_to_stderr()  # stdout is the report's; the runtime logs as it starts
    rt = _runtime(ctx)
    try:
        with rt.db.transaction() as session:
            tenant_id = resolve_tenant(session, tenant) if tenant else None
            report = kpi_report(
                session,
                since=since,
                until=until,
                tenant_id=tenant_id,
                unit_costs=rt.settings.kpi_unit_costs,
            )
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    if as_json:
        echo_json(report.as_dict())
    else:
        for line in table(report):
            click.echo(line)


def table(report: KpiReport) -> list[str]:
    since = report.since.isoformat() if report.since else "the beginning"
    until = report.until.isoformat() if report.until else "now"
    lines = [f"KPIs from {since} to {until}, tenant: {report.tenant or 'all'}", ""]
    head = ("channel", "runs", "final", "passed", "success", "escalated", "median s", "cost")
    rows = [(*head, "cost/pass")]
    for c in report.channels:
        rows.append(
            (
                c.channel,
                str(c.runs),
                str(c.final),
                str(c.statuses["passed"]),
                _pct(c.success_rate),
                _pct(c.escalation_rate),
                "-" if c.median_seconds is None else f"{c.median_seconds:.1f}",
                f"{c.cost:.2f}",
                _num(c.cost_per_success),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [
            v.rjust(w) for v, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines += [
        "",
        f"runs {report.runs}, final {report.final}, passed {report.passed}, "
        f"success {_pct(report.success_rate)}",
        f"escalated {report.escalated}, escalation rate {_pct(report.escalation_rate)}",
        f"manual reviews after escalation: {report.reviews_decided} decided, "
        f"{report.reviews_approved} approved, overturn rate {_pct(report.review_overturn_rate)}",
        f"total cost {report.total_cost:.2f}, "
        f"cost per verification {_num(report.cost_per_verification)}",
    ]
    if report.assertions:
        issued = "; ".join(
            f"{channel} " + ", ".join(f"{result} {n}" for result, n in results.items())
            for channel, results in report.assertions.items()
        )
        lines.append(f"assertions issued: {issued}")
    return lines


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


COMMANDS = [kpi]
