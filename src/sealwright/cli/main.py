"""``sealwright`` command line: thin wrappers over the services (G3)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sealwright.config import Settings, load_settings
from sealwright.errors import SealwrightError


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


@click.group()
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="SEALWRIGHT_CONFIG",
    help="TOML settings file.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Overrides SEALWRIGHT_DATA_DIR.",
)
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, data_dir: Path | None) -> None:
    """Sealwright: zero-trust e-signatures with verifiable evidence."""
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    ctx.obj = {"config_file": config_file, "overrides": overrides}
    try:
        ctx.obj["settings"] = load_settings(config_file, **overrides)
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc


def main() -> None:
    from sealwright.cli import (
        console_cmds,
        credentials_cmds,
        db_cmds,
        evidence_cmds,
        kpi_cmds,
        ledger_cmds,
        operator_cmds,
        policy_cmds,
        qr_cmds,
        serve_cmds,
        webhook_cmds,
        witness_cmds,
    )

    groups = (serve_cmds, evidence_cmds, operator_cmds, ledger_cmds, witness_cmds, db_cmds)
    for command in kpi_cmds.COMMANDS:
        cli.add_command(command)
    for group in (*groups, console_cmds, credentials_cmds, webhook_cmds, qr_cmds, policy_cmds):
        for command in group.COMMANDS:
            cli.add_command(command)
    try:
        cli(standalone_mode=True)
    except SealwrightError as exc:  # pragma: no cover - commands convert their own
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))
