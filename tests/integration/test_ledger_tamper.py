"""Issue #3, item 8: an attacker with write access to the database -- append-only triggers
dropped, as an administrator could -- changes, deletes, reorders or rolls back the audit
ledger after a real ceremony, and ``check_ledger`` names what was touched, ``publish``
refuses to sign over it, and an evidence bundle exported afterwards does not verify.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, insert, select, text, update

from sealwright.cli.demo_driver import DemoDriver, DemoResult
from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from sealwright.errors import LedgerInconsistent, ProofError
from sealwright.evidence.trust import TrustStore
from sealwright.evidence.verify import verify_bundle
from sealwright.ledger.canonical import canonicalize
from sealwright.ledger.merkle import leaf_hash
from sealwright.services.demo import DemoPeople
from sealwright.services.evidence_export import export_bundle, trust_store
from sealwright.services.ledger_check import LedgerReport, check_ledger
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Checkpoint, LedgerEvent
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import new_client

EVENTS: Table = LedgerEvent.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = Checkpoint.__table__  # type: ignore[assignment]
#: Per column (or per test, where there are no columns): the suite must stay within minutes.
EXAMPLES = settings(
    deadline=None,
    max_examples=10,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
HEX = "0123456789abcdef"
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"


@dataclass(frozen=True)
class Ceremony:
    rt: Runtime
    result: DemoResult


def run_ceremony(
    rt: Runtime, server: BackgroundServer, tenant: str = "acme", people: DemoPeople | None = None
) -> DemoResult:
    _, cid, secret = new_client(rt, tenant)
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    try:
        return driver.run(people)
    finally:
        driver.close()


@pytest.fixture
def ceremony(runtime: Runtime, server: BackgroundServer) -> Ceremony:
    result = run_ceremony(runtime, server)
    server.stop()  # no worker, no requests: the ledger holds still while it is attacked
    drop_append_only_triggers(runtime)
    return Ceremony(runtime, result)


def drop_append_only_triggers(rt: Runtime) -> None:
    """What an administrator (or anyone holding the database owner's credentials) can do."""
    with rt.db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for table in ("ledger_events", "checkpoints"):
                for verb in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER {table}_no_{verb}"))
        else:
            for table in ("ledger_events", "checkpoints"):
                conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))


def rows(rt: Runtime, table: Table, order: Any) -> list[dict[str, Any]]:
    with rt.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(order))]


def set_column(rt: Runtime, table: Table, key: Any, where: Any, column: str, value: Any) -> None:
    with rt.db.engine.begin() as conn:
        conn.execute(update(table).where(key == where).values({column: value}))


def assert_clean(rt: Runtime) -> LedgerReport:
    report = check_ledger(rt)
    assert report.ok, report.to_text()
    return report


# -- the untouched ledger ------------------------------------------------------------------


def test_an_untouched_ledger_raises_no_alarm(ceremony: Ceremony) -> None:
    rt = ceremony.rt
    report = assert_clean(rt)
    stored = rows(rt, EVENTS, EVENTS.c.idx)
    assert report.size == len(stored) > 20
    checkpoints = rows(rt, CHECKPOINTS, CHECKPOINTS.c.size)
    assert len(checkpoints) >= 2
    assert all(c["timestamp_token"] for c in checkpoints)
    assert report.covered == checkpoints[-1]["size"]
    assert report.checkpoints == 2 * len(checkpoints)  # each row and its copy
    # the evidence export came after the last checkpoint: said, but not an alarm
    assert any("not yet covered" in n for n in report.notes)
    copies = sorted(p.name for p in rt.checkpoints.copies_dir.iterdir())
    assert copies == sorted(f"{c['size']}.{ext}" for c in checkpoints for ext in ("note", "tsr"))
    for path in rt.checkpoints.copies_dir.iterdir():
        assert path.stat().st_mode & 0o077 == 0


# -- one column of one row -----------------------------------------------------------------


def _new_value(data: st.DataObject, column: str, row: dict[str, Any], rt: Runtime) -> Any:
    old = row[column]
    if column == "leaf":
        if data.draw(st.booleans(), label="rewrite the event"):
            # the attacker writes a valid, canonical event that says something else
            event = json.loads(old)
            member = data.draw(st.sampled_from(["actor", "data", "time", "tag"]))
            event[member] = {
                "actor": "system",
                "data": {"forged": True},
                "time": "2001-01-01T00:00:00.000000Z",
                "tag": "api:envelope:voided",
            }[member]
            return canonicalize(event)
        at = data.draw(st.integers(0, len(old) - 1), label="byte")
        flip = data.draw(st.integers(1, 255), label="xor")
        return old[:at] + bytes([old[at] ^ flip]) + old[at + 1 :]
    if column == "leaf_hash":
        return data.draw(st.binary(min_size=32, max_size=32) | st.binary(max_size=40))
    if column == "idx":
        taken = {r["idx"] for r in rows(rt, EVENTS, EVENTS.c.idx)}
        return data.draw(st.integers(-50, 10**6).filter(lambda i: i not in taken))
    if column == "event_id":
        return data.draw(st.text(HEX, min_size=32, max_size=32) | st.text(ID_CHARS, max_size=32))
    if column == "tenant_id":
        return data.draw(st.text(ID_CHARS, min_size=1, max_size=32))
    if column == "envelope_id":
        return data.draw(st.none() | st.text(ID_CHARS, min_size=1, max_size=32))
    if column == "seq":
        return data.draw(st.none() | st.integers(0, 2**31 - 1))
    if column == "tag":
        return data.draw(st.text(ID_CHARS + ":", min_size=1, max_size=80))
    assert column == "created_at"
    return data.draw(
        st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    )


EVENT_COLUMNS = [
    "leaf",
    "leaf_hash",
    "idx",
    "event_id",
    "tenant_id",
    "envelope_id",
    "seq",
    "tag",
    "created_at",
]


def test_any_change_to_one_event_column_is_reported_by_index(ceremony: Ceremony) -> None:
    rt = ceremony.rt
    stored = rows(rt, EVENTS, EVENTS.c.idx)
    pairs = {(r["envelope_id"], r["seq"]) for r in stored}
    ids = {r["event_id"] for r in stored}
    seen: set[str] = set()

    @EXAMPLES
    @given(data=st.data())
    def tamper(column: str, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(stored) - 1), label="index")
        row = stored[index]
        value = _new_value(data, column, row, rt)
        assume(value != row[column])
        # the constraints the attacker did not drop would refuse these outright
        if column in ("envelope_id", "seq"):
            changed = {**row, column: value}
            assume((changed["envelope_id"], changed["seq"]) not in pairs)
        assume(column != "event_id" or value not in ids)
        seen.add(column)

        set_column(rt, EVENTS, EVENTS.c.idx, index, column, value)
        try:
            report = check_ledger(rt)
        finally:
            where = value if column == "idx" else index
            set_column(rt, EVENTS, EVENTS.c.idx, where, column, row[column])
        assert not report.ok
        named = report.concerning(index)
        assert named, f"{column} of event {index} changed:\n{report.to_text()}"
        assert any(p.event_id == row["event_id"] for p in report.problems if p.index == index) or (
            column == "idx"
        )

    for column in EVENT_COLUMNS:
        tamper(column)
    assert seen == set(EVENT_COLUMNS)
    assert_clean(rt)


CHECKPOINT_COLUMNS = ["size", "root_hash", "note", "created_at", "timestamp_token"]


def test_any_change_to_one_checkpoint_column_is_reported(ceremony: Ceremony) -> None:
    rt = ceremony.rt
    stored = rows(rt, CHECKPOINTS, CHECKPOINTS.c.size)
    sizes = [c["size"] for c in stored]
    seen: set[str] = set()

    @EXAMPLES
    @given(data=st.data())
    def tamper(column: str, data: st.DataObject) -> None:
        row = data.draw(st.sampled_from(stored), label="checkpoint")
        other = data.draw(st.sampled_from(stored), label="other checkpoint")
        old = row[column]
        value: Any
        if column == "size":
            value = data.draw(st.integers(0, 10**6).filter(lambda s: s not in sizes))
        elif column == "root_hash":
            value = data.draw(st.binary(min_size=32, max_size=32))
        elif column == "note":
            at = data.draw(st.integers(0, len(old) - 1))
            value = data.draw(
                st.sampled_from(
                    [other["note"], old[:at] + ("x" if old[at] != "x" else "y") + old[at + 1 :]]
                )
            )
        elif column == "created_at":
            value = old + timedelta(
                microseconds=data.draw(st.integers(-(10**12), 10**12).filter(bool))
            )
        else:
            value = data.draw(st.sampled_from([None, other["timestamp_token"], b"\x30\x00"]))
        assume(value != old)
        seen.add(column)

        set_column(rt, CHECKPOINTS, CHECKPOINTS.c.size, row["size"], column, value)
        try:
            report = check_ledger(rt)
        finally:
            where = value if column == "size" else row["size"]
            set_column(rt, CHECKPOINTS, CHECKPOINTS.c.size, where, column, old)
        assert not report.ok
        named = {p.checkpoint for p in report.problems}
        assert row["size"] in named, f"{column} of checkpoint {row['size']}:\n{report.to_text()}"

    for column in CHECKPOINT_COLUMNS:
        tamper(column)
    assert seen == set(CHECKPOINT_COLUMNS)
    assert_clean(rt)


# -- reordering, inserting, deleting -------------------------------------------------------


def _rewrite(rt: Runtime, new_rows: list[dict[str, Any]]) -> None:
    """Replace the event rows at the indices of ``new_rows`` with ``new_rows``."""
    with rt.db.engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.idx.in_([r["idx"] for r in new_rows])))
        conn.execute(insert(EVENTS), new_rows)


def test_reordered_events_are_reported(ceremony: Ceremony) -> None:
    rt = ceremony.rt
    stored = rows(rt, EVENTS, EVENTS.c.idx)
    envelope = ceremony.result.envelope_id
    mine = [r for r in stored if r["envelope_id"] == envelope]
    a, b = mine[3], mine[4]
    # the two events exchange places: everything but the index moves
    _rewrite(rt, [{**b, "idx": a["idx"]}, {**a, "idx": b["idx"]}])
    report = check_ledger(rt)
    assert report.concerning(a["idx"]), report.to_text()
    assert report.concerning(b["idx"]), report.to_text()
    assert {p.kind for p in report.problems} >= {"chain", "root"}
    with rt.db.transaction() as session, pytest.raises(LedgerInconsistent):
        rt.checkpoints.publish(session)
    _rewrite(rt, [a, b])
    assert_clean(rt)


def test_an_inserted_event_is_reported(ceremony: Ceremony) -> None:
    rt = ceremony.rt
    stored = rows(rt, EVENTS, EVENTS.c.idx)
    at = stored[len(stored) // 2]["idx"]
    forged = json.loads(stored[at]["leaf"])
    forged.update(id="f" * 32, envelope=None, seq=None, prev=None, data={"forged": True})
    leaf = canonicalize(forged)
    with rt.db.engine.begin() as conn:  # shift the tail up by one, then write into the gap
        for row in reversed(stored[at:]):
            conn.execute(
                update(EVENTS).where(EVENTS.c.idx == row["idx"]).values(idx=row["idx"] + 1)
            )
        conn.execute(
            insert(EVENTS),
            [
                {
                    **stored[at],
                    "idx": at,
                    "event_id": forged["id"],
                    "envelope_id": None,
                    "seq": None,
                    "leaf": leaf,
                    "leaf_hash": leaf_hash(leaf),
                }
            ],
        )
    report = check_ledger(rt)
    roots = [p for p in report.problems if p.kind == "root"]
    assert roots, report.to_text()
    assert all(p.concerns(at) for p in roots)


def test_deleting_covered_events_and_their_checkpoints_is_a_rollback(
    ceremony: Ceremony,
) -> None:
    rt = ceremony.rt
    stored = rows(rt, EVENTS, EVENTS.c.idx)
    checkpoints = rows(rt, CHECKPOINTS, CHECKPOINTS.c.size)
    newest = checkpoints[-1]["size"]

    @EXAMPLES
    @given(keep=st.integers(0, newest - 1))
    def truncate(keep: int) -> None:
        with rt.db.engine.begin() as conn:
            conn.execute(delete(EVENTS).where(EVENTS.c.idx >= keep))
            conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.size > keep))
        try:
            report = check_ledger(rt)
            with rt.db.transaction() as session, pytest.raises(LedgerInconsistent):
                rt.checkpoints.publish(session)
        finally:
            with rt.db.engine.begin() as conn:
                conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.size > keep))
                conn.execute(insert(EVENTS), [r for r in stored if r["idx"] >= keep])
                conn.execute(insert(CHECKPOINTS), [c for c in checkpoints if c["size"] > keep])
        rollbacks = [p for p in report.problems if p.kind == "rollback"]
        assert rollbacks, report.to_text()
        assert any(p.concerns(keep) for p in rollbacks)
        assert report.size == keep

    truncate()
    assert_clean(rt)


def test_deleting_events_no_checkpoint_covers_goes_unseen_by_design(ceremony: Ceremony) -> None:
    """The window between checkpoints is what the log cannot protect (docs/ledger.md)."""
    rt = ceremony.rt
    newest = rows(rt, CHECKPOINTS, CHECKPOINTS.c.size)[-1]["size"]
    with rt.db.engine.begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.idx >= newest))
    report = check_ledger(rt)
    assert report.ok, report.to_text()
    assert report.size == report.covered == newest


def test_checkpoints_saved_elsewhere_must_match(ceremony: Ceremony) -> None:
    """An auditor's checkpoint (here: the one in the evidence bundle) catches a rewrite
    that also replaced every stored checkpoint and copy -- which only the key holder can."""
    rt = ceremony.rt
    note = _bundle_checkpoint(ceremony.result.evidence)
    assert check_ledger(rt, extra_checkpoints=[note]).ok
    forged = note.replace(rt.checkpoints.origin, "elsewhere.invalid/log")
    report = check_ledger(rt, extra_checkpoints=[forged])
    assert [p.kind for p in report.problems] == ["checkpoint"], report.to_text()
    assert "extra checkpoint #1" in report.problems[0].detail


def _bundle_checkpoint(bundle: bytes) -> str:
    import zipfile
    from io import BytesIO

    with zipfile.ZipFile(BytesIO(bundle)) as z:
        return z.read("ledger/checkpoint.txt").decode()


# -- evidence exported after tampering -----------------------------------------------------


def test_a_bundle_exported_after_tampering_does_not_verify(ceremony: Ceremony) -> None:
    rt = ceremony.rt
    envelope = ceremony.result.envelope_id
    trust = TrustStore.from_json(trust_store(rt).to_json())
    stored = rows(rt, EVENTS, EVENTS.c.idx)
    mine = [r for r in stored if r["envelope_id"] == envelope]

    # hide one of the envelope's events from its bundle (say, a failed code entry)
    hidden = mine[len(mine) // 2]
    set_column(rt, EVENTS, EVENTS.c.idx, hidden["idx"], "envelope_id", "0" * 32)
    report = verify_bundle(export_bundle(rt, envelope, actor="operator:test"), trust)
    assert not report.ok
    assert not report.check("event-chain").ok
    next_index = mine[mine.index(hidden) + 1]["idx"]
    assert f"index {next_index}" in report.check("event-chain").detail
    assert check_ledger(rt).concerning(hidden["idx"])
    set_column(rt, EVENTS, EVENTS.c.idx, hidden["idx"], "envelope_id", envelope)

    # rewrite what a document was: the exporter's own proof check refuses the forged leaf ...
    added = next(r for r in mine if r["tag"] == "api:document:added")
    event = json.loads(added["leaf"])
    event["data"]["sha256"] = "0" * 64
    forged = canonicalize(event)
    set_column(rt, EVENTS, EVENTS.c.idx, added["idx"], "leaf", forged)
    with pytest.raises(ProofError):
        export_bundle(rt, envelope, actor="operator:test")
    # ... and with its leaf hash too, the log no longer gives its signed roots: once the
    # envelope has a new event to sign (a download, say), nothing is signed
    set_column(rt, EVENTS, EVENTS.c.idx, added["idx"], "leaf_hash", leaf_hash(forged))
    with rt.db.transaction() as session:
        rt.audit.append(
            session,
            EventTag.SEALED_DOWNLOADED,
            tenant=added["tenant_id"],
            envelope=envelope,
            actor="system",
        )
    with pytest.raises(LedgerInconsistent):
        export_bundle(rt, envelope, actor="operator:test")
    assert check_ledger(rt).concerning(added["idx"])


# -- an older database restored ------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restoring_an_older_database_is_detected(
    settings: Settings, clock: OffsetClock, tmp_path: Path
) -> None:
    db_file = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    backup = tmp_path / "backup.db"
    rt = Runtime.build(settings, clock=clock)
    try:
        with BackgroundServer(_app(rt), port=settings.port) as server:
            run_ceremony(rt, server, "acme")
            _sqlite_backup(db_file, backup)  # the operator's nightly backup
            run_ceremony(
                rt,
                server,
                "globex",
                DemoPeople("Alan", "alan@example.com", "Edsger", "e@example.com"),
            )
        assert_clean(rt)
    finally:
        rt.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, db_file)  # "restore the backup": the second ceremony is gone

    rt = Runtime.build(settings, clock=clock)
    try:
        report = check_ledger(rt)
        assert "rollback" in {p.kind for p in report.problems}, report.to_text()
        with rt.db.transaction() as session, pytest.raises(LedgerInconsistent):
            rt.checkpoints.publish(session)

        # ... and carrying on past the lost size turns the rollback into a fork
        newest = max(c.size for c in rt.checkpoints.copies())
        with rt.db.transaction() as session:
            while rt.audit.size(session) <= newest:
                rt.audit.append(session, EventTag.TENANT_CREATED, tenant="t", actor="system")
        report = check_ledger(rt)
        assert "root" in {p.kind for p in report.problems}, report.to_text()
        assert any(p.checkpoint == newest for p in report.problems)
    finally:
        rt.close()


def _app(rt: Runtime) -> Any:
    from sealwright.web.app import create_app

    return create_app(rt)


def _sqlite_backup(source: Path, target: Path) -> None:
    """A consistent copy of a live WAL database (copying the file alone could miss the WAL)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
