"""Several workers on one queue: separate processes on PostgreSQL (SKIP LOCKED claiming,
a worker killed with SIGKILL while holding a lease), fencing of stale claims and graceful
shutdown that gives jobs back (both backends)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sealwright.clock import FixedClock, SystemClock
from sealwright.jobs.queue import DONE, PENDING, RUNNING, JobQueue
from sealwright.jobs.worker import Worker
from sealwright.storage.db import Database, make_engine, upgrade
from sealwright.storage.models import Job
from tests.integration.test_jobs import START

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield Database(engine)
    engine.dispose()


def job_rows(db: Database) -> list[Job]:
    with db.transaction() as session:
        return list(session.execute(select(Job)).scalars())


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail("condition not reached in time")


# -- fencing and graceful shutdown (SQLite and PostgreSQL) -----------------------------------


def test_a_stale_claim_cannot_finish_or_fail_a_job_taken_over(db: Database) -> None:
    clock = FixedClock(START)
    queue = JobQueue(db, clock=clock, lease_seconds=60, max_attempts=5)
    with db.transaction() as session:
        queue.enqueue(session, "k", {}, key="one")
    first = queue.claim()
    assert first is not None
    clock.advance(61)  # its worker stalled past the lease
    second = queue.claim()
    assert second is not None
    assert (second.id, second.attempts) == (first.id, 2)

    queue.succeed(first.id, first.attempts)  # the stalled worker wakes up: ignored
    assert queue.fail(first.id, "late", first.attempts) is False
    assert queue.release(first.id, first.attempts) is False
    [job] = job_rows(db)
    assert (job.status, job.attempts, job.last_error) == (RUNNING, 2, None)

    queue.succeed(second.id, second.attempts)
    [job] = job_rows(db)
    assert job.status == DONE


def test_stop_releases_a_job_still_running_and_its_late_success_changes_nothing(
    db: Database,
) -> None:
    queue = JobQueue(db, clock=SystemClock(), lease_seconds=300, max_attempts=5)
    entered, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow(_: dict[str, Any]) -> None:
        runs.append(1)
        entered.set()
        release.wait(10)

    with db.transaction() as session:
        queue.enqueue(session, "slow", {}, key="s")
    worker = Worker(queue, {"slow": slow}, poll=0.05)
    worker.start()
    assert entered.wait(10)
    started = time.monotonic()
    worker.stop(timeout=0.3)
    assert time.monotonic() - started < 5  # bounded by the timeout, not by the job
    [job] = job_rows(db)
    # given back, due now, not waiting out its 300 s lease; the attempt still counts
    assert (job.status, job.locked_until, job.attempts) == (PENDING, None, 1)

    release.set()  # the old handler finishes after the release: its success is fenced off
    time.sleep(0.3)
    assert job_rows(db)[0].status == PENDING

    again = Worker(queue, {"slow": lambda p: runs.append(2)}, poll=0.05)
    assert again.run_until_idle() == 1
    [job] = job_rows(db)
    assert (job.status, job.attempts) == (DONE, 2)
    assert runs == [1, 2]


def test_stop_waits_for_a_job_that_finishes_within_the_timeout(db: Database) -> None:
    queue = JobQueue(db, clock=SystemClock(), lease_seconds=300, max_attempts=5)
    entered = threading.Event()

    def short(_: dict[str, Any]) -> None:
        entered.set()
        time.sleep(0.3)

    with db.transaction() as session:
        queue.enqueue(session, "short", {}, key="s")
    worker = Worker(queue, {"short": short}, poll=0.05)
    worker.start(threads=2)
    assert entered.wait(10)
    worker.stop(timeout=10)
    [job] = job_rows(db)
    assert (job.status, job.attempts) == (DONE, 1)


# -- separate worker processes on PostgreSQL -------------------------------------------------


def start_worker(url: str, log: Path, lease: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.job_worker_proc", url, str(log), str(lease)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wait_for(lambda: log.exists() and f"ready {proc.pid}" in log.read_text())
    return proc


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_worker_processes_share_the_queue_and_survive_a_sigkill(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    log = tmp_path / "trace.log"
    marker = tmp_path / "hang-once"
    marker.touch()
    queue = JobQueue(db, clock=SystemClock(), lease_seconds=3, max_attempts=5)
    a = start_worker(database_url, log, lease=3)
    b: subprocess.Popen[bytes] | None = None
    try:
        with db.transaction() as session:
            queue.enqueue(session, "test.hang", {"marker": str(marker)}, key="hang")
        wait_for(lambda: f"start {a.pid}" in log.read_text())
        b = start_worker(database_url, log, lease=3)

        with db.transaction() as session:  # work for both: each job runs exactly once
            for n in range(200):
                queue.enqueue(session, "test.record", {"n": n}, key=f"n{n}")
        wait_for(lambda: sum(j.status == DONE for j in job_rows(db)) >= 200, timeout=60)

        killed_at = time.monotonic()
        a.kill()  # SIGKILL while it holds the lease on the hanging job
        a.wait(10)
        wait_for(lambda: f"done {b.pid}" in log.read_text(), timeout=30)
        assert time.monotonic() - killed_at < 20

        lines = log.read_text().splitlines()
        records = Counter(line.split()[1] for line in lines if line.startswith("record "))
        assert records == Counter({str(n): 1 for n in range(200)})
        assert {line.split()[2] for line in lines if line.startswith("record ")} <= {
            str(a.pid),
            str(b.pid),
        }
        hang = [line for line in lines if line.startswith(("start ", "done "))]
        assert hang == [f"start {a.pid}", f"start {b.pid}", f"done {b.pid}"]  # exactly once more
        # "done" is traced inside the handler, before the worker commits the job: wait for it
        wait_for(lambda: [j.status for j in job_rows(db) if j.kind == "test.hang"] == [DONE])
        [job] = [j for j in job_rows(db) if j.kind == "test.hang"]
        assert (job.status, job.attempts, job.locked_until) == (DONE, 2, None)

        b.send_signal(signal.SIGTERM)  # graceful: exits on its own
        assert b.wait(15) == 0
        assert f"stopped {b.pid}" in log.read_text()
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
