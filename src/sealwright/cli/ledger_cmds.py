"""Ledger commands: ``ledger check`` recomputes the audit log from the database (E4, H3)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from sealwright.errors import SealwrightError


@click.group("ledger")
def ledger() -> None:
    """The audit ledger."""


@ledger.command("check")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint saved elsewhere (an evidence bundle's ledger/checkpoint.txt, "
    "a witness's cosigned checkpoint); repeatable. Each must be consistent with the database.",
)
@click.option(
    "--trust",
    "trust_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust only the log keys and TSA roots of this trust file "
    "(default: this installation's own).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def check(
    ctx: click.Context, checkpoints: tuple[Path, ...], trust_file: Path | None, as_json: bool
) -> None:
    """Recompute every leaf, chain and root from the stored rows and compare them with every
    signed checkpoint: in the database, in <data dir>/ledger/checkpoints and given here.

    Reports each changed, missing, reordered or inserted event by index. Exit status 0 only
    if everything holds."""
    from sealwright.evidence.trust import TrustStore
    from sealwright.services.ledger_check import check_ledger
    from sealwright.services.runtime import Runtime

    notes = []
    for path in checkpoints:
        try:
            notes.append(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read checkpoint {path}: {exc}") from exc
    trust = None
    if trust_file is not None:
        try:
            trust = TrustStore.from_json(trust_file.read_bytes())
        except (SealwrightError, OSError) as exc:
            raise click.ClickException(f"cannot use trust file {trust_file}: {exc}") from exc
    # Log lines go to stderr: stdout carries the report alone (and --json stays parseable).
    with contextlib.redirect_stdout(sys.stderr):
        rt = Runtime.build(ctx.obj["settings"], mailer=_NoMail())
        try:
            if trust is not None and trust.log_origin != rt.checkpoints.origin:
                raise click.ClickException(
                    f"the trust file pins the log {trust.log_origin!r}, "
                    f"this installation is {rt.checkpoints.origin!r}"
                )
            report = check_ledger(
                rt,
                extra_checkpoints=notes,
                verifiers=None if trust is None else trust.checkpoint_keys,
                tsa_roots=None if trust is None else trust.tsa_root_certificates(),
            )
        finally:
            rt.close()
    if as_json:
        data = report.to_dict()
        data["extra_checkpoints"] = [str(p) for p in checkpoints]
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for number, path in enumerate(checkpoints, start=1):
            click.echo(f"extra checkpoint #{number} is {path}")
        click.echo(report.to_text(), nl=False)
    sys.exit(0 if report.ok else 1)


class _NoMail:
    """Offline commands never send mail."""

    def send(self, message: object) -> None:
        raise RuntimeError("this command does not send mail")


COMMANDS = [ledger]
