"""A durable job queue in the application database.

Jobs are written in the same transaction as the change that needs them (an outbox), so a
crash can neither lose one nor run one for a change that was rolled back. Workers claim due
jobs with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (several workers never take the same
job); on SQLite, BEGIN IMMEDIATE serialises claims. A claimed job carries a lease
(``locked_until``): a worker that dies mid-job leaves it to be claimed again when the lease
runs out, so handlers must be idempotent.

The attempt number a claim returns is its fencing token: ``succeed``, ``fail`` and
``release`` given the attempt only touch the job if no later claim has taken it over (a
worker that stalled past its lease cannot mark done, or put back, a job another worker is
running). Attempts are bounded: past ``max_attempts`` a job is dead, never retried forever.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sealwright.clock import Clock
from sealwright.storage.db import Database
from sealwright.storage.models import Job

PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int


class JobQueue:
    def __init__(
        self, db: Database, *, clock: Clock, lease_seconds: int = 120, max_attempts: int = 12
    ) -> None:
        self._db = db
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    def enqueue(
        self,
        session: Session,
        kind: str,
        payload: dict[str, Any],
        *,
        key: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Add a job unless one with the same (kind, key) exists (idempotent enqueue)."""
        key = key or uuid.uuid4().hex
        exists = session.execute(
            select(Job.id).where(Job.kind == kind, Job.key == key)
        ).scalar_one_or_none()
        if exists is not None:
            return
        now = self._clock.now()
        session.add(
            Job(
                id=uuid.uuid4().hex,
                kind=kind,
                key=key,
                payload=payload,
                status=PENDING,
                run_at=now + timedelta(seconds=delay),
                attempts=0,
                created_at=now,
            )
        )
        session.flush()
        session.info["jobs_enqueued"] = True

    def claim(self) -> ClaimedJob | None:
        """Claim the next due job. A job whose lease ran out (its worker died) counts that
        as an attempt, so a job that kills its worker every time ends dead, not looping."""
        now = self._clock.now()
        while True:
            with self._db.transaction() as session:
                job = self._next_due(session, now)
                if job is None:
                    return None
                if job.status == RUNNING and job.attempts >= self.max_attempts:
                    job.status = DEAD
                    job.locked_until = None
                    job.last_error = "the worker running it stopped (lease expired) too often"
                    continue
                job.status = RUNNING
                job.attempts += 1
                job.locked_until = now + self._lease
                return ClaimedJob(job.id, job.kind, dict(job.payload), job.attempts)

    @staticmethod
    def _next_due(session: Session, now: datetime) -> Job | None:
        return session.execute(
            select(Job)
            .where(
                Job.run_at <= now,
                or_(
                    Job.status == PENDING,
                    (Job.status == RUNNING) & (Job.locked_until < now),
                ),
            )
            .order_by(Job.run_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()

    @staticmethod
    def _held(session: Session, job_id: str, attempt: int | None) -> Job | None:
        """The job, locked, if the claim that made ``attempt`` still holds it."""
        job = session.execute(
            select(Job).where(Job.id == job_id).with_for_update()
        ).scalar_one_or_none()
        if job is None:
            return None
        if attempt is not None and (job.attempts, job.status) != (attempt, RUNNING):
            return None
        return job

    def succeed(self, job_id: str, attempt: int | None = None) -> None:
        with self._db.transaction() as session:
            job = self._held(session, job_id, attempt)
            if job is not None:
                job.status = DONE
                job.locked_until = None
                job.last_error = None

    def release(self, job_id: str, attempt: int) -> bool:
        """Give a claimed job back, due now (a worker shutting down before it ran or finished
        it). The attempt stays counted: a job that outlives every shutdown still ends dead."""
        with self._db.transaction() as session:
            job = self._held(session, job_id, attempt)
            if job is None:
                return False
            job.status = PENDING
            job.locked_until = None
            job.run_at = self._clock.now()
            return True

    def fail(self, job_id: str, error: str, attempt: int | None = None) -> bool:
        """Record a failure; retry with exponential backoff and jitter, or give up.
        Returns True if the job will be retried."""
        now = self._clock.now()
        with self._db.transaction() as session:
            job = self._held(session, job_id, attempt)
            if job is None:
                return False
            job.last_error = error[:2000]
            job.locked_until = None
            if job.attempts >= self.max_attempts:
                job.status = DEAD
                return False
            backoff = min(3600.0, 2.0**job.attempts) * (0.5 + random.random())  # noqa: S311
            job.status = PENDING
            job.run_at = now + timedelta(seconds=backoff)
            return True

    def retry_now(self, session: Session, kind: str, key: str) -> bool:
        job = session.execute(
            select(Job).where(Job.kind == kind, Job.key == key)
        ).scalar_one_or_none()
        if job is None or job.status == DONE:
            return False
        job.status = PENDING
        job.run_at = self._clock.now()
        job.attempts = min(job.attempts, self.max_attempts - 1)
        return True
