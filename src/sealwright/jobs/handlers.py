"""Which job kind runs which use case. The one place that wires the worker."""

from __future__ import annotations

from sealwright.jobs.worker import Worker
from sealwright.services import checkpoint_job, outbox, reminders
from sealwright.services.ceremony import SEAL_JOB
from sealwright.services.channel_flow.flow import DISPATCH as CHANNEL_DISPATCH
from sealwright.services.channel_flow.flow import ChannelFlow
from sealwright.services.checkpoint_job import CheckpointJob
from sealwright.services.reminders import EnvelopeSweep
from sealwright.services.runtime import Runtime
from sealwright.services.sealing_job import SealingJob
from sealwright.services.signer_auth import sms_otp
from sealwright.services.signer_auth.sms_delivery import SmsDelivery
from sealwright.services.webhooks.dispatch import WebhookDispatcher
from sealwright.services.webhooks.outbox import DISPATCH as WEBHOOK_DISPATCH


def build_worker(rt: Runtime) -> Worker:
    checkpoints = CheckpointJob(rt)
    sweep = EnvelopeSweep(rt)
    if rt.webhook_dispatcher is None:
        rt.webhook_dispatcher = WebhookDispatcher.for_runtime(rt)
    worker = Worker(
        rt.jobs,
        {
            outbox.KIND: rt.outbox.deliver,
            SEAL_JOB: SealingJob(rt).run,
            checkpoint_job.KIND: checkpoints.run,
            reminders.KIND: sweep.run,
            WEBHOOK_DISPATCH: rt.webhook_dispatcher.run,
            sms_otp.KIND: SmsDelivery(rt).run,
            CHANNEL_DISPATCH: ChannelFlow(rt).run_dispatch,
        },
        poll=rt.settings.worker_poll_seconds,
    )
    with rt.db.transaction() as session:
        checkpoints.schedule(session)
        sweep.schedule(session)
        rt.webhooks.kick(session)  # deliveries left pending by a previous run
    rt.db.on_jobs_committed.append(worker.wake)
    return worker
