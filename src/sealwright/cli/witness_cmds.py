"""``witness serve`` and ``witness vkey``: run an independent C2SP tlog-witness.

The witness shares nothing with the Sealwright server but this package: its own state
directory, its own key, its own process -- run it on another machine, by another operator,
or it adds nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from sealwright.errors import SealwrightError

_STATE_DIR = click.option(
    "--state-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The witness's own directory (key and per-log state); created 0700 if missing.",
)


@click.group("witness")
def witness() -> None:
    """An independent witness: cosigns a log's checkpoints only if they are consistent."""


@witness.command("serve")
@_STATE_DIR
@click.option(
    "--log-vkey",
    "log_vkeys",
    multiple=True,
    help="A log's note verifier key (<origin>+<id>+<key>); repeat for several logs or for "
    "a log's rotated keys. For each origin given, exactly these keys are trusted from now on.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--name",
    default=None,
    help="Cosigner name, fixed on first run (default: sealwright.invalid/witness-<hex>).",
)
def serve(
    state_dir: Path, log_vkeys: tuple[str, ...], host: str, port: int, name: str | None
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness) until interrupted."""
    import uvicorn

    from sealwright.clock import SystemClock
    from sealwright.witness.server import create_witness_app
    from sealwright.witness.service import Witness
    from sealwright.witness.state import (
        FileWitnessStore,
        configure_logs,
        load_or_create_signer,
    )

    try:
        signer, created = load_or_create_signer(state_dir, name=name, clock=SystemClock())
        store = FileWitnessStore.open(state_dir)
        configure_logs(store, log_vkeys)
        origins = store.origins()
        records = [store.get(origin) for origin in origins]
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    if not origins:
        raise click.UsageError("no log to witness yet: give --log-vkey")
    if created:
        click.echo(f"created a witness key in {state_dir}")
    click.echo(f"witness vkey: {signer.vkey}")
    for record in records:
        if record is not None:
            click.echo(f"witnessing {record.origin} (cosigned size {record.size})")
    click.echo(f"listening on http://{host}:{port}")
    app = create_witness_app(Witness(signer=signer, store=store))
    uvicorn.run(app, host=host, port=port, log_level="info")


@witness.command("vkey")
@_STATE_DIR
def vkey(state_dir: Path) -> None:
    """Print the witness's cosignature verifier key (logs and auditors pin it)."""
    from sealwright.clock import SystemClock
    from sealwright.witness.state import load_signer

    try:
        signer = load_signer(state_dir, clock=SystemClock())
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(signer.vkey)


COMMANDS = [witness]
