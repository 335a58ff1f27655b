"""Runs due jobs: in a background thread of the API process (embedded default) or as
``sealwright worker`` processes (several, on PostgreSQL)."""

from __future__ import annotations

import threading
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
        self._thread: threading.Thread | None = None

    def run_once(self) -> bool:
        """Run one due job if there is one; True if a job was run."""
        job = self._queue.claim()
        if job is None:
            return False
        self._run(job)
        return True

    def run_until_idle(self, limit: int = 1000) -> int:
        count = 0
        while count < limit and self.run_once():
            count += 1
        return count

    def _run(self, job: ClaimedJob) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            self._queue.fail(job.id, f"no handler for job kind {job.kind!r}")
            return
        try:
            handler(job.payload)
        except Exception as exc:  # a job's failure must never kill the worker
            retried = self._queue.fail(job.id, f"{type(exc).__name__}: {exc}")
            log.warning(
                "job failed",
                kind=job.kind,
                job=job.id,
                attempt=job.attempts,
                retried=retried,
                error_type=type(exc).__name__,
            )
        else:
            self._queue.succeed(job.id)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sealwright-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # database briefly unavailable: keep polling
                log.exception("worker loop error")
                ran = False
            if not ran:
                self._wake.wait(self._poll)
                self._wake.clear()
