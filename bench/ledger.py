"""Ledger append throughput (P1, P2): ``AuditLog.append_many`` against a raw batched INSERT.

For each backend, in a scratch database, ``--events`` events are appended through
``AuditLog.append_many`` in transactions of ``--batch`` events: the lock, the envelope-head
lookup, canonical JSON, hashing and the INSERT -- the whole append path. After each batch
the very rows it stored, read back as the driver returns them, are inserted into empty
scratch tables of the same shape (``ledger_events``' columns, keys and indexes) in one
transaction with the driver's ``executemany``: once one row per INSERT, once
``ROWS_PER_STATEMENT`` rows per INSERT as ``append_many`` does. The three alternate batch by
batch, so that a busy machine slows them alike. The ratio (append rate / raw rate, same
statement shape) is what the ledger costs over bare storage.

    python bench/ledger.py                      # SQLite and PostgreSQL
    python bench/ledger.py --backend postgres --rounds 1 --profile

PostgreSQL: ``SEALWRIGHT_BENCH_POSTGRES_URL`` (default: the local test server); a scratch
database is created per round and dropped afterwards. Numbers: docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, MetaData, Table, create_engine, text
from sqlalchemy.engine import make_url

from sealwright.clock import SystemClock
from sealwright.domain.events import EventTag
from sealwright.services.audit import ROWS_PER_STATEMENT, AuditLog, NewEvent
from sealwright.storage.db import Database, make_engine, upgrade
from sealwright.storage.models import LedgerEvent

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COLUMNS = [c.name for c in LedgerEvent.__table__.columns]
TAGS = [EventTag.LINK_OPENED, EventTag.OTP_SENT, EventTag.OTP_PASSED, EventTag.DOCUMENT_VIEWED]


@dataclass(frozen=True)
class Result:
    events: int
    append_seconds: float
    single_seconds: float  # raw, one row per INSERT
    multi_seconds: float  # raw, ROWS_PER_STATEMENT rows per INSERT

    def rate(self, seconds: float) -> float:
        return self.events / seconds

    @property
    def ratio(self) -> float:
        """append_many against the raw INSERT of the same statement shape."""
        return self.multi_seconds / self.append_seconds


def make_entries(count: int, envelopes: int) -> list[NewEvent]:
    """Signer-ceremony-like events spread over ``envelopes`` envelopes of one tenant."""
    envs = [uuid.uuid4().hex for _ in range(envelopes)]
    recipients = {e: uuid.uuid4().hex for e in envs}
    entries = []
    for i in range(count):
        env = envs[i % envelopes]
        entries.append(
            NewEvent(
                tag=TAGS[i % len(TAGS)],
                tenant="t" + "0" * 31,
                actor=f"recipient:{recipients[env]}",
                envelope=env,
                data={"recipient": recipients[env], "ip_hash": f"{i:064x}", "attempt": i % 5},
            )
        )
    return entries


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def raw_inserter(engine: Engine, name: str, rows_per_statement: int) -> Callable[[list[Any]], None]:
    """Inserts rows as the driver returns them into a new, empty table shaped like
    ledger_events, ``rows_per_statement`` to an INSERT, in one transaction per call."""
    scratch = MetaData()
    table = cast(Table, LedgerEvent.__table__).to_metadata(scratch, name=name)
    scratch.create_all(engine)
    marker = "%s" if engine.dialect.name == "postgresql" else "?"
    values = "(" + ", ".join([marker] * len(COLUMNS)) + ")"

    def statement(rows: int) -> str:
        return (
            f"INSERT INTO {table.name} ({', '.join(COLUMNS)}) VALUES {', '.join([values] * rows)}"
        )

    def insert(rows: list[Any]) -> None:
        k = rows_per_statement
        full, rest = divmod(len(rows), k)
        flat = [tuple(v for row in rows[i : i + k] for v in row) for i in range(0, len(rows), k)]
        with engine.begin() as conn:
            if full:
                conn.exec_driver_sql(statement(k), flat[:full])
            if rest:
                conn.exec_driver_sql(statement(rest), flat[full])

    return insert


def timed_run(
    engine: Engine, entries: Sequence[NewEvent], batch: int
) -> tuple[float, float, float]:
    """Seconds spent appending, and inserting the same rows raw (one row per statement, and
    as many per statement as append_many puts), batch by batch.

    The three alternate batch by batch, so that whatever else the machine is doing slows
    them alike and the ratios stay meaningful on a busy host."""
    db = Database(engine)
    audit = AuditLog(clock=SystemClock())
    raw_single = raw_inserter(engine, "bench_raw_single", 1)
    raw_multi = raw_inserter(engine, "bench_raw_multi", ROWS_PER_STATEMENT)
    read_back = f"SELECT {', '.join(COLUMNS)} FROM ledger_events WHERE idx >= {{}} ORDER BY idx"
    append_seconds = single_seconds = multi_seconds = 0.0
    for chunk in batches(entries, batch):
        started = time.perf_counter()
        with db.transaction() as session:
            first = audit.append_many(session, chunk)[0].idx
        append_seconds += time.perf_counter() - started

        with engine.connect() as conn:  # the stored rows, as the driver returns them
            rows = [tuple(r) for r in conn.exec_driver_sql(read_back.format(first))]
        started = time.perf_counter()
        raw_single(rows)
        single_seconds += time.perf_counter() - started
        started = time.perf_counter()
        raw_multi(rows)
        multi_seconds += time.perf_counter() - started
    return append_seconds, single_seconds, multi_seconds


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    base = make_url(os.environ.get("SEALWRIGHT_BENCH_POSTGRES_URL", DEFAULT_PG_URL))
    name = f"sw_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


DATABASES: dict[str, Callable[[], Any]] = {
    "sqlite": sqlite_database,
    "postgres": postgres_database,
}


def run_round(backend: str, entries: Sequence[NewEvent], batch: int, profile: bool) -> Result:
    with DATABASES[backend]() as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            profiler = cProfile.Profile() if profile else None
            if profiler is not None:
                profiler.enable()
            seconds = timed_run(engine, entries, batch)
            if profiler is not None:
                profiler.disable()
                stats = pstats.Stats(profiler)
                stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(30)
        finally:
            engine.dispose()
    return Result(len(entries), *seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--envelopes", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3, help="report the median round")
    parser.add_argument("--profile", action="store_true", help="cProfile the append path")
    args = parser.parse_args(argv)

    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    entries = make_entries(args.events, args.envelopes)
    print(
        f"ledger append: {args.events} events, {args.batch} per transaction, "
        f"{args.envelopes} envelopes, median of {args.rounds} rounds"
    )
    print(
        f"{'backend':<9} {'append_many':>12} {'raw, 1 row':>12} "
        f"{f'raw, {ROWS_PER_STATEMENT} rows':>12} {'ratio':>6}   (events/s; ratio = "
        f"append_many / raw {ROWS_PER_STATEMENT} rows per INSERT)"
    )
    for backend in backends:
        results = [
            run_round(backend, entries, args.batch, args.profile and r == 0)
            for r in range(args.rounds)
        ]
        median = sorted(results, key=lambda r: r.ratio)[len(results) // 2]
        spread = ", ".join(f"{r.ratio:.2f}" for r in results)
        print(
            f"{backend:<9} {median.rate(median.append_seconds):>12,.0f} "
            f"{median.rate(median.single_seconds):>12,.0f} "
            f"{median.rate(median.multi_seconds):>12,.0f} {median.ratio:>6.2f}   "
            f"(ratio in each round: {spread})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
