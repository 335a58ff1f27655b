"""Webhook commands: the dead-letter list and manual redelivery (G2, G3)."""

from __future__ import annotations

import click

from sealwright.errors import SealwrightError

OPERATOR = "operator:cli"


@click.group("webhooks")
def webhooks() -> None:
    """Webhook deliveries."""


@webhooks.command("dead-letters")
@click.option("--tenant", "tenant_name", default=None, help="Only this tenant's (by name).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def dead_letters(ctx: click.Context, tenant_name: str | None, limit: int) -> None:
    """List deliveries given up on, newest event first."""
    from sealwright.cli.operator_cmds import _runtime
    from sealwright.services.admin import tenant_by_name
    from sealwright.services.webhooks import deliveries

    rt = _runtime(ctx)
    try:
        with rt.db.transaction() as session:
            tenant = tenant_by_name(session, tenant_name).id if tenant_name else None
            page = deliveries.page(session, tenant_id=tenant, status="dead", limit=limit)
            for d in page.items:
                click.echo(
                    f"{d.id}  endpoint {d.endpoint_id}  {d.event_tag}  "
                    f"attempts {d.attempts}  {d.dead_reason or ''}"
                )
            if not page.items:
                click.echo("no dead letters")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


@webhooks.command("redeliver")
@click.argument("delivery_ids", nargs=-1, required=True)
@click.pass_context
def redeliver(ctx: click.Context, delivery_ids: tuple[str, ...]) -> None:
    """Put dead-lettered deliveries back in line (same webhook-id, a fresh retry cycle).
    A running worker sends them."""
    from sealwright.cli.operator_cmds import _runtime
    from sealwright.services.webhooks import deliveries

    rt = _runtime(ctx)
    try:
        for delivery_id in delivery_ids:
            with rt.db.transaction() as session:
                d = deliveries.load(session, delivery_id, None)
                deliveries.redeliver(
                    session,
                    d,
                    clock=rt.clock,
                    audit=rt.audit,
                    outbox=rt.webhooks,
                    actor=OPERATOR,
                    by_operator=True,
                )
            click.echo(f"{delivery_id}: queued for redelivery")
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


COMMANDS = [webhooks]
