"""``serve``, ``worker`` and ``demo``."""

from __future__ import annotations

import io
import signal
import threading
from pathlib import Path

import click

from sealwright.config import Settings


def _bootstrap_demo(rt, public_url: str) -> tuple[list[str], tuple[str, str] | None]:  # type: ignore[no-untyped-def]
    """A demo tenant (and, on first run, an API client whose secret is printed once) and a
    fresh two-signer envelope, sent, so its first signing link can be printed."""
    from sealwright.domain.envelopes import FieldKind, RecipientRole, Rect
    from sealwright.errors import NotFound
    from sealwright.services.admin import create_client, create_tenant, tenant_by_name
    from sealwright.services.demo import SIGNER_BOXES, DemoPeople, demo_pdf
    from sealwright.services.envelopes import EnvelopeService, FieldSpec, RecipientSpec

    people = DemoPeople()
    credentials = None
    with rt.db.transaction() as session:
        try:
            tenant = tenant_by_name(session, "demo")
        except NotFound:
            tenant = create_tenant(rt, session, "demo")
            client, secret = create_client(rt, session, tenant, "demo integration")
            credentials = (client.id, secret)
        service = EnvelopeService(rt)
        env = service.create(
            session,
            tenant_id=tenant.id,
            actor="operator:serve",
            title="Mutual NDA (demo)",
            message="A demo envelope created by `sealwright serve`.",
            recipients=[
                RecipientSpec(people.first_name, people.first_email, RecipientRole.SIGNER, 1),
                RecipientSpec(people.second_name, people.second_email, RecipientRole.SIGNER, 2),
            ],
            expires_in_days=30,
        )
        doc = service.add_document(
            session,
            env,
            actor="operator:serve",
            name="mutual-nda.pdf",
            stream=io.BytesIO(demo_pdf()),
        )
        recipients = service.recipients(session, env.id)
        specs = [
            FieldSpec(
                doc.id,
                r.id,
                FieldKind(kind),
                Rect(1, *box),
                label="Company" if kind == "text" else kind.title(),
            )
            for r, boxes in zip(recipients, SIGNER_BOXES, strict=True)
            for kind, box in boxes.items()
        ]
        service.place_fields(session, env, actor="operator:serve", fields=specs)
        links = service.send(session, env, actor="operator:serve")
    return links, credentials


@click.command()
@click.option("--host", default=None, help="Overrides SEALWRIGHT_HOST (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Overrides SEALWRIGHT_PORT (8000).")
@click.option(
    "--demo/--no-demo",
    default=None,
    help="Create a ready demo envelope (default: on with the local mail capture).",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, demo: bool | None) -> None:
    """Run the service: API, signer pages and (by default) the in-process worker."""
    import uvicorn

    from sealwright.services.runtime import Runtime
    from sealwright.web.app import create_app

    settings: Settings = ctx.obj["settings"]
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    rt = Runtime.build(settings)
    base = settings.public_url.rstrip("/")
    click.echo(f"Sealwright {_version()} — data in {settings.data_dir.resolve()}")
    if rt.mail_capture is not None:
        click.secho(
            "DEVELOPMENT MODE: local keyring, local TSA, mail captured locally "
            "(nothing is delivered).",
            fg="yellow",
        )
    if demo if demo is not None else rt.mail_capture is not None:
        links, credentials = _bootstrap_demo(rt, base)
        if credentials:
            click.echo(f"Demo API client:  {credentials[0]}")
            click.echo(f"Demo API secret:  {credentials[1]}   (shown once)")
        click.echo(f"Demo signing link: {links[0]}")
    if rt.mail_capture is not None:
        click.echo(f"Captured mail:     {base}/dev/mail")
    click.echo(f"API docs:          {base}/docs")
    app = create_app(rt)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        # Never uvicorn's own X-Forwarded-For handling (it trusts 127.0.0.1 by default):
        # the service honours the header only from ``trusted_proxies`` (client_address.py).
        proxy_headers=False,
        # SIGTERM: stop accepting, let in-flight requests finish up to this, then stop
        # the in-process worker (which releases the jobs it still holds).
        timeout_graceful_shutdown=max(1, int(settings.worker_shutdown_timeout)),
    )
    try:
        _draining_server(config, app.state.draining).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the signal once it has shut down; Ctrl-C is a normal stop.
        pass
    finally:
        rt.close()


def _draining_server(config, draining: threading.Event):  # type: ignore[no-untyped-def]
    """uvicorn's server, marking the app as draining (``/readyz`` answers 503) as soon as
    a shutdown signal arrives, before it stops listening."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame) -> None:  # type: ignore[no-untyped-def]
            draining.set()
            super().handle_exit(sig, frame)

    return Server(config)


@click.command()
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Overrides SEALWRIGHT_WORKER_THREADS.",
)
@click.pass_context
def worker(ctx: click.Context, threads: int | None) -> None:
    """Run durable jobs (sealing, mail, webhooks, reminders, expiry, checkpoints) until
    SIGTERM/SIGINT; run several on PostgreSQL. On SIGTERM it takes no new job, lets the ones
    in hand finish (up to SEALWRIGHT_WORKER_SHUTDOWN_TIMEOUT) and gives back the rest."""
    from sealwright.jobs.handlers import build_worker
    from sealwright.services.runtime import Runtime

    settings: Settings = ctx.obj["settings"]
    if threads is None:
        threads = settings.worker_threads
    rt = Runtime.build(settings)
    w = build_worker(rt)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    w.start(threads)
    click.echo(f"worker running ({threads} thread(s))")
    stop.wait()
    click.echo("worker stopping: finishing the jobs in hand")
    w.stop(settings.worker_shutdown_timeout)
    rt.close()
    click.echo("worker stopped")


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--url", default=None, help="Drive an already running server instead.")
@click.option("--client-id", envvar="SEALWRIGHT_CLIENT_ID", default=None)
@click.option("--client-secret", envvar="SEALWRIGHT_CLIENT_SECRET", default=None)
@click.option(
    "--scenario",
    type=click.Choice(["standard", "high-risk"]),
    default="standard",
    show_default=True,
    help="standard: two signers with emailed codes. high-risk: one signer who must pass a "
    "phone callback, the signed-QR second device, a video challenge and a manual review "
    "(simulators and a scripted reviewer; local only).",
)
@click.pass_context
def demo(
    ctx: click.Context,
    out_dir: Path,
    url: str | None,
    client_id: str | None,
    client_secret: str | None,
    scenario: str,
) -> None:
    """Run a complete ceremony over HTTP; write sealed.pdf, evidence.zip and trust.json to
    OUT."""
    from sealwright.cli.demo_driver import DemoDriver, DemoError, write_outputs

    try:
        if scenario == "high-risk":
            if url:
                raise click.UsageError(
                    "--scenario high-risk drives the local simulators: it cannot use --url"
                )
            from sealwright.cli.demo_high_risk import run_local

            result, trust = run_local(ctx.obj["overrides"].get("data_dir"))
        elif url:
            if not (client_id and client_secret):
                raise click.UsageError("--url needs --client-id and --client-secret")
            driver = DemoDriver(url, client_id, client_secret)
            try:
                result = driver.run()
                trust = driver.api.get("/.well-known/sealwright-trust.json").content
            finally:
                driver.close()
        else:
            result, trust = _local_demo(ctx.obj["overrides"].get("data_dir"))
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    write_outputs(result, trust, out_dir)
    click.echo(f"envelope {result.envelope_id} completed and sealed")
    click.echo(f"signers:  {', '.join(result.signers)}")
    for name in ("sealed.pdf", "evidence.zip", "trust.json"):
        click.echo(f"wrote {out_dir / name} ({(out_dir / name).stat().st_size} bytes)")
    click.echo(
        f"verify:   sealwright verify {out_dir / 'evidence.zip'} --trust {out_dir / 'trust.json'}"
    )


def _local_demo(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from sealwright.cli.demo_local import local_service
    from sealwright.services.evidence_export import trust_store

    with local_service(data_dir) as (rt, driver):
        return driver.run(), trust_store(rt).to_json()


def _version() -> str:
    from sealwright import __version__

    return __version__


COMMANDS = [serve, worker, demo]
