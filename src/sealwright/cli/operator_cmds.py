"""Operator commands: tenants and API clients (create, rotate, revoke, list)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import click

from sealwright.errors import SealwrightError
from sealwright.identity.scopes import ALL_SCOPES, parse_folders, parse_scopes

if TYPE_CHECKING:
    from sealwright.services.admin import ClientInfo


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
@click.option(
    "--folders",
    default=None,
    help="Space-separated folders (security zones) it may touch; default: every folder.",
)
@click.pass_context
def clients_create(
    ctx: click.Context, tenant_name: str, name: str, scopes: str, folders: str | None
) -> None:
    """Create a client; its secret is printed once and stored only as a hash."""
    from sealwright.services.admin import create_client, tenant_by_name

    try:
        wanted = parse_scopes(scopes)
        zones = None if folders is None else parse_folders(folders)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    rt = _runtime(ctx)
    try:
        with rt.db.transaction() as session:
            client, secret = create_client(
                rt, session, tenant_by_name(session, tenant_name), name, wanted, zones
            )
        click.echo(f"client_id:     {client.id}")
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown only now; store it in your secret manager.")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


@clients.command("rotate")
@click.argument("client_id")
@click.option(
    "--overlap-hours",
    type=click.IntRange(0, 24 * 30),
    default=None,
    help="Hours the previous secret keeps working (default: client_secret_overlap_hours, "
    "24); 0 refuses it at once.",
)
@click.pass_context
def clients_rotate(ctx: click.Context, client_id: str, overlap_hours: int | None) -> None:
    """Give a client a new secret (printed once); the old one works until the overlap ends."""
    from sealwright.services.admin import rotate_client

    rt = _runtime(ctx)
    hours = rt.settings.client_secret_overlap_hours if overlap_hours is None else overlap_hours
    try:
        with rt.db.transaction() as session:
            client, secret = rotate_client(rt, session, client_id, overlap=timedelta(hours=hours))
            until = client.previous_secret_expires_at
        click.echo(f"client_id:     {client.id}")
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown only now; store it in your secret manager.")
        if until is None:
            click.echo("The previous secret no longer works.")
        else:
            click.echo(f"The previous secret works until {until.isoformat()}.")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


@clients.command("revoke")
@click.argument("client_id")
@click.pass_context
def clients_revoke(ctx: click.Context, client_id: str) -> None:
    """Revoke a client now: no new tokens, and its live tokens are refused on next use."""
    from sealwright.services.admin import revoke_client

    rt = _runtime(ctx)
    try:
        with rt.db.transaction() as session:
            client = revoke_client(rt, session, client_id)
        click.echo(f"client {client.id} revoked")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


@clients.command("list")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant's clients.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def clients_list(ctx: click.Context, tenant_name: str | None, as_json: bool) -> None:
    """Every client: scopes, folders, secret age, last use, revocation. No secrets."""
    from sealwright.cli.credentials_cmds import logs_to_stderr
    from sealwright.cli.main import echo_json
    from sealwright.services.admin import list_clients, tenant_by_name

    if as_json:
        logs_to_stderr()
    rt = _runtime(ctx)
    try:
        with rt.db.transaction() as session:
            tenant = tenant_by_name(session, tenant_name) if tenant_name else None
            rows = list_clients(session, tenant)
        now = rt.clock.now()
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    if as_json:
        echo_json([_client_json(c) for c in rows])
        return
    for c in rows:
        state = "revoked" if c.revoked_at else "active"
        used = c.last_used_at.isoformat() if c.last_used_at else "never"
        folders = " ".join(c.folders) if c.folders is not None else "(all)"
        click.echo(
            f"{c.id}  {c.tenant}  {c.name!r}  {state}  secret {(now - c.secret_created_at).days}d"
            f"  last used {used}\n    scopes: {' '.join(c.scopes)}\n    folders: {folders}"
        )


def _client_json(c: ClientInfo) -> dict[str, object]:
    def iso(when: datetime | None) -> str | None:
        return when.isoformat() if when else None

    return {
        "id": c.id,
        "tenant": c.tenant,
        "name": c.name,
        "scopes": c.scopes,
        "folders": c.folders,
        "created_at": iso(c.created_at),
        "secret_created_at": iso(c.secret_created_at),
        "previous_secret_valid_until": iso(c.previous_secret_valid_until),
        "last_used_at": iso(c.last_used_at),
        "revoked_at": iso(c.revoked_at),
    }


COMMANDS = [tenants, clients]
