"""Evidence commands: verify (offline, no database), evidence export, trust export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sealwright.errors import SealwrightError


@click.command()
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    "trust_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The trust file the auditor pins (from `sealwright trust export`).",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    metavar="VKEY",
    help="A witness cosignature key to pin (repeatable), besides those in TRUST.",
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(min=0),
    default=None,
    help="How many pinned witnesses must have cosigned the checkpoint.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(
    bundle: Path,
    trust_file: Path,
    witnesses: tuple[str, ...],
    min_witnesses: int | None,
    as_json: bool,
) -> None:
    """Verify an evidence bundle offline, trusting only the keys in TRUST.

    Exit status 0 only if every check holds."""
    from sealwright.evidence.trust import TrustStore
    from sealwright.evidence.verify import verify_bundle

    try:
        trust = TrustStore.from_json(trust_file.read_bytes()).with_witnesses(
            witnesses, min_witnesses
        )
    except (SealwrightError, ValueError) as exc:
        raise click.ClickException(f"cannot use trust file {trust_file}: {exc}") from exc
    report = verify_bundle(bundle.read_bytes(), trust)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
    else:
        click.echo(report.to_text())
    sys.exit(0 if report.ok else 1)


@click.group("evidence")
def evidence() -> None:
    """Evidence bundles."""


@evidence.command("export")
@click.argument("envelope_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def evidence_export(ctx: click.Context, envelope_id: str, output: Path) -> None:
    """Write the evidence bundle of ENVELOPE_ID to a zip file."""
    from sealwright.services.evidence_export import export_bundle
    from sealwright.services.runtime import Runtime

    rt = Runtime.build(ctx.obj["settings"], mailer=_NoMail())
    try:
        data = export_bundle(rt, envelope_id, actor="operator:cli")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    output.write_bytes(data)
    click.echo(f"wrote {output} ({len(data)} bytes)")


@click.group("trust")
def trust() -> None:
    """What auditors pin."""


@trust.command("export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def trust_export(ctx: click.Context, output: Path) -> None:
    """Write the public keys and certificates an auditor pins (trust.json)."""
    from sealwright.services.evidence_export import trust_store
    from sealwright.services.runtime import Runtime

    rt = Runtime.build(ctx.obj["settings"], mailer=_NoMail())
    try:
        output.write_bytes(trust_store(rt).to_json())
    finally:
        rt.close()
    click.echo(f"wrote {output}")


class _NoMail:
    """Offline commands never send mail."""

    def send(self, message: object) -> None:
        raise RuntimeError("this command does not send mail")


COMMANDS = [verify, evidence, trust]
