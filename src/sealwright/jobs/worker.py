"""Runs due jobs: in background threads of the API process (embedded default) or as
``sealwright worker`` processes (several, on PostgreSQL).

Shutdown is graceful: ``stop`` takes no new job, waits up to a timeout for the jobs in hand,
then gives back (releases) those still running so another worker picks them up at once
instead of after the lease. Handlers are idempotent, so a job given back while its handler
still runs is safe; the fenced ``succeed`` of the late handler then changes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from sealwright.jobs.queue import ClaimedJob, JobQueue

log = structlog.get_logger("sealwright.jobs")

Handler = Callable[[dict[str, Any]], None]


class Worker:
    def __init__(self, queue: JobQueue, handlers: Mapping[str, Handler], *, poll: float = 0.5):
        self._queue = queue
        self._handlers = dict(handlers)
        self._poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._in_hand: dict[str, ClaimedJob] = {}
        self._lock = threading.Lock()

    def run_once(self) -> bool:
        """Run one due job if there is one; True if a job was run."""
        job = self._queue.claim()
        if job is None:
            return False
        with self._lock:
            self._in_hand[job.id] = job
        try:
            self._run(job)
        finally:
            with self._lock:
                self._in_hand.pop(job.id, None)
        return True

    def run_until_idle(self, limit: int = 1000) -> int:
        count = 0
        while count < limit and self.run_once():
            count += 1
        return count

    def _run(self, job: ClaimedJob) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            self._queue.fail(job.id, f"no handler for job kind {job.kind!r}", job.attempts)
            return
        try:
            handler(job.payload)
        except Exception as exc:  # a job's failure must never kill the worker
            retried = self._queue.fail(job.id, f"{type(exc).__name__}: {exc}", job.attempts)
            log.warning(
                "job failed",
                kind=job.kind,
                job=job.id,
                attempt=job.attempts,
                retried=retried,
                error_type=type(exc).__name__,
            )
        else:
            self._queue.succeed(job.id, job.attempts)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wake(self) -> None:
        self._wake.set()

    def start(self, threads: int = 1) -> None:
        """Start ``threads`` claiming loops (jobs such as sealing wait on I/O: a TSA, mail)."""
        for n in range(threads):
            thread = threading.Thread(target=self._loop, name=f"sealwright-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Take no new job; wait up to ``timeout`` for the jobs in hand, then release them."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = list(self._in_hand.values())
        for job in left:
            try:
                released = self._queue.release(job.id, job.attempts)
            except Exception:  # the lease will run out instead
                log.exception("could not release a job", job=job.id)
                continue
            log.warning(
                "job released unfinished at shutdown", kind=job.kind, job=job.id, released=released
            )
        self._threads = []

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # database briefly unavailable: keep polling
                log.exception("worker loop error")
                ran = False
            if not ran and not self._stop.is_set():
                self._wake.wait(self._poll)
                self._wake.clear()
