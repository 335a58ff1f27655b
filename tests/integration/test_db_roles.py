"""The service's PostgreSQL role (E4): it can do its work, append to the ledger, and nothing
more -- even once the owner has dropped the append-only triggers, privileges refuse every
rewrite of ledger_events and checkpoints."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from sealwright.clock import FixedClock
from sealwright.domain.events import EventTag
from sealwright.errors import ConfigurationError
from sealwright.ledger import merkle
from sealwright.services.audit import AuditLog, NewEvent
from sealwright.storage.db import Database, make_engine, upgrade
from sealwright.storage.models import Checkpoint, Tenant
from sealwright.storage.roles import APPEND_ONLY_TABLES, grant_app_role

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")
NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
POSTGRES_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def owner(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


class Role:
    """A login role with a password; roles belong to the cluster, so each test drops its own."""

    def __init__(self, owner: Engine, database_url: str, attributes: str = "") -> None:
        self.name = f"sw_app_{uuid.uuid4().hex[:12]}"
        password = uuid.uuid4().hex
        self._owner = owner
        with owner.begin() as conn:
            conn.execute(text(f"CREATE ROLE {self.name} LOGIN {attributes} PASSWORD '{password}'"))
        self.url = (
            make_url(database_url)
            .set(username=self.name, password=password)
            .render_as_string(hide_password=False)
        )

    def drop(self) -> None:
        with self._owner.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {self.name}"))  # its privileges, in this database
            conn.execute(text(f"DROP ROLE {self.name}"))


@pytest.fixture
def app_role(owner: Engine, database_url: str) -> Iterator[Role]:
    role = Role(owner, database_url)
    yield role
    role.drop()


def refused_by_privileges(engine: Engine, statement: str, **params: Any) -> str:
    with pytest.raises(DBAPIError) as info, engine.begin() as conn:
        conn.execute(text(statement), params)
    assert getattr(info.value.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE, statement
    return str(info.value.orig)


def snapshot(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


def grant_with_cli(
    tmp_path: Path, database_url: str, role: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALWRIGHT, "--data-dir", str(tmp_path / "data"), "db", "grant-app-role", role],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SEALWRIGHT_DATABASE_URL": database_url},
        check=False,
    )


@POSTGRES_ONLY
def test_the_app_role_appends_but_cannot_rewrite_even_without_triggers(
    owner: Engine, app_role: Role, database_url: str, tmp_path: Path
) -> None:
    result = grant_with_cli(tmp_path, database_url, app_role.name)
    assert result.returncode == 0, result.stdout + result.stderr
    append_only = next(line for line in result.stdout.splitlines() if "(append-only)" in line)
    assert {"checkpoints", "ledger_events"} <= set(
        append_only.split(":")[1].replace(",", " ").split()
    )

    app = make_engine(app_role.url)
    try:
        upgrade(app)  # what the service does at start-up: finds nothing to do
        db = Database(app)
        audit = AuditLog(clock=FixedClock(NOW))
        with db.transaction() as session:
            session.add(Tenant(id="t1", name="Acme", created_at=NOW))
        with db.transaction() as session:
            session.get_one(Tenant, "t1").name = "Acme Ltd"  # ordinary tables: read-write
            events = audit.append_many(
                session,
                [
                    NewEvent(EventTag.ENVELOPE_CREATED, "t1", "client:c1", "env-a"),
                    NewEvent(EventTag.ENVELOPE_CREATED, "t1", "client:c1", "env-b"),
                    NewEvent(EventTag.ENVELOPE_SENT, "t1", "client:c1", "env-a", {"n": 1}),
                ],
            )
        assert [(e.idx, e.envelope_id, e.seq) for e in events] == [
            (0, "env-a", 0),
            (1, "env-b", 0),
            (2, "env-a", 1),
        ]
        with db.transaction() as session:
            hashes = AuditLog.leaf_hashes(session)
            session.add(
                Checkpoint(size=3, root_hash=merkle.root_hash(hashes), note="n", created_at=NOW)
            )

        # The owner can drop the triggers (and could then rewrite rows itself) ...
        with owner.begin() as conn:
            for table in APPEND_ONLY_TABLES:
                conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        with owner.connect() as conn:
            conn.execute(text("UPDATE ledger_events SET tag = 'forged'"))  # no trigger stops it
            conn.rollback()

        # ... but the service's role still cannot: privileges, not triggers, refuse it.
        before = {t: snapshot(owner, t) for t in APPEND_ONLY_TABLES}
        for statement in (
            "UPDATE ledger_events SET tag = 'forged' WHERE idx = 0",
            "DELETE FROM ledger_events WHERE idx = 2",
            "TRUNCATE ledger_events",
            "INSERT INTO ledger_events (idx, event_id, tenant_id, tag, leaf, leaf_hash, "
            "created_at) VALUES (0, 'x', 't', 'forged', '', '', now()) "
            "ON CONFLICT (idx) DO UPDATE SET tag = excluded.tag",
        ):
            assert "permission denied for table ledger_events" in refused_by_privileges(
                app, statement
            )
        assert "permission denied for table checkpoints" in refused_by_privileges(
            app, "UPDATE checkpoints SET timestamp_token = 'x' WHERE size = 3"
        )
        for table in APPEND_ONLY_TABLES:
            for statement in (f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
                assert "permission denied for table" in refused_by_privileges(app, statement)
        assert {t: snapshot(owner, t) for t in APPEND_ONLY_TABLES} == before
    finally:
        app.dispose()


@POSTGRES_ONLY
def test_the_app_role_cannot_take_the_guards_away(owner: Engine, app_role: Role) -> None:
    grant_app_role(owner, app_role.name)
    app = make_engine(app_role.url)
    try:
        for statement in (
            "DROP TRIGGER ledger_events_append_only ON ledger_events",
            "ALTER TABLE checkpoints DISABLE TRIGGER ALL",
            "ALTER TABLE ledger_events RENAME TO old_events",
            "CREATE TABLE shadow (id int)",
        ):
            with (
                pytest.raises(DBAPIError, match=r"must be owner|permission denied"),
                app.begin() as conn,
            ):
                conn.execute(text(statement))
        with app.connect() as conn:  # GRANT by a non-owner is only a warning: check the result
            conn.execute(text(f"GRANT UPDATE ON ledger_events TO {app_role.name}"))
            conn.commit()
        with owner.connect() as conn:
            assert not conn.execute(
                text("SELECT has_table_privilege(:r, 'ledger_events', 'UPDATE')"),
                {"r": app_role.name},
            ).scalar_one()
    finally:
        app.dispose()


@POSTGRES_ONLY
def test_grant_converges_and_refuses_roles_privileges_cannot_restrict(
    owner: Engine, app_role: Role, database_url: str
) -> None:
    with owner.begin() as conn:  # a stray privilege from before
        conn.execute(text(f"GRANT ALL ON ledger_events TO {app_role.name}"))
    first = grant_app_role(owner, app_role.name)
    assert grant_app_role(owner, app_role.name) == first
    assert set(first.append_only) == APPEND_ONLY_TABLES
    assert first.read_only == ("alembic_version",)
    assert {"tenants", "envelopes", "jobs"} <= set(first.read_write)
    assert not set(first.read_write) & APPEND_ONLY_TABLES
    with owner.connect() as conn:
        privileges = conn.execute(
            text(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = :r AND table_name = 'ledger_events' ORDER BY 1"
            ),
            {"r": app_role.name},
        ).scalars()
        assert list(privileges) == ["INSERT", "SELECT"]

    with pytest.raises(ConfigurationError, match="does not exist"):
        grant_app_role(owner, "sw_no_such_role")
    superuser = Role(owner, database_url, "SUPERUSER")
    try:
        with pytest.raises(ConfigurationError, match="superuser"):
            grant_app_role(owner, superuser.name)
    finally:
        superuser.drop()
    with owner.connect() as conn:
        table_owner = conn.execute(
            text("SELECT tableowner FROM pg_tables WHERE tablename = 'ledger_events'")
        ).scalar_one()
    member = Role(owner, database_url)
    try:
        with owner.begin() as conn:
            conn.execute(text(f'GRANT "{table_owner}" TO {member.name}'))
        with pytest.raises(ConfigurationError, match="schema owner"):
            grant_app_role(owner, member.name)
    finally:
        member.drop()


def test_grant_needs_postgresql(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigurationError, match="only on PostgreSQL"):
        grant_app_role(engine, "app")
    engine.dispose()


@POSTGRES_ONLY
def test_grant_refuses_when_public_could_still_rewrite(owner: Engine, app_role: Role) -> None:
    with owner.begin() as conn:
        conn.execute(text("GRANT UPDATE ON checkpoints TO PUBLIC"))
    with pytest.raises(ConfigurationError, match="UPDATE on checkpoints through another role"):
        grant_app_role(owner, app_role.name)
    with owner.connect() as conn:  # and nothing was granted: it all rolled back
        assert not conn.execute(
            text("SELECT has_table_privilege(:r, 'tenants', 'SELECT')"), {"r": app_role.name}
        ).scalar_one()
