"""Scheduled checkpoints (E3): every ``checkpoint_interval`` seconds the worker signs a
checkpoint if the log grew, and asks the witnesses to cosign it. The next run is enqueued in
the same transaction, keyed by its time slot, so several workers schedule it once."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.orm import Session

from sealwright.services.runtime import Runtime

KIND = "ledger.checkpoint"


class CheckpointJob:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def run(self, _payload: dict[str, Any]) -> None:
        with self.rt.db.transaction() as session:
            # A TSA outage must not stop the log from being checkpointed: scheduled heads
            # go out without a token then (completion and export checkpoints wait for one).
            size = self.rt.checkpoints.publish(session, require_timestamp=False).size
            self.schedule(session)
        if self.rt.witnessing.configured:
            self.rt.witnessing.cosign(size)

    def schedule(self, session: Session) -> None:
        """Enqueue the run for the next time slot (idempotent per slot)."""
        interval = self.rt.settings.checkpoint_interval
        now = self.rt.clock.now().timestamp()
        slot = math.floor(now / interval) + 1
        self.rt.jobs.enqueue(
            session, KIND, {"slot": slot}, key=f"slot-{slot}", delay=slot * interval - now
        )
