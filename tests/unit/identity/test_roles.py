"""Operator roles (B7): least privilege as a table, and the documentation of it kept equal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sealwright.identity.roles import (
    ROLE_PERMISSIONS,
    SENSITIVE,
    Permission,
    Role,
    allows,
    format_roles,
    parse_roles,
    permissions_of,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "identity-operators.md"


def test_auditor_can_change_nothing() -> None:
    writes = {
        Permission.ENVELOPES_SEND,
        Permission.REVIEW_DECIDE,
        Permission.OPERATORS_MANAGE,
        Permission.CLIENTS_MANAGE,
    }
    assert not ROLE_PERMISSIONS[Role.AUDITOR] & writes
    assert {Permission.AUDIT_READ, Permission.EVIDENCE_EXPORT} <= ROLE_PERMISSIONS[Role.AUDITOR]


def test_owner_is_sender_plus_auditor_plus_administration_and_nothing_else() -> None:
    assert ROLE_PERMISSIONS[Role.OWNER] == (
        ROLE_PERMISSIONS[Role.SENDER]
        | ROLE_PERMISSIONS[Role.AUDITOR]
        | {Permission.OPERATORS_MANAGE, Permission.CLIENTS_MANAGE}
    )
    assert not allows([Role.OWNER], Permission.REVIEW_DECIDE)


def test_reviewer_sees_only_the_review_queue() -> None:
    assert ROLE_PERMISSIONS[Role.REVIEWER] == {
        Permission.CONSOLE_ENTER,
        Permission.REVIEW_READ,
        Permission.REVIEW_DECIDE,
    }


def test_every_permission_belongs_to_some_role_and_every_role_can_enter() -> None:
    assert permissions_of(Role) == set(Permission)
    for role in Role:
        assert Permission.CONSOLE_ENTER in ROLE_PERMISSIONS[role]
    assert Permission.CONSOLE_ENTER not in SENSITIVE


def test_roles_combine_by_union() -> None:
    both = permissions_of([Role.SENDER, Role.REVIEWER])
    assert both == ROLE_PERMISSIONS[Role.SENDER] | ROLE_PERMISSIONS[Role.REVIEWER]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("owner", {Role.OWNER}),
        ("sender  auditor", {Role.SENDER, Role.AUDITOR}),
        (["reviewer", "reviewer"], {Role.REVIEWER}),
    ],
)
def test_parse_roles(text: str | list[str], expected: set[Role]) -> None:
    assert parse_roles(text) == expected
    assert parse_roles(format_roles(parse_roles(text))) == expected


@pytest.mark.parametrize("text", ["", "admin", "owner root", []])
def test_parse_roles_refuses_unknown_and_empty(text: str | list[str]) -> None:
    with pytest.raises(ValueError, match="role"):
        parse_roles(text)


def test_the_documented_table_is_the_code() -> None:
    """docs/identity-operators.md's roles-and-permissions table says what ROLE_PERMISSIONS
    does, cell for cell."""
    rows = re.findall(r"^\| `([a-z:-]+)` \|[^|]*\|(.*)\|$", DOC.read_text("utf-8"), re.M)
    documented = {}
    columns = [Role.OWNER, Role.SENDER, Role.REVIEWER, Role.AUDITOR]
    for name, cells in rows:
        if name not in {p.value for p in Permission}:
            continue
        marks = [c.strip() == "✓" for c in cells.split("|")]
        documented[Permission(name)] = {r for r, m in zip(columns, marks, strict=True) if m}
    assert set(documented) == set(Permission)
    for permission, roles in documented.items():
        assert roles == {r for r in Role if permission in ROLE_PERMISSIONS[r]}, permission
