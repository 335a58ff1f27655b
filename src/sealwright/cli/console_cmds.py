"""``sealwright operators``: console operators from the command line (B7).

The first owner of a tenant is added here (nobody can sign in to the console to add them);
after that owners can use the console too. Each change is an audit event with the actor
``operator:cli``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from sealwright.errors import SealwrightError
from sealwright.identity.roles import Role, parse_roles

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from sealwright.services.runtime import Runtime

T = TypeVar("T")
ROLE_CHOICE = click.Choice([r.value for r in Role])


def _run(ctx: click.Context, fn: Callable[[Runtime, Session], T]) -> T:
    from sealwright.cli.evidence_cmds import _NoMail
    from sealwright.services.runtime import Runtime

    rt = Runtime.build(ctx.obj["settings"], mailer=_NoMail())
    try:
        with rt.db.transaction() as session:
            return fn(rt, session)
    except SealwrightError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()


def _roles(values: tuple[str, ...]) -> frozenset[Role]:
    try:
        return parse_roles(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from exc


@click.group("operators")
def operators() -> None:
    """Console operators: who may sign in through SSO, with which roles."""


@operators.command("add")
@click.option("--tenant", "tenant_name", required=True, help="The tenant's name.")
@click.option("--email", required=True)
@click.option("--issuer", required=True, help="The OIDC issuer URL of the operator's IdP.")
@click.option("--subject", required=True, help="The 'sub' claim the IdP gives the operator.")
@click.option("--role", "roles", multiple=True, required=True, type=ROLE_CHOICE)
@click.option("--name", "display_name", default="", help="Display name (default: email).")
@click.pass_context
def operators_add(
    ctx: click.Context,
    tenant_name: str,
    email: str,
    issuer: str,
    subject: str,
    roles: tuple[str, ...],
    display_name: str,
) -> None:
    """Add an operator, identified by (issuer, subject) -- never by email alone."""
    from sealwright.services.admin import tenant_by_name
    from sealwright.services.operators import add_operator

    wanted = _roles(roles)
    operator = _run(
        ctx,
        lambda rt, db: add_operator(
            rt,
            db,
            tenant_by_name(db, tenant_name),
            email=email,
            issuer=issuer,
            subject=subject,
            roles=wanted,
            display_name=display_name,
        ),
    )
    click.echo(f"operator {operator.id} ({operator.email}): {operator.roles}")


@operators.command("list")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def operators_list(ctx: click.Context, tenant_name: str, as_json: bool) -> None:
    from sealwright.cli.main import echo_json
    from sealwright.services.admin import tenant_by_name
    from sealwright.services.operators import list_operators

    def load(rt: Runtime, db: Session) -> list[dict[str, object]]:
        return [
            {
                "id": o.id,
                "email": o.email,
                "name": o.display_name,
                "issuer": o.issuer,
                "subject": o.subject,
                "roles": o.roles.split(),
                "disabled_at": o.disabled_at.isoformat() if o.disabled_at else None,
            }
            for o in list_operators(db, tenant_by_name(db, tenant_name).id)
        ]

    rows = _run(ctx, load)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "disabled" if row["disabled_at"] else "active"
        roles = ",".join(row["roles"])  # type: ignore[arg-type]
        click.echo(f"{row['id']}  {state:8}  {roles:30}  {row['email']}  {row['issuer']}")


@operators.command("roles")
@click.option("--tenant", "tenant_name", required=True)
@click.argument("operator_id")
@click.option("--role", "roles", multiple=True, required=True, type=ROLE_CHOICE)
@click.pass_context
def operators_roles(
    ctx: click.Context, tenant_name: str, operator_id: str, roles: tuple[str, ...]
) -> None:
    """Replace an operator's roles with those given."""
    from sealwright.services.admin import tenant_by_name
    from sealwright.services.operators import CLI_ACTOR, get_operator, set_roles

    wanted = _roles(roles)

    def act(rt: Runtime, db: Session) -> None:
        target = get_operator(db, tenant_by_name(db, tenant_name).id, operator_id)
        set_roles(rt, db, target, wanted, actor=CLI_ACTOR)

    _run(ctx, act)
    click.echo(f"operator {operator_id}: {' '.join(sorted(wanted))}")


@operators.command("disable")
@click.option("--tenant", "tenant_name", required=True)
@click.argument("operator_id")
@click.pass_context
def operators_disable(ctx: click.Context, tenant_name: str, operator_id: str) -> None:
    """Disable an operator: their console sessions end at their next request."""
    from sealwright.services.admin import tenant_by_name
    from sealwright.services.operators import CLI_ACTOR, disable_operator, get_operator

    def act(rt: Runtime, db: Session) -> None:
        target = get_operator(db, tenant_by_name(db, tenant_name).id, operator_id)
        disable_operator(rt, db, target, actor=CLI_ACTOR)

    _run(ctx, act)
    click.echo(f"operator {operator_id} disabled")


COMMANDS = [operators]
