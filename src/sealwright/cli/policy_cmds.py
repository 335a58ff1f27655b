"""Risk policies (D3): ``sealwright policy check FILE`` and ``sealwright policy explain``.

Both are pure: they read the policy (and, for ``explain --signals``, a JSON description of
a signal context and optionally an offline geolocation database) and print; no database,
no runtime, no keys.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sealwright.errors import ConfigurationError, SealwrightError


@click.group("policy")
def policy() -> None:
    """Risk policies: check a file, explain a decision."""


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def policy_check(file: Path, as_json: bool) -> None:
    """Validate FILE against the schema and the semantic rules.

    Exit status 0 if valid, 1 if not (each problem printed as file:line:column: path: message).
    """
    from sealwright.risk.policy import PolicyInvalid, load_policy

    try:
        loaded = load_policy(file)
    except PolicyInvalid as exc:
        if as_json:
            problems = [
                {"line": p.line, "column": p.column, "path": p.path, "message": p.message}
                for p in exc.problems
            ]
            click.echo(json.dumps({"valid": False, "problems": problems}, indent=2))
        else:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            click.echo(f"{file}: invalid ({len(exc.problems)} problem(s))", err=True)
        sys.exit(1)
    except ConfigurationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        result = {"valid": True, "version": loaded.version, "policy_hash": loaded.hash}
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"{file}: valid (version {loaded.version}, sha256 {loaded.hash})")


def _read_json(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text("utf-8")
        return json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"cannot read signals JSON {source}: {exc}") from exc


@policy.command("explain")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Policy file (default: the built-in default policy).",
)
@click.option("--signals", "signals_file", default=None, help="Signal context JSON file, or -.")
@click.option("--score", type=click.IntRange(0, 100), default=None, help="A risk score 0-100.")
@click.option("--document-class", default=None, help="The document class (e.g. payroll).")
@click.option(
    "--geoip-db",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Offline MaxMind-format database to locate the context's addresses.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def policy_explain(
    policy_file: Path | None,
    signals_file: str | None,
    score: int | None,
    document_class: str | None,
    geoip_db: Path | None,
    as_json: bool,
) -> None:
    """Show the decision the policy makes for a score or a set of signals (exactly one)."""
    from sealwright.risk.context import context_from_json
    from sealwright.risk.decision import decide
    from sealwright.risk.policy import PolicyInvalid, default_policy, load_policy
    from sealwright.risk.score import RiskAssessment, assess
    from sealwright.risk.signals import GeoIpDatabase, enrich

    if (signals_file is None) == (score is None):
        raise click.UsageError("give exactly one of --signals and --score")
    try:
        loaded = default_policy() if policy_file is None else load_policy(policy_file)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc
    risk: RiskAssessment | int
    output: dict[str, object] = {}
    if signals_file is not None:
        try:
            ctx = context_from_json(_read_json(signals_file))
            if geoip_db is not None:
                database = GeoIpDatabase(geoip_db)
                try:
                    ctx = enrich(ctx, database)
                finally:
                    database.close()
        except SealwrightError as exc:
            raise click.ClickException(str(exc)) from exc
        risk = assess(ctx, loaded.signals())
        output["assessment"] = risk.to_json()
        document_class = document_class or ctx.document_class
    else:
        risk = score if score is not None else 0  # not None: exactly one was given
    decision = decide(loaded, risk, document_class)
    output["decision"] = decision.to_json()
    if as_json:
        click.echo(json.dumps(output, indent=2, sort_keys=True))
        return
    for line in decision.explanation:
        click.echo(line)
    click.echo(f"required: {' + '.join(decision.all_of)}")
    if decision.any_of:
        click.echo(f"and one of: {', '.join(decision.any_of)}")
    for channel, alternatives in decision.fallbacks.items():
        click.echo(f"fallback {channel} -> {', '.join(alternatives)}")
    click.echo(f"max auth age: {decision.max_auth_age_seconds} s")
    click.echo(f"policy {decision.policy_version} sha256 {decision.policy_hash}")


COMMANDS = [policy]
