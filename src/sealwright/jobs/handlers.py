"""Which job kind runs which use case. The one place that wires the worker."""

from __future__ import annotations

from sealwright.jobs.worker import Worker
from sealwright.services import checkpoint_job, outbox
from sealwright.services.ceremony import SEAL_JOB
from sealwright.services.checkpoint_job import CheckpointJob
from sealwright.services.runtime import Runtime
from sealwright.services.sealing_job import SealingJob


def build_worker(rt: Runtime) -> Worker:
    checkpoints = CheckpointJob(rt)
    worker = Worker(
        rt.jobs,
        {
            outbox.KIND: rt.outbox.deliver,
            SEAL_JOB: SealingJob(rt).run,
            checkpoint_job.KIND: checkpoints.run,
        },
    )
    with rt.db.transaction() as session:
        checkpoints.schedule(session)
    rt.db.on_jobs_committed.append(worker.wake)
    return worker
