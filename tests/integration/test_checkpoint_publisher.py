"""Publishing checkpoints (E3): consistency with the last one signed before signing, an RFC
3161 token over each, copies outside the database; and ``sealwright ledger check`` on the
command line. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy import Table, text, update

from sealwright.cli.ledger_cmds import ledger
from sealwright.domain.events import EventTag
from sealwright.errors import LedgerInconsistent, TimestampUnavailable
from sealwright.ledger.note import NoteSigner
from sealwright.services.checkpoints import timestamp_digest, timestamp_time
from sealwright.services.evidence_export import trust_store
from sealwright.services.ledger_check import check_ledger
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Checkpoint, LedgerEvent

EVENTS: Table = LedgerEvent.__table__  # type: ignore[assignment]
CHECKPOINTS: Table = Checkpoint.__table__  # type: ignore[assignment]


class DownTsa:
    """A timestamp authority that is not there."""

    label = "down"
    trust_roots: Sequence[x509.Certificate] = ()

    def timestamper(self) -> TimeStamper:
        raise TimestampUnavailable("down")

    def timestamp(self, digest: bytes, md_algorithm: str = "sha256") -> bytes:
        raise TimestampUnavailable("timestamp authority down failed")


def append(rt: Runtime, n: int = 1) -> None:
    with rt.db.transaction() as session:
        for _ in range(n):
            rt.audit.append(session, EventTag.TENANT_CREATED, tenant="t", actor="system")


def publish(rt: Runtime, **kwargs: bool) -> Checkpoint:
    with rt.db.transaction() as session:
        return rt.checkpoints.publish(session, **kwargs)


def publish_then_fail(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        rt.checkpoints.publish(session)
        raise RuntimeError("the caller failed after publishing")


def drop_triggers(rt: Runtime) -> None:
    with rt.db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in ("ledger_events_no_update", "checkpoints_no_update"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            for table in ("ledger_events", "checkpoints"):
                conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))


def test_each_checkpoint_is_timestamped_and_copied_after_commit(runtime: Runtime) -> None:
    append(runtime, 3)
    row = publish(runtime)
    assert row.size == 3
    assert row.timestamp_token is not None
    body = row.note[: row.note.index("\n\n") + 1]
    assert row.created_at == timestamp_time(row.timestamp_token)
    assert timestamp_digest(body) in row.timestamp_token  # the imprint, in the DER
    copies = runtime.checkpoints.copies_dir
    assert (copies / "3.note").read_text() == row.note
    assert (copies / "3.tsr").read_bytes() == row.timestamp_token
    assert {p.stat().st_mode & 0o777 for p in copies.iterdir()} == {0o600}
    assert copies.stat().st_mode & 0o777 == 0o700
    assert publish(runtime).note == row.note  # nothing new: the same checkpoint

    # a checkpoint whose transaction rolls back leaves no copy behind
    append(runtime)
    with pytest.raises(RuntimeError, match="the caller failed"):
        publish_then_fail(runtime)
    assert not (copies / "4.note").exists()
    assert publish(runtime).size == 4
    assert (copies / "4.note").exists()


def test_a_lost_copy_is_written_again_by_the_next_publish(runtime: Runtime) -> None:
    append(runtime, 2)
    first = publish(runtime)
    (runtime.checkpoints.copies_dir / "2.note").unlink()
    append(runtime)
    publish(runtime)
    assert (runtime.checkpoints.copies_dir / "2.note").read_text() == first.note


def test_a_tsa_outage_blocks_only_checkpoints_that_need_a_token(runtime: Runtime) -> None:
    working = runtime.checkpoints.tsa
    runtime.checkpoints.tsa = DownTsa()
    append(runtime, 2)  # appends never wait for the TSA
    with pytest.raises(TimestampUnavailable):
        publish(runtime)  # e.g. the sealing job's completion checkpoint: retried later
    with runtime.db.transaction() as session:
        assert runtime.checkpoints.latest(session) is None
    row = publish(runtime, require_timestamp=False)
    assert row.timestamp_token is None
    assert not (runtime.checkpoints.copies_dir / "2.tsr").exists()
    report = check_ledger(runtime)
    assert report.ok
    assert "checkpoint 2 has no timestamp" in report.notes

    runtime.checkpoints.tsa = working
    append(runtime)
    assert publish(runtime).timestamp_token is not None


def test_publish_refuses_a_tree_that_does_not_extend_the_last_checkpoint(
    runtime: Runtime,
) -> None:
    append(runtime, 5)
    signed = publish(runtime)
    drop_triggers(runtime)
    with runtime.db.engine.connect() as conn:
        original = dict(conn.execute(EVENTS.select().where(EVENTS.c.idx == 2)).one()._mapping)

    def refused(match: str) -> None:
        append(runtime)
        with pytest.raises(LedgerInconsistent, match=match):
            publish(runtime)

    def set_event(**values: object) -> None:
        with runtime.db.engine.begin() as conn:
            conn.execute(update(EVENTS).where(EVENTS.c.idx == 2).values(**values))

    # a covered leaf hash rewritten: the stored events no longer give the signed root
    set_event(leaf_hash=b"\x00" * 32)
    refused("no longer give the root signed")
    set_event(leaf_hash=original["leaf_hash"])

    # the signed note in the database replaced by garbage
    with runtime.db.engine.begin() as conn:
        conn.execute(
            update(CHECKPOINTS).where(CHECKPOINTS.c.size == 5).values(note="forged\n\n— x eA==\n")
        )
    refused("does not verify with the log key")
    with runtime.db.engine.begin() as conn:
        conn.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.size == 5).values(note=signed.note))

    # an event nothing has signed yet whose leaf no longer fits its hash
    good = publish(runtime)
    append(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(
            update(EVENTS).where(EVENTS.c.idx == good.size).values(leaf=b'{"forged":true}')
        )
    with pytest.raises(LedgerInconsistent, match=f"event {good.size}: its leaf does not hash"):
        publish(runtime)


def test_a_copy_larger_than_the_log_stops_publishing(runtime: Runtime) -> None:
    append(runtime, 4)
    row = publish(runtime)
    # as if this database were restored from before the checkpoint copied here
    copies = runtime.checkpoints.copies_dir
    (copies / "9.note").write_text(row.note)  # a real signed note: name and body disagree
    with pytest.raises(LedgerInconsistent, match="has size 9 but the log holds 4"):
        publish(runtime)
    (copies / "9.note").unlink()
    assert publish(runtime).size == 4


# -- the command line ----------------------------------------------------------------------


def run_check(runtime: Runtime, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(ledger, ["check", *args], obj={"settings": runtime.settings})
    return result.exit_code, result.stdout


def test_ledger_check_command(runtime: Runtime, tmp_path: Path) -> None:
    append(runtime, 6)
    note = publish(runtime).note
    append(runtime)
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(note)
    trust = tmp_path / "trust.json"
    trust.write_bytes(trust_store(runtime).to_json())

    code, out = run_check(runtime, "--checkpoint", str(saved), "--trust", str(trust))
    assert code == 0, out
    assert f"extra checkpoint #1 is {saved}" in out
    assert "RESULT: CONSISTENT" in out
    assert "event 6: not yet covered" in out

    code, out = run_check(runtime, "--json")
    assert code == 0
    assert json.loads(out)["ok"] is True

    drop_triggers(runtime)
    with runtime.db.engine.begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.idx == 3).values(tag="api:envelope:voided"))
    code, out = run_check(runtime, "--json")
    assert code == 1
    report = json.loads(out)
    assert [(p["kind"], p["index"]) for p in report["problems"]] == [("column", 3)]

    other = tmp_path / "other-trust.json"
    elsewhere = NoteSigner("other.invalid/log", Ed25519PrivateKey.generate()).verifier
    pinned = dataclasses.replace(
        trust_store(runtime), log_origin=elsewhere.name, checkpoint_keys=(elsewhere,)
    )
    other.write_bytes(pinned.to_json())
    result = CliRunner().invoke(
        ledger, ["check", "--trust", str(other)], obj={"settings": runtime.settings}
    )
    assert result.exit_code != 0
    assert "pins the log 'other.invalid/log'" in result.stderr


def test_tokens_must_chain_to_the_pinned_tsa_roots(runtime: Runtime) -> None:
    append(runtime, 2)
    publish(runtime)
    assert check_ledger(runtime).ok
    stranger = runtime.pki.signer.certificate  # a real certificate, but no TSA root
    report = check_ledger(runtime, tsa_roots=[stranger])
    assert [(p.kind, p.checkpoint) for p in report.problems] == [("timestamp", 2)]
    assert "does not chain to a trusted TSA root" in report.problems[0].detail


def test_two_publishers_racing_for_one_size_agree_on_one_checkpoint(runtime: Runtime) -> None:
    """Two workers finishing at once both publish the same size: the second insert loses
    the race and returns the winner's row instead of failing its caller's transaction."""
    if runtime.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): there is no race to lose")
    append(runtime, 3)
    first_inserted = threading.Event()
    outcome: dict[str, object] = {}

    def second() -> None:
        first_inserted.wait(10)
        try:
            with runtime.db.transaction() as session:
                row = runtime.checkpoints.publish(session)
                outcome["second"] = (row.size, row.root_hash)
        except Exception as exc:  # reported below, not swallowed
            outcome["error"] = exc

    worker = threading.Thread(target=second)
    worker.start()
    with runtime.db.transaction() as session:
        won = runtime.checkpoints.publish(session)
        first = (won.size, won.root_hash)
        first_inserted.set()
        # The second publisher's INSERT now waits on this uncommitted row.
        time.sleep(0.5)
    worker.join(20)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["second"] == first
    with runtime.db.transaction() as session:
        assert session.execute(text("SELECT count(*) FROM checkpoints")).scalar_one() == 1
