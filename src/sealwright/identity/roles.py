"""Operator roles and what each may do in the console (B7). Pure: no I/O.

Least privilege: a role is a fixed set of permissions, an operator holds one or more roles,
and every console route names the one permission it needs (``web/console``). Nothing is
implied: an owner manages operators and API clients and can do what a sender and an
auditor can, but does not decide manual reviews unless also given the reviewer role; an
auditor reads everything about the tenant's envelopes and ledger and can change nothing.

The table is documented in ``docs/identity-operators.md``; a unit test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class Permission(StrEnum):
    #: Any console page that only shows the operator their own session (home, sign-out).
    CONSOLE_ENTER = "console:enter"
    #: The tenant's envelopes and their status (never document contents).
    ENVELOPES_READ = "envelopes:read"
    #: Create, send and void envelopes.
    ENVELOPES_SEND = "envelopes:send"
    #: The manual-review queue (issue 5 fills it).
    REVIEW_READ = "review:read"
    REVIEW_DECIDE = "review:decide"
    #: The tenant's audit-ledger events, checkpoints and proofs.
    AUDIT_READ = "audit:read"
    #: Evidence bundles of sealed envelopes.
    EVIDENCE_EXPORT = "evidence:export"
    OPERATORS_MANAGE = "operators:manage"
    CLIENTS_MANAGE = "clients:manage"


class Role(StrEnum):
    OWNER = "owner"
    SENDER = "sender"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"


_SENDER = frozenset(
    {Permission.CONSOLE_ENTER, Permission.ENVELOPES_READ, Permission.ENVELOPES_SEND}
)
_AUDITOR = frozenset(
    {
        Permission.CONSOLE_ENTER,
        Permission.ENVELOPES_READ,
        Permission.AUDIT_READ,
        Permission.EVIDENCE_EXPORT,
    }
)
_REVIEWER = frozenset({Permission.CONSOLE_ENTER, Permission.REVIEW_READ, Permission.REVIEW_DECIDE})

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.OWNER: _SENDER | _AUDITOR | {Permission.OPERATORS_MANAGE, Permission.CLIENTS_MANAGE},
    Role.SENDER: _SENDER,
    Role.REVIEWER: _REVIEWER,
    Role.AUDITOR: _AUDITOR,
}

#: Grants that are audit events themselves (``console:access:granted``): whatever changes
#: state, exports evidence, reads the ledger or manages who may do any of it.
SENSITIVE: frozenset[Permission] = frozenset(
    {
        Permission.ENVELOPES_SEND,
        Permission.REVIEW_DECIDE,
        Permission.AUDIT_READ,
        Permission.EVIDENCE_EXPORT,
        Permission.OPERATORS_MANAGE,
        Permission.CLIENTS_MANAGE,
    }
)


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    out: frozenset[Permission] = frozenset()
    for role in roles:
        out |= ROLE_PERMISSIONS[role]
    return out


def allows(roles: Iterable[Role], permission: Permission) -> bool:
    return permission in permissions_of(roles)


def parse_roles(text: str | Iterable[str]) -> frozenset[Role]:
    """Roles from a space-separated string or a list; unknown names are an error, and an
    operator without any role would be a sign-in that can do nothing, so that is one too."""
    words = text.split() if isinstance(text, str) else [w.strip() for w in text]
    out: set[Role] = set()
    for word in words:
        try:
            out.add(Role(word))
        except ValueError:
            raise ValueError(f"unknown role {word!r}; roles are {', '.join(Role)}") from None
    if not out:
        raise ValueError("an operator needs at least one role")
    return frozenset(out)


def format_roles(roles: Iterable[Role]) -> str:
    return " ".join(sorted(r.value for r in roles))
