"""The durable job queue and its worker, against real SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from sealwright.clock import FixedClock, OffsetClock
from sealwright.jobs.queue import DEAD, DONE, PENDING, RUNNING, ClaimedJob, JobQueue
from sealwright.jobs.worker import Worker
from sealwright.storage.db import Database, make_engine, upgrade
from sealwright.storage.models import Job

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LEASE = 60


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield Database(engine)
    engine.dispose()


@pytest.fixture
def fixed() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def queue(db: Database, fixed: FixedClock) -> JobQueue:
    return JobQueue(db, clock=fixed, lease_seconds=LEASE, max_attempts=3)


def enqueue(
    db: Database,
    queue: JobQueue,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    delay: float = 0.0,
) -> None:
    with db.transaction() as session:
        queue.enqueue(session, kind, payload, key=key, delay=delay)


def jobs(db: Database) -> list[Job]:
    with db.transaction() as session:
        return list(session.execute(select(Job).order_by(Job.created_at, Job.id)).scalars())


def only_job(db: Database) -> Job:
    [job] = jobs(db)
    return job


# -- enqueue ---------------------------------------------------------------------------------


def test_enqueue_is_idempotent_per_kind_and_key(db: Database, queue: JobQueue) -> None:
    enqueue(db, queue, "mail", {"n": 1}, key="envelope-1")
    enqueue(db, queue, "mail", {"n": 2}, key="envelope-1")  # later transaction
    with db.transaction() as session:  # same transaction, twice
        queue.enqueue(session, "mail", {"n": 3}, key="envelope-2")
        queue.enqueue(session, "mail", {"n": 4}, key="envelope-2")
    enqueue(db, queue, "seal", {"n": 5}, key="envelope-1")  # same key, other kind

    rows = {(j.kind, j.key): j.payload for j in jobs(db)}
    assert rows == {
        ("mail", "envelope-1"): {"n": 1},
        ("mail", "envelope-2"): {"n": 3},
        ("seal", "envelope-1"): {"n": 5},
    }


def test_enqueue_without_a_key_always_adds(db: Database, queue: JobQueue) -> None:
    for _ in range(3):
        enqueue(db, queue, "mail", {"same": True})
    rows = jobs(db)
    assert len(rows) == 3
    assert len({j.key for j in rows}) == 3


def test_a_finished_job_is_not_enqueued_again(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    enqueue(db, queue, "mail", {}, key="k")
    Worker(queue, {"mail": lambda p: None}).run_until_idle()
    assert only_job(db).status == DONE
    enqueue(db, queue, "mail", {}, key="k")
    assert only_job(db).status == DONE
    fixed.advance(3600)
    assert queue.claim() is None


def test_new_job_is_pending_and_due_now(db: Database, queue: JobQueue) -> None:
    enqueue(db, queue, "mail", {"to": "a@example.test"}, key="k")
    job = only_job(db)
    assert (job.status, job.attempts, job.last_error, job.locked_until) == (PENDING, 0, None, None)
    assert job.run_at == START
    assert job.created_at == START


def test_enqueue_belongs_to_the_callers_transaction(db: Database, queue: JobQueue) -> None:
    woken: list[int] = []
    db.on_jobs_committed.append(lambda: woken.append(1))

    class Abort(Exception):
        pass

    def enqueue_then_fail() -> None:
        with db.transaction() as session:
            queue.enqueue(session, "mail", {}, key="k")
            raise Abort

    with pytest.raises(Abort):
        enqueue_then_fail()
    assert jobs(db) == []
    assert woken == []  # nothing committed, nobody woken

    enqueue(db, queue, "mail", {}, key="k")
    assert len(jobs(db)) == 1
    assert woken == [1]  # woken after the commit

    enqueue(db, queue, "mail", {}, key="k")  # a duplicate adds nothing, wakes nobody
    assert woken == [1]


# -- claim -----------------------------------------------------------------------------------


def test_claim_respects_run_at(db: Database, queue: JobQueue, fixed: FixedClock) -> None:
    enqueue(db, queue, "mail", {"x": 1}, key="k", delay=60)
    assert only_job(db).run_at == START + timedelta(seconds=60)
    assert queue.claim() is None
    fixed.advance(59.999)
    assert queue.claim() is None
    fixed.advance(0.001)  # due exactly now
    claimed = queue.claim()
    assert claimed == ClaimedJob(only_job(db).id, "mail", {"x": 1}, 1)


def test_claim_marks_the_job_running_under_a_lease(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    enqueue(db, queue, "mail", {}, key="k")
    assert queue.claim() is not None
    job = only_job(db)
    assert job.status == RUNNING
    assert job.attempts == 1
    assert job.locked_until == START + timedelta(seconds=LEASE)
    assert queue.claim() is None  # leased: nobody else gets it


def test_claim_takes_the_job_due_first(db: Database, queue: JobQueue, fixed: FixedClock) -> None:
    enqueue(db, queue, "a", {}, delay=30)
    enqueue(db, queue, "b", {}, delay=10)
    enqueue(db, queue, "c", {}, delay=20)
    fixed.advance(30)
    order = []
    while (job := queue.claim()) is not None:
        order.append(job.kind)
    assert order == ["b", "c", "a"]


def test_claim_on_an_empty_queue(queue: JobQueue) -> None:
    assert queue.claim() is None


def test_expired_lease_makes_a_running_job_claimable_again(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    enqueue(db, queue, "seal", {"envelope": "e1"}, key="e1")
    first = queue.claim()
    assert first is not None
    # The worker holding it dies; nothing is recorded until the lease runs out.
    fixed.advance(LEASE)
    assert queue.claim() is None, "the lease still holds at its last instant"
    fixed.advance(0.001)
    second = queue.claim()
    assert second is not None
    assert (second.id, second.payload, second.attempts) == (first.id, first.payload, 2)
    job = only_job(db)
    assert job.status == RUNNING
    assert job.locked_until == fixed.now() + timedelta(seconds=LEASE)


def test_a_job_that_keeps_killing_its_worker_ends_dead(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    enqueue(db, queue, "seal", {"envelope": "e1"}, key="e1")
    for attempt in range(1, queue.max_attempts + 1):
        claimed = queue.claim()
        assert claimed is not None
        assert claimed.attempts == attempt
        fixed.advance(LEASE + 1)  # the worker dies without a word
    assert queue.claim() is None
    job = only_job(db)
    assert job.status == DEAD
    assert job.last_error is not None
    assert "lease expired" in job.last_error


def test_expired_lease_with_a_live_offset_clock(db: Database, clock: OffsetClock) -> None:
    # The same with the shared real-time clock, as the running service has it.
    queue = JobQueue(db, clock=clock, lease_seconds=LEASE)
    enqueue(db, queue, "seal", {}, key="k")
    assert queue.claim() is not None
    assert queue.claim() is None
    clock.advance(LEASE + 1)
    reclaimed = queue.claim()
    assert reclaimed is not None
    assert reclaimed.attempts == 2


# -- worker: success, failure, retries -------------------------------------------------------


def test_successful_job_is_done(db: Database, queue: JobQueue) -> None:
    seen: list[dict[str, Any]] = []
    worker = Worker(queue, {"mail": seen.append})
    enqueue(db, queue, "mail", {"to": "a@example.test"}, key="k")
    assert worker.run_once() is True
    assert seen == [{"to": "a@example.test"}]
    job = only_job(db)
    assert (job.status, job.attempts, job.last_error, job.locked_until) == (DONE, 1, None, None)
    assert worker.run_once() is False


def test_failing_handler_is_retried_with_backoff_then_dead(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    calls: list[int] = []

    def flaky(payload: dict[str, Any]) -> None:
        calls.append(len(calls) + 1)
        raise RuntimeError(f"smtp refused (try {len(calls)})")

    worker = Worker(queue, {"mail": flaky})
    enqueue(db, queue, "mail", {}, key="k")
    previous_run_at = only_job(db).run_at

    for attempt in (1, 2):
        assert worker.run_once() is True
        job = only_job(db)
        assert job.status == PENDING
        assert job.attempts == attempt
        assert job.last_error == f"RuntimeError: smtp refused (try {attempt})"
        assert job.locked_until is None
        # Exponential backoff with jitter: 2**attempts seconds, times 0.5 to 1.5.
        delay = (job.run_at - fixed.now()).total_seconds()
        assert 0.5 * 2**attempt <= delay <= 1.5 * 2**attempt
        assert job.run_at > previous_run_at
        previous_run_at = job.run_at
        assert worker.run_once() is False, "not before its new run_at"
        fixed.advance(delay)

    assert worker.run_once() is True  # third and last attempt
    job = only_job(db)
    assert job.status == DEAD
    assert job.attempts == 3
    assert job.last_error == "RuntimeError: smtp refused (try 3)"
    assert job.locked_until is None
    fixed.advance(30 * 86_400)
    assert worker.run_once() is False, "a dead job is never run again"
    assert calls == [1, 2, 3]


def test_fail_reports_whether_it_will_retry(db: Database, queue: JobQueue) -> None:
    enqueue(db, queue, "mail", {}, key="k")
    job = queue.claim()
    assert job is not None
    assert queue.fail(job.id, "first") is True
    assert queue.fail("no-such-job", "x") is False


def test_backoff_is_capped_at_an_hour(db: Database, fixed: FixedClock) -> None:
    queue = JobQueue(db, clock=fixed, max_attempts=100)
    enqueue(db, queue, "mail", {}, key="k")
    with db.transaction() as session:
        session.execute(select(Job)).scalar_one().attempts = 40  # 2**41 s uncapped
    job = queue.claim()
    assert job is not None
    assert queue.fail(job.id, "still down") is True
    delay = (only_job(db).run_at - fixed.now()).total_seconds()
    assert 1800 <= delay <= 5400


def test_long_errors_are_truncated(db: Database, queue: JobQueue) -> None:
    enqueue(db, queue, "mail", {}, key="k")
    job = queue.claim()
    assert job is not None
    queue.fail(job.id, "x" * 10_000)
    assert only_job(db).last_error == "x" * 2000


def test_job_without_a_handler_fails_and_says_so(db: Database, queue: JobQueue) -> None:
    worker = Worker(queue, {"mail": lambda p: None})
    enqueue(db, queue, "fax", {}, key="k")
    assert worker.run_once() is True
    job = only_job(db)
    assert job.status == PENDING
    assert job.attempts == 1
    assert job.last_error == "no handler for job kind 'fax'"


def test_a_failing_job_does_not_stop_the_others(db: Database, queue: JobQueue) -> None:
    done: list[str] = []

    def handler(payload: dict[str, Any]) -> None:
        if payload["fail"]:
            raise ValueError("bad")
        done.append(payload["name"])

    for name, fail in [("a", False), ("b", True), ("c", False)]:
        enqueue(db, queue, "work", {"name": name, "fail": fail}, key=name)
    assert Worker(queue, {"work": handler}).run_until_idle() == 3
    assert sorted(done) == ["a", "c"]
    assert sorted(j.status for j in jobs(db)) == [DONE, DONE, PENDING]


def test_run_until_idle_stops_at_its_limit(db: Database, queue: JobQueue) -> None:
    for i in range(5):
        enqueue(db, queue, "work", {"i": i})
    worker = Worker(queue, {"work": lambda p: None})
    assert worker.run_until_idle(limit=2) == 2
    assert worker.run_until_idle() == 3
    assert worker.run_until_idle() == 0


def test_retry_now_revives_a_dead_job_for_one_more_attempt(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("down")

    worker = Worker(queue, {"mail": broken})
    enqueue(db, queue, "mail", {}, key="k")
    for _ in range(3):
        worker.run_once()
        fixed.advance(3600)
    assert only_job(db).status == DEAD

    with db.transaction() as session:
        assert queue.retry_now(session, "mail", "k") is True
        assert queue.retry_now(session, "mail", "missing") is False
    job = only_job(db)
    assert (job.status, job.attempts, job.run_at) == (PENDING, 2, fixed.now())
    assert worker.run_once() is True
    assert only_job(db).status == DEAD  # one more failure is the last


def test_retry_now_leaves_finished_jobs_alone(db: Database, queue: JobQueue) -> None:
    enqueue(db, queue, "mail", {}, key="k")
    Worker(queue, {"mail": lambda p: None}).run_until_idle()
    with db.transaction() as session:
        assert queue.retry_now(session, "mail", "k") is False
    assert only_job(db).status == DONE


# -- concurrency -----------------------------------------------------------------------------


def _claim_concurrently(db: Database, clock: FixedClock, threads: int) -> list[list[str]]:
    """Each thread claims (and never finishes) jobs until none is left."""
    barrier = threading.Barrier(threads)
    claimed: list[list[str]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def claimer(mine: list[str]) -> None:
        queue = JobQueue(db, clock=clock, lease_seconds=LEASE)
        try:
            barrier.wait()
            while (job := queue.claim()) is not None:
                mine.append(job.id)
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    workers = [threading.Thread(target=claimer, args=(c,)) for c in claimed]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in workers)
    assert errors == []
    return claimed


@pytest.mark.parametrize(
    "database_url",
    [pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_two_concurrent_claimers_never_take_the_same_job_on_postgres(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    for i in range(50):
        enqueue(db, queue, "work", {"i": i})
    all_ids = {j.id for j in jobs(db)}

    claimed = _claim_concurrently(db, fixed, threads=2)

    flat = [job_id for mine in claimed for job_id in mine]
    assert len(flat) == len(set(flat)), "a job was claimed twice"
    assert set(flat) == all_ids
    # The database agrees: every job was claimed exactly once.
    with db.transaction() as session:
        rows = session.execute(
            select(Job.status, Job.attempts, func.count()).group_by(Job.status, Job.attempts)
        ).all()
    assert [tuple(r) for r in rows] == [(RUNNING, 1, 50)]


def test_concurrent_claimers_never_take_the_same_job(
    db: Database, queue: JobQueue, fixed: FixedClock
) -> None:
    # Both backends: SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite.
    for i in range(30):
        enqueue(db, queue, "work", {"i": i})
    claimed = _claim_concurrently(db, fixed, threads=4)
    flat = [job_id for mine in claimed for job_id in mine]
    assert sorted(flat) == sorted(j.id for j in jobs(db))
    assert all(j.attempts == 1 for j in jobs(db))
