"""Many writers (H2): several OS processes append to one ledger at once, in transactions of
a few events over a shared set of envelopes, some of them rolled back. Afterwards the log
must be exactly what one writer would have made: indices 0..N-1, every envelope's events
numbered 0..k-1 and hash-chained in index order, and a checkpoint over the lot whose root
is the Merkle root of the stored leaves.

The writers are this file run as a script (see the bottom), so they share no memory,
connection pool or lock with the test process or with each other. The tests after them pin
what ``append_many`` does within one process: chaining inside a batch, returning exactly
the stored rows, and leaving nothing behind when a batch fails half-way.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from sqlalchemy import inspect, select

from sealwright.clock import FixedClock, SystemClock, parse_rfc3339
from sealwright.domain.events import EventTag
from sealwright.errors import ValidationError
from sealwright.ledger import merkle
from sealwright.services.audit import AuditLog, NewEvent
from sealwright.services.runtime import Runtime
from sealwright.storage.db import Database, make_engine, upgrade
from sealwright.storage.models import LedgerEvent

ENVELOPES = [f"env-{i:02d}" for i in range(12)]
TAGS = [EventTag.ENVELOPE_SENT, EventTag.LINK_OPENED, EventTag.OTP_PASSED, EventTag.KEY_USED]
#: (processes, transactions per process) per backend; SQLite's single writer lock makes
#: it slower, so it gets a smaller run.
SIZES = {"postgresql": (4, 60), "sqlite": (3, 25)}


class Abandoned(Exception):
    """Raised inside a writer's transaction to roll it back after it appended."""


def write(url: str, writer: int, transactions: int) -> int:
    """Append ``transactions`` transactions of 1-6 events; return how many events committed."""
    engine = make_engine(url)
    db = Database(engine)
    audit = AuditLog(clock=SystemClock())
    rng = random.Random(writer)
    committed = 0
    try:
        for t in range(transactions):
            entries = [
                NewEvent(
                    tag=rng.choice(TAGS),
                    tenant="tenant-1",
                    actor=f"system:writer-{writer}",
                    envelope=rng.choice([*ENVELOPES, None]),
                    data={"writer": writer, "tx": t, "n": n},
                )
                for n in range(rng.randint(1, 6))
            ]
            try:
                with db.transaction() as session:
                    if t % 4 == 0:  # the single-event path, several times in one transaction
                        for e in entries:
                            audit.append(
                                session,
                                e.tag,
                                tenant=e.tenant,
                                actor=e.actor,
                                envelope=e.envelope,
                                data=e.data,
                            )
                    else:
                        audit.append_many(session, entries)
                    if t % 7 == 3:
                        raise Abandoned
            except Abandoned:
                continue
            finally:
                # Like requests, transactions arrive with gaps: SQLite's lock is not fair, and
                # a writer looping back-to-back would take it again before the others wake.
                time.sleep(rng.uniform(0.001, 0.005))
            committed += len(entries)
    finally:
        engine.dispose()
    return committed


def run_writers(url: str, processes: int, transactions: int) -> int:
    """Start the writers, release them together, return the events they say committed."""
    procs = [
        subprocess.Popen(  # our own interpreter, running this file
            [sys.executable, __file__, url, str(w), str(transactions)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(processes)
    ]
    try:
        for p in procs:  # each is imported and connected before any starts writing
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready", p.stderr
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        total = 0
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0, err
            total += json.loads(out)["committed"]
        return total
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def check_log(rows: list[LedgerEvent]) -> None:
    assert [r.idx for r in rows] == list(range(len(rows))), "gap or duplicate in indices"
    heads: dict[str, tuple[int, bytes]] = {}
    previous_time = None
    for r in rows:
        leaf = bytes(r.leaf)
        assert merkle.leaf_hash(leaf) == bytes(r.leaf_hash), f"leaf hash of {r.idx}"
        event: dict[str, Any] = json.loads(leaf)
        assert (event["id"], event["envelope"], event["seq"]) == (r.event_id, r.envelope_id, r.seq)
        time = parse_rfc3339(event["time"])
        assert previous_time is None or time >= previous_time, f"time goes back at {r.idx}"
        previous_time = time
        if r.envelope_id is None:
            assert (event["seq"], event["prev"]) == (None, None)
            continue
        head = heads.get(r.envelope_id)
        if head is None:
            assert (event["seq"], event["prev"]) == (0, None), f"chain start at {r.idx}"
        else:
            assert event["seq"] == head[0] + 1, f"seq at {r.idx}"
            assert event["prev"] == head[1].hex(), f"prev at {r.idx}"
        heads[r.envelope_id] = (event["seq"], bytes(r.leaf_hash))
    assert set(heads) == set(ENVELOPES)


@pytest.mark.slow
def test_concurrent_writer_processes_build_one_consistent_log(runtime: Runtime) -> None:
    url = runtime.settings.sqlalchemy_url
    processes, transactions = SIZES[runtime.db.engine.dialect.name]
    committed = run_writers(url, processes, transactions)

    with runtime.db.transaction() as session:
        rows = list(session.execute(select(LedgerEvent).order_by(LedgerEvent.idx)).scalars())
        checkpoint = runtime.checkpoints.publish(session)

    assert len(rows) == committed
    check_log(rows)
    writers = [json.loads(r.leaf)["data"]["writer"] for r in rows]
    switches = sum(a != b for a, b in itertools.pairwise(writers))
    assert switches > processes, "the writers did not actually run at the same time"

    root = merkle.root_hash([merkle.leaf_hash(bytes(r.leaf)) for r in rows])
    assert (checkpoint.size, checkpoint.root_hash) == (len(rows), root)
    assert f"\n{len(rows)}\n{base64.b64encode(root).decode()}\n" in checkpoint.note


# -- append_many in one process -------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield Database(engine)
    engine.dispose()


def stored(db: Database) -> list[tuple[Any, ...]]:
    with db.transaction() as session:
        rows = session.execute(select(LedgerEvent).order_by(LedgerEvent.idx)).scalars()
        return [_columns(r) for r in rows]


def _columns(e: LedgerEvent) -> tuple[Any, ...]:
    return (
        e.idx, e.event_id, e.tenant_id, e.envelope_id, e.seq, e.tag, bytes(e.leaf),
        bytes(e.leaf_hash), e.created_at,
    )  # fmt: skip


def test_append_many_chains_events_within_a_batch_and_across_batches(db: Database) -> None:
    audit = AuditLog(clock=FixedClock(NOW))
    with db.transaction() as session:
        assert audit.append_many(session, []) == []
        first = audit.append_many(
            session,
            [
                NewEvent(EventTag.ENVELOPE_CREATED, "t1", "client:c1", "env-a"),
                NewEvent(EventTag.ENVELOPE_CREATED, "t1", "client:c1", "env-b", {"n": 1}),
                NewEvent(EventTag.ENVELOPE_SENT, "t1", "client:c1", "env-a"),
                NewEvent(EventTag.TOKEN_ISSUED, "t1", "client:c1", None, {"scope": "x"}),
            ],
        )
    with db.transaction() as session:
        second = audit.append_many(
            session,
            [
                NewEvent(EventTag.LINK_OPENED, "t1", "recipient:r1", "env-a"),
                NewEvent(EventTag.LINK_OPENED, "t1", "recipient:r2", "env-c"),
            ],
        )
        single = audit.append(
            session, EventTag.OTP_SENT, tenant="t1", actor="system", envelope="env-a"
        )
    events = [*first, *second, single]

    assert all(inspect(e).detached for e in events)
    assert [_columns(e) for e in events] == stored(db)  # what was returned is what was stored
    assert [(e.idx, e.envelope_id, e.seq) for e in events] == [
        (0, "env-a", 0), (1, "env-b", 0), (2, "env-a", 1), (3, None, None),
        (4, "env-a", 2), (5, "env-c", 0), (6, "env-a", 3),
    ]  # fmt: skip
    leaves = [json.loads(e.leaf) for e in events]
    assert [leaf["prev"] for leaf in leaves] == [
        None, None, events[0].leaf_hash.hex(), None,
        events[2].leaf_hash.hex(), None, events[4].leaf_hash.hex(),
    ]  # fmt: skip
    for e, leaf in zip(events, leaves, strict=True):
        assert bytes(e.leaf) == rfc8785.dumps(leaf)  # canonical, by the reference library
        assert e.leaf_hash == merkle.leaf_hash(e.leaf)
        assert leaf["time"] == "2024-05-01T12:00:00.000000Z"
    assert leaves[1]["data"] == {"n": 1}


def test_a_batch_that_fails_half_way_leaves_no_trace(db: Database) -> None:
    audit = AuditLog(clock=FixedClock(NOW))
    with db.transaction() as session:
        audit.append(session, EventTag.ENVELOPE_CREATED, tenant="t1", actor="c", envelope="env-a")
    before = stored(db)
    good = NewEvent(EventTag.ENVELOPE_SENT, "t1", "c", "env-a")
    bad = NewEvent(EventTag.ENVELOPE_SENT, "t1", "c", "env-a", {"x": float("nan")})
    with pytest.raises(ValidationError), db.transaction() as session:
        audit.append_many(session, [good] * 50 + [bad] + [good] * 50)  # rows already sent
    assert stored(db) == before
    with db.transaction() as session:  # the connection and the log carry on
        after = audit.append_many(session, [good, good])
    assert [(e.idx, e.seq) for e in after] == [(1, 1), (2, 2)]
    assert json.loads(after[0].leaf)["prev"] == before[0][7].hex()


if __name__ == "__main__":
    # A writer process: report ready, wait for the go, write, report what committed.
    _url, _writer, _transactions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    make_engine(_url).dispose()  # import everything before saying ready
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(2)
    print(json.dumps({"committed": write(_url, _writer, _transactions)}), flush=True)
