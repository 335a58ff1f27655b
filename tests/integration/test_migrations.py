"""The Alembic migrations build exactly the schema the models describe, on SQLite and
PostgreSQL; upgrading is idempotent, and downgrading keeps the ledger; the audit tables
refuse every rewrite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, Table, inspect, text
from sqlalchemy.exc import DBAPIError

from sealwright.storage.db import alembic_config, make_engine, upgrade
from sealwright.storage.models import Base
from sealwright.storage.roles import APPEND_ONLY_TABLES

CREATED_AT = "2024-05-01 12:00:00.000000"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def schema_diff(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as conn:
        # compare_type is spelled out (it is Alembic's default since 1.12) so that a future
        # change of default cannot silently weaken this test. UTCDateTime needs no special
        # handling: Alembic compares a TypeDecorator through its ``impl``,
        # DateTime(timezone=True), which is exactly what the migration creates.
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    assert schema_diff(engine, Base.metadata) == []


def test_the_comparison_does_see_drift(engine: Engine) -> None:
    """Guards the test above against comparing nothing: a copy of the models with one added
    column, one changed type and one extra table must all be reported."""
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["envelopes"].append_column(Column("colour", String(20), nullable=True))
    drifted.tables["checkpoints"].c.note.type = String(50)  # Text in the migration
    Table("not_migrated", drifted, Column("id", String(8), primary_key=True))

    kinds = set()
    for entry in schema_diff(engine, drifted):
        # Alembic reports modifications as a list of tuples, the rest as one tuple.
        first = entry[0] if isinstance(entry, list) else entry
        kinds.add((first[0], _table_of(first)))
    assert ("add_column", "envelopes") in kinds
    assert ("modify_type", "checkpoints") in kinds
    assert ("add_table", "not_migrated") in kinds


def _table_of(op: tuple[Any, ...]) -> str:
    # ("add_table", Table) but ("add_column" | "modify_type", schema, table name, ...)
    return str(op[1].name) if op[0] == "add_table" else str(op[2])


def _head(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def _current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _triggers(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        return sorted(r[0] for r in rows)


def test_upgrade_reaches_head(engine: Engine) -> None:
    assert _head(engine) is not None
    assert _current(engine) == _head(engine)


def test_upgrade_twice_is_idempotent(engine: Engine) -> None:
    triggers = _triggers(engine)
    assert triggers  # the append-only triggers exist ...
    upgrade(engine)
    upgrade(engine)
    assert _current(engine) == _head(engine)
    assert _triggers(engine) == triggers  # ... once each
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        # No counter row: appends are serialised by a lock that updates nothing.
        assert "ledger_head" not in inspect(conn).get_table_names()
    assert schema_diff(engine, Base.metadata) == []


# -- append-only tables ----------------------------------------------------------------------


def _insert_ledger_event(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_events (idx, event_id, tenant_id, envelope_id, seq, tag, "
                "leaf, leaf_hash, created_at) VALUES (0, :event_id, 'tenant-1', 'env-1', 0, "
                "'envelope:created', :leaf, :leaf_hash, :created_at)"
            ),
            {
                "event_id": "e" * 32,
                "leaf": b'{"tag":"envelope:created"}',
                "leaf_hash": b"\x11" * 32,
                "created_at": CREATED_AT,
            },
        )


def _insert_checkpoint(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO checkpoints (size, root_hash, note, created_at) "
                "VALUES (1, :root, :note, :created_at)"
            ),
            {
                "root": b"\x22" * 32,
                "note": "sealwright.test/log\n1\nroot\n",
                "created_at": CREATED_AT,
            },
        )


def _snapshot(engine: Engine, table: str) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))]


REWRITES: dict[str, list[str]] = {
    "ledger_events": [
        "UPDATE ledger_events SET tag = 'envelope:voided' WHERE idx = 0",
        "UPDATE ledger_events SET leaf_hash = leaf_hash",  # even a no-op rewrite
        "DELETE FROM ledger_events WHERE idx = 0",
        "DELETE FROM ledger_events",  # SQLite's truncate optimisation must not bypass it
        "INSERT INTO ledger_events (idx, event_id, tenant_id, tag, leaf, leaf_hash, created_at) "
        "VALUES (0, 'x', 't', 'forged', :blob, :blob, '2024-05-01 12:00:00') "
        "ON CONFLICT (idx) DO UPDATE SET tag = excluded.tag",
    ],
    "checkpoints": [
        "UPDATE checkpoints SET note = 'forged' WHERE size = 1",
        # A timestamp token is written with its checkpoint or never.
        "UPDATE checkpoints SET timestamp_token = :blob WHERE size = 1",
        "DELETE FROM checkpoints WHERE size = 1",
        "DELETE FROM checkpoints",
        "INSERT INTO checkpoints (size, root_hash, note, created_at) "
        "VALUES (1, :blob, 'forged', '2024-05-01 12:00:00') "
        "ON CONFLICT (size) DO UPDATE SET note = excluded.note",
    ],
}
SQLITE_ONLY: dict[str, list[str]] = {
    # REPLACE deletes the old row; SQLite fires DELETE triggers for that only with
    # recursive_triggers on, which make_engine sets.
    "ledger_events": [
        "INSERT OR REPLACE INTO ledger_events (idx, event_id, tenant_id, tag, leaf, leaf_hash, "
        "created_at) VALUES (0, 'x', 't', 'forged', :blob, :blob, '2024-05-01 12:00:00')",
        "REPLACE INTO ledger_events (idx, event_id, tenant_id, tag, leaf, leaf_hash, "
        "created_at) VALUES (7, 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 't', 'forged', :blob, "
        ":blob, '2024-05-01 12:00:00')",  # collides on event_id, not on the key
    ],
    "checkpoints": [
        "INSERT OR REPLACE INTO checkpoints (size, root_hash, note, created_at) "
        "VALUES (1, :blob, 'forged', '2024-05-01 12:00:00')",
    ],
}
POSTGRES_ONLY: dict[str, list[str]] = {
    "ledger_events": ["TRUNCATE ledger_events"],
    # CASCADE: without it, the foreign key of checkpoint_cosignatures refuses first.
    "checkpoints": ["TRUNCATE checkpoints CASCADE", "TRUNCATE checkpoints, ledger_events CASCADE"],
}
INSERTS = {"ledger_events": _insert_ledger_event, "checkpoints": _insert_checkpoint}


@pytest.mark.parametrize("table", ["ledger_events", "checkpoints"])
def test_append_only_tables_refuse_rewrites(engine: Engine, table: str) -> None:
    INSERTS[table](engine)
    before = _snapshot(engine, table)
    assert len(before) == 1
    extra = SQLITE_ONLY if engine.dialect.name == "sqlite" else POSTGRES_ONLY
    statements = REWRITES[table] + extra[table]
    for statement in statements:
        with pytest.raises(DBAPIError, match=f"{table} is append-only"), engine.begin() as conn:
            conn.execute(text(statement), {"blob": b"\x00" * 32} if ":blob" in statement else {})
        assert _snapshot(engine, table) == before, statement


@pytest.mark.parametrize("table", ["ledger_events", "checkpoints"])
def test_append_only_tables_still_take_appends(engine: Engine, table: str) -> None:
    INSERTS[table](engine)
    with engine.begin() as conn:
        if table == "checkpoints":
            conn.execute(
                text(
                    "INSERT INTO checkpoints (size, root_hash, note, created_at) "
                    "VALUES (2, :r, 'n', :t)"
                ),
                {"r": b"\x33" * 32, "t": CREATED_AT},
            )
        else:
            conn.execute(
                text(
                    "INSERT INTO ledger_events (idx, event_id, tenant_id, tag, leaf, leaf_hash, "
                    "created_at) VALUES (1, :e, 't', 'envelope:sent', :l, :h, :t)"
                ),
                {"e": "f" * 32, "l": b"{}", "h": b"\x44" * 32, "t": CREATED_AT},
            )
    assert len(_snapshot(engine, table)) == 2


def test_other_tables_are_not_append_only(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO tenants (id, name, created_at) VALUES ('t1', 'Acme', :t)"),
            {"t": CREATED_AT},
        )
        conn.execute(text("UPDATE tenants SET name = 'Acme Ltd' WHERE id = 't1'"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM tenants")).scalar_one() == "Acme Ltd"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM tenants"))
    assert _snapshot(engine, "tenants") == []


def test_append_only_tables_are_the_documented_ones(engine: Engine) -> None:
    """The tables with append-only triggers are exactly those the application role may
    only read and append to (storage/roles.py)."""
    assert {"ledger_events", "checkpoints"} <= APPEND_ONLY_TABLES
    if engine.dialect.name == "sqlite":
        expected = [f"{t}_no_{verb}" for t in APPEND_ONLY_TABLES for verb in ("delete", "update")]
    else:
        expected = [f"{t}_append_only" for t in APPEND_ONLY_TABLES]
    assert _triggers(engine) == sorted(expected)


# -- 0002: the ledger head goes, checkpoints gain a timestamp token --------------------------


def test_downgrade_and_upgrade_keep_the_ledger(engine: Engine) -> None:
    _insert_ledger_event(engine)
    _insert_checkpoint(engine)
    events, triggers = _snapshot(engine, "ledger_events"), _triggers(engine)
    of_0001 = [t for t in triggers if t.startswith(("ledger_events_", "checkpoints_"))]
    cfg = alembic_config(engine)

    command.downgrade(cfg, "0001")
    with engine.connect() as conn:
        # The old counter comes back holding the log's size.
        assert conn.execute(text("SELECT id, size FROM ledger_head")).all() == [(1, 1)]
        assert "timestamp_token" not in {
            c["name"] for c in inspect(conn).get_columns("checkpoints")
        }
    assert _snapshot(engine, "ledger_events") == events
    assert _triggers(engine) == of_0001

    upgrade(engine)
    with engine.connect() as conn:
        assert "ledger_head" not in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT size, timestamp_token FROM checkpoints")).all() == [
            (1, None)
        ]
    assert _snapshot(engine, "ledger_events") == events
    assert _triggers(engine) == triggers  # ADD COLUMN kept the table and its triggers
    assert schema_diff(engine, Base.metadata) == []
