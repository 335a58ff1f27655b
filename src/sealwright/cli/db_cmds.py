"""Database administration, run as the schema owner (not as the service's own role)."""

from __future__ import annotations

import click
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sealwright.errors import SealwrightError


@click.group("db")
def db() -> None:
    """Database administration, run as the owner of the schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the migrations (the service does this at start-up when it may)."""
    from sealwright.storage.db import make_engine, upgrade

    engine = make_engine(ctx.obj["settings"].sqlalchemy_url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"migration failed: {exc}") from exc
    finally:
        engine.dispose()
    click.echo("schema is up to date")


@db.command("grant-app-role")
@click.argument("role")
@click.pass_context
def db_grant_app_role(ctx: click.Context, role: str) -> None:
    """Give the existing PostgreSQL ROLE exactly what the service needs.

    Read and write on ordinary tables; only SELECT and INSERT on the append-only ledger
    tables, so that the service's credentials cannot rewrite history even if the triggers
    were dropped. Run it again after every migration.
    """
    from sealwright.storage.db import make_engine
    from sealwright.storage.roles import grant_app_role

    engine = make_engine(ctx.obj["settings"].sqlalchemy_url)
    try:
        grants = grant_app_role(engine, role)
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    except DBAPIError as exc:  # typically: not run as the owner of the tables
        raise click.ClickException(f"granting failed: {exc.orig}") from exc
    finally:
        engine.dispose()
    if not (grants.read_write or grants.append_only):
        raise click.ClickException(f"no tables in schema {grants.schema!r}: run `db upgrade` first")
    click.echo(f"granted to {grants.role} on schema {grants.schema}:")
    click.echo(f"  select, insert, update, delete: {', '.join(grants.read_write)}")
    click.echo(f"  select, insert (append-only):   {', '.join(grants.append_only)}")
    click.echo(f"  select:                         {', '.join(grants.read_only) or '-'}")
    click.echo("Run this again after every migration.")


COMMANDS = [db]
