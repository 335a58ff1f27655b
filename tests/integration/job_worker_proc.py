"""A ``sealwright worker``-like process for test_jobs_concurrency.py: a real Worker on a real
database, with test job kinds that leave a trace in a log file (one line per event, appended
with O_APPEND so lines from several processes never interleave).

    python -m tests.integration.job_worker_proc DATABASE_URL LOG_FILE LEASE_SECONDS
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sealwright.clock import SystemClock
from sealwright.jobs.queue import JobQueue
from sealwright.jobs.worker import Worker
from sealwright.storage.db import Database, make_engine


def main() -> None:
    url, log_path, lease = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    pid = os.getpid()

    def trace(line: str) -> None:
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{line}\n".encode())
        finally:
            os.close(fd)

    def record(payload: dict[str, Any]) -> None:
        trace(f"record {payload['n']} {pid}")

    def hang_once(payload: dict[str, Any]) -> None:
        """The first run (whoever takes the marker) hangs until the process is killed."""
        trace(f"start {pid}")
        try:
            os.rename(payload["marker"], payload["marker"] + f".taken-{pid}")
        except FileNotFoundError:
            trace(f"done {pid}")
            return
        while True:
            time.sleep(60)

    db = Database(make_engine(url))
    queue = JobQueue(db, clock=SystemClock(), lease_seconds=lease, max_attempts=5)
    worker = Worker(queue, {"test.record": record, "test.hang": hang_once}, poll=0.05)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.start(threads=2)
    trace(f"ready {pid}")
    stop.wait()
    worker.stop(timeout=5)
    trace(f"stopped {pid}")


if __name__ == "__main__":
    main()
