"""Which job kind runs which use case. The one place that wires the worker."""

from __future__ import annotations

from sealwright.jobs.worker import Worker
from sealwright.services import outbox
from sealwright.services.ceremony import SEAL_JOB
from sealwright.services.runtime import Runtime
from sealwright.services.sealing_job import SealingJob


def build_worker(rt: Runtime) -> Worker:
    worker = Worker(
        rt.jobs,
        {
            outbox.KIND: rt.outbox.deliver,
            SEAL_JOB: SealingJob(rt).run,
        },
    )
    rt.db.on_jobs_committed.append(worker.wake)
    return worker
