"""Console operators (B7): add, list, change roles, disable -- each an audit event.

An operator belongs to one tenant and is identified by the (issuer, subject) pair of their
OIDC ID token. Email and display name are kept for people to read, never to identify
anyone. Ledger events name operators by id only (the ledger holds pseudonymous ids).

The first owner of a tenant is added from the CLI (``sealwright operators add``); after
that, owners manage operators in the console. A tenant keeps at least one active owner:
the change that would remove the last one is refused, so nobody locks a tenant out of its
own console by mistake.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.domain.events import EventTag
from sealwright.errors import Conflict, NotFound, ValidationError
from sealwright.identity.roles import Role, format_roles, parse_roles
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Operator, Tenant

CLI_ACTOR = "operator:cli"


def operator_actor(operator: Operator) -> str:
    return f"operator:{operator.id}"


def roles_of(operator: Operator) -> frozenset[Role]:
    return parse_roles(operator.roles)


def _check_issuer(issuer: str) -> str:
    issuer = issuer.strip()
    parts = urlsplit(issuer)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    # OIDC Discovery §3: the issuer is an https URL (plain http only for a local provider).
    if not (parts.scheme == "https" or (parts.scheme == "http" and local)) or not parts.netloc:
        raise ValidationError("the issuer must be the https URL of the identity provider")
    if parts.query or parts.fragment:
        raise ValidationError("the issuer URL has no query or fragment")
    return issuer


def add_operator(
    rt: Runtime,
    session: Session,
    tenant: Tenant,
    *,
    email: str,
    issuer: str,
    subject: str,
    roles: frozenset[Role],
    display_name: str = "",
    actor: str = CLI_ACTOR,
) -> Operator:
    email, subject = email.strip(), subject.strip()
    if "@" not in email or len(email) > 320 or not email.isprintable():
        raise ValidationError("a valid email address is required")
    if not subject or len(subject) > 255 or not subject.isprintable():
        raise ValidationError("the subject is the 'sub' claim: 1 to 255 printable characters")
    if not roles:
        raise ValidationError("an operator needs at least one role")
    issuer = _check_issuer(issuer)
    taken = session.execute(
        select(Operator.id).where(Operator.issuer == issuer, Operator.subject == subject)
    ).first()
    if taken is not None:
        raise Conflict("an operator with this issuer and subject exists already")
    operator = Operator(
        id=uuid.uuid4().hex,
        tenant_id=tenant.id,
        issuer=issuer,
        subject=subject,
        email=email,
        display_name=(display_name.strip() or email)[:200],
        roles=format_roles(roles),
        created_at=rt.clock.now(),
        factor_failures=0,
    )
    session.add(operator)
    session.flush()
    rt.audit.append(
        session,
        EventTag.OPERATOR_ADDED,
        tenant=tenant.id,
        actor=actor,
        data={"operator": operator.id, "issuer": issuer, "roles": sorted(roles)},
    )
    return operator


def list_operators(session: Session, tenant_id: str) -> Sequence[Operator]:
    return (
        session.execute(
            select(Operator).where(Operator.tenant_id == tenant_id).order_by(Operator.created_at)
        )
        .scalars()
        .all()
    )


def get_operator(session: Session, tenant_id: str, operator_id: str) -> Operator:
    """Tenant-scoped: another tenant's operator is indistinguishable from none."""
    operator = session.get(Operator, operator_id)
    if operator is None or operator.tenant_id != tenant_id:
        raise NotFound("operator not found")
    return operator


def find_by_identity(session: Session, issuer: str, subject: str) -> Operator | None:
    found: Operator | None = session.execute(
        select(Operator).where(Operator.issuer == issuer, Operator.subject == subject)
    ).scalar_one_or_none()
    return found


def set_roles(
    rt: Runtime, session: Session, operator: Operator, roles: frozenset[Role], *, actor: str
) -> None:
    if not roles:
        raise ValidationError("an operator needs at least one role")
    before = roles_of(operator)
    if before == roles:
        return
    if Role.OWNER in before and Role.OWNER not in roles:
        _keep_an_owner(session, operator)
    operator.roles = format_roles(roles)
    rt.audit.append(
        session,
        EventTag.OPERATOR_ROLES_CHANGED,
        tenant=operator.tenant_id,
        actor=actor,
        data={"operator": operator.id, "from": sorted(before), "to": sorted(roles)},
    )


def disable_operator(rt: Runtime, session: Session, operator: Operator, *, actor: str) -> None:
    """Disabling ends the operator's console sessions at their next request: every request
    re-reads the operator."""
    if operator.disabled_at is not None:
        raise Conflict("the operator is disabled already")
    if Role.OWNER in roles_of(operator):
        _keep_an_owner(session, operator)
    operator.disabled_at = rt.clock.now()
    rt.audit.append(
        session,
        EventTag.OPERATOR_DISABLED,
        tenant=operator.tenant_id,
        actor=actor,
        data={"operator": operator.id},
    )


def _keep_an_owner(session: Session, leaving: Operator) -> None:
    others = [
        o
        for o in list_operators(session, leaving.tenant_id)
        if o.id != leaving.id and o.disabled_at is None and Role.OWNER in roles_of(o)
    ]
    if not others:
        raise Conflict("the tenant's last active owner cannot lose the owner role")
