"""The least-privileged PostgreSQL role the service runs as (E4).

The schema owner runs the migrations; the service connects as another role. That role may
read and write the ordinary tables, but may only read and append to the ledger: on the
append-only tables it holds SELECT and INSERT and nothing else. The append-only triggers
refuse UPDATE, DELETE and TRUNCATE too, but the owner of a table can drop its triggers;
privileges are the line that holds when the application's credentials leak, because the
application role can neither drop a trigger nor grant itself anything.

``grant_app_role`` is idempotent and converges: it first revokes everything the role holds
on the schema's tables and sequences, then grants exactly what is listed here. Run it
again after every migration, so that new tables are covered (default privileges are not
used: they would hand a future append-only table to the role with UPDATE on it).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from sealwright.errors import ConfigurationError

__all__ = ["APPEND_ONLY_TABLES", "READ_ONLY_TABLES", "AppRoleGrants", "grant_app_role"]

#: Tables whose rows are never updated or deleted: those with the append-only triggers of
#: migrations 0001, 0003 and 0009 (a test keeps the two lists equal).
APPEND_ONLY_TABLES = frozenset(
    {"ledger_events", "checkpoints", "checkpoint_cosignatures", "verification_assertions"}
)
#: Read by the service at start-up (``upgrade`` finds nothing to do), written only by
#: migrations.
READ_ONLY_TABLES = frozenset({"alembic_version"})
_FORBIDDEN_ON_APPEND_ONLY = ("UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@dataclass(frozen=True)
class AppRoleGrants:
    """What ``grant_app_role`` granted, table names sorted."""

    role: str
    schema: str
    read_write: tuple[str, ...]
    append_only: tuple[str, ...]
    read_only: tuple[str, ...]


def grant_app_role(engine: Engine, role: str) -> AppRoleGrants:
    """Give ``role`` (which must exist) exactly the privileges the service needs.

    Run as the owner of the schema's tables. Raises :class:`ConfigurationError` on SQLite
    (which has no roles), for a role that does not exist, and for a role that privileges
    cannot restrict: a superuser, or a member of a role owning one of the tables.
    """
    if engine.dialect.name != "postgresql":
        raise ConfigurationError("database roles exist only on PostgreSQL")
    quote = engine.dialect.identifier_preparer.quote_identifier
    with engine.begin() as conn:
        schema: str = conn.execute(text("SELECT current_schema()")).scalar_one()
        tables = sorted(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            ).scalars()
        )
        _check_role(conn, role, schema)
        r, s = quote(role), quote(schema)
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}"))
        conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}"))
        conn.execute(text(f"REVOKE CREATE ON SCHEMA {s} FROM {r}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {r}"))
        granted: dict[str, list[str]] = {"rw": [], "append": [], "read": []}
        for table in tables:
            if table in APPEND_ONLY_TABLES:
                verbs, kind = "SELECT, INSERT", "append"
            elif table in READ_ONLY_TABLES:
                verbs, kind = "SELECT", "read"
            else:
                verbs, kind = "SELECT, INSERT, UPDATE, DELETE", "rw"
            conn.execute(text(f"GRANT {verbs} ON TABLE {s}.{quote(table)} TO {r}"))
            granted[kind].append(table)
        conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {r}"))
        _check_append_only(conn, role, {t: f"{s}.{quote(t)}" for t in granted["append"]})
    return AppRoleGrants(
        role=role,
        schema=schema,
        read_write=tuple(granted["rw"]),
        append_only=tuple(granted["append"]),
        read_only=tuple(granted["read"]),
    )


def _check_role(conn: Connection, role: str, schema: str) -> None:
    row = conn.execute(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {"r": role}
    ).first()
    if row is None:
        raise ConfigurationError(
            f"role {role!r} does not exist: create it first (CREATE ROLE ... LOGIN PASSWORD ...)"
        )
    if row.rolsuper:
        raise ConfigurationError(f"role {role!r} is a superuser: no privilege can restrict it")
    owner = conn.execute(
        text(
            "SELECT tableowner FROM pg_tables "
            "WHERE schemaname = :s AND pg_has_role(:r, tableowner, 'MEMBER') LIMIT 1"
        ),
        {"s": schema, "r": role},
    ).scalar()
    if owner is not None:
        raise ConfigurationError(
            f"role {role!r} is (or is a member of) {owner!r}, which owns tables in {schema!r}: "
            "the service must not run as the schema owner"
        )


def _check_append_only(conn: Connection, role: str, tables: dict[str, str]) -> None:
    """Privileges held through PUBLIC or another role would survive the REVOKE above."""
    for table, qualified in tables.items():
        for verb in _FORBIDDEN_ON_APPEND_ONLY:
            held = conn.execute(
                text("SELECT has_table_privilege(:r, :t, :v)"),
                {"r": role, "t": qualified, "v": verb},
            ).scalar_one()
            if held:
                raise ConfigurationError(
                    f"role {role!r} still holds {verb} on {table} through another role or "
                    "PUBLIC: revoke it there"
                )
