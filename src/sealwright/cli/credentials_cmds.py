"""``sealwright credentials report``: long-lived, unused and over-privileged API clients
(B1; services/credentials_report.py). Exits 1 when anything is flagged, so it can run from
cron and alert."""

from __future__ import annotations

import sys

import click


def logs_to_stderr() -> None:
    """Keep stdout for the JSON document: the runtime logs as it starts (keys, TSA)."""
    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))


@click.group("credentials")
def credentials() -> None:
    """Audit API credentials."""


@credentials.command("report")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--max-secret-age",
    type=click.IntRange(1, 3650),
    default=None,
    metavar="DAYS",
    help="Flag secrets older than this (default: client_secret_max_age_days, 90).",
)
@click.option(
    "--unused-days",
    type=click.IntRange(1, 3650),
    default=None,
    metavar="DAYS",
    help="The window for unused clients, scopes and folders (default: client_unused_days).",
)
@click.pass_context
def report(
    ctx: click.Context, as_json: bool, max_secret_age: int | None, unused_days: int | None
) -> None:
    """List every API client and what is wrong with its credentials; exit 1 if anything is."""
    from sealwright.cli.main import echo_json
    from sealwright.cli.operator_cmds import _runtime
    from sealwright.services.credentials_report import credentials_report

    if as_json:
        logs_to_stderr()
    rt = _runtime(ctx)
    try:
        max_age = max_secret_age or rt.settings.client_secret_max_age_days
        window = unused_days or rt.settings.client_unused_days
        with rt.db.transaction() as session:
            rows = credentials_report(
                session, now=rt.clock.now(), max_secret_age_days=max_age, unused_days=window
            )
    finally:
        rt.close()
    flagged = [r for r in rows if r.findings]
    if as_json:
        echo_json(
            {
                "max_secret_age_days": max_age,
                "unused_days": window,
                "flagged": len(flagged),
                "clients": [r.as_dict() for r in rows],
            }
        )
    else:
        for r in rows:
            state = "revoked" if r.revoked else ("FLAGGED" if r.findings else "ok")
            click.echo(f"{r.client}  {r.tenant}  {r.name!r}  {state}")
            for f in r.findings:
                click.echo(f"    {f.kind}: {f.detail}")
        click.echo(f"{len(flagged)} of {len(rows)} clients flagged")
    if flagged:
        sys.exit(1)


COMMANDS = [credentials]
