"""Operator commands: tenants and API clients."""

from __future__ import annotations

import click

from sealwright.errors import SealwrightError
from sealwright.identity.scopes import ALL_SCOPES, parse_scopes


def _runtime(ctx: click.Context):  # type: ignore[no-untyped-def]
    from sealwright.cli.evidence_cmds import _NoMail
    from sealwright.services.runtime import Runtime

    return Runtime.build(ctx.obj["settings"], mailer=_NoMail())


@click.group("tenants")
def tenants() -> None:
    """Tenants (organisations)."""


@tenants.command("create")
@click.argument("name")
@click.pass_context
def tenants_create(ctx: click.Context, name: str) -> None:
    from sealwright.services.admin import create_tenant

    rt = _runtime(ctx)
    try:
        with rt.db.transaction() as session:
            tenant = create_tenant(rt, session, name)
        click.echo(f"tenant {tenant.id} ({tenant.name})")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


@click.group("clients")
def clients() -> None:
    """OAuth API clients (client credentials)."""


@clients.command("create")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--name", default="integration")
@click.option(
    "--scopes",
    default=" ".join(sorted(s.value for s in ALL_SCOPES)),
    show_default=True,
    help="Space-separated scopes.",
)
@click.pass_context
def clients_create(ctx: click.Context, tenant_name: str, name: str, scopes: str) -> None:
    """Create a client; its secret is printed once and stored only as a hash."""
    from sealwright.services.admin import create_client, tenant_by_name

    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    rt = _runtime(ctx)
    try:
        with rt.db.transaction() as session:
            client, secret = create_client(
                rt, session, tenant_by_name(session, tenant_name), name, wanted
            )
        click.echo(f"client_id:     {client.id}")
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown only now; store it in your secret manager.")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


COMMANDS = [tenants, clients]
