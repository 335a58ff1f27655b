"""Reminders and expiry (A1): one sweeping job, not a job per envelope.

Every ``sweep_interval`` seconds one worker runs the sweep (the next run is enqueued keyed
by its time slot, as checkpoints are, so several workers schedule it once). The sweep reads
the envelopes still out for signature, works out in memory which have something due, and
handles each of those in its own short transaction:

* an envelope past its expiry expires (``CeremonyService.expire_if_due``, the same code the
  signer pages run lazily, with its ``system:envelope:expired`` event);
* a recipient whose turn it is and who has not acted gets a reminder: a fresh one-time link
  through the mail outbox (as the first mail), and a ``system:recipient:reminded`` event.

Why sweeping rather than a scheduled job per envelope: a per-envelope job would have to be
moved every time an envelope's routing advances, voided or completed, and would leave a row
per envelope in the queue; the sweep is one indexed query (``envelopes.status``) and scales
out with the queue's own claiming. Concurrency: each envelope's transaction takes the
ledger lock first and then the envelope row ``FOR UPDATE SKIP LOCKED`` (a ceremony in
progress is skipped and seen on the next sweep, never waited on, so never deadlocked), and a
reminder is a row keyed by (recipient, reminder number): two sweeps can never send the same
reminder twice, on PostgreSQL or SQLite.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from sealwright.config import Settings
from sealwright.domain.envelopes import EnvelopeStatus, RecipientStatus
from sealwright.domain.events import EventTag
from sealwright.errors import ValidationError
from sealwright.services.audit import LEDGER_LOCK_ID
from sealwright.services.ceremony import CeremonyService
from sealwright.services.channel_flow.flow import ChannelFlow
from sealwright.services.channel_flow.video_store import purge_expired_videos
from sealwright.services.envelopes import EnvelopeService
from sealwright.services.runtime import Runtime
from sealwright.services.token_state import purge_expired
from sealwright.storage.models import Envelope, Recipient, RecipientReminder

KIND = "envelopes.sweep"
log = structlog.get_logger("sealwright.reminders")


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    """When a recipient who has not acted is reminded: ``first_after_hours`` after they were
    notified, then every ``every_hours``, at most ``max`` times (0: never)."""

    first_after_hours: int
    every_hours: int
    max: int

    def __post_init__(self) -> None:
        if not 1 <= self.first_after_hours <= 24 * 365 or not 1 <= self.every_hours <= 24 * 365:
            raise ValidationError("reminder hours must be between 1 and 8760")
        if not 0 <= self.max <= 20:
            raise ValidationError("reminders: max must be between 0 and 20")

    @classmethod
    def defaults(cls, settings: Settings) -> ReminderPolicy:
        return cls(
            settings.reminder_first_after_hours,
            settings.reminder_every_hours,
            settings.reminder_max,
        )

    @classmethod
    def of(cls, env: Envelope, settings: Settings) -> ReminderPolicy:
        if not env.reminders:
            return cls.defaults(settings)
        return cls(
            int(env.reminders["first_after_hours"]),
            int(env.reminders["every_hours"]),
            int(env.reminders["max"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "first_after_hours": self.first_after_hours,
            "every_hours": self.every_hours,
            "max": self.max,
        }

    def next_due(
        self, notified_at: datetime, sent: int, last_sent: datetime | None
    ) -> datetime | None:
        """When reminder ``sent + 1`` is due, or None if every reminder has gone out. Counted
        from the last reminder actually sent, so a sweep that was down does not send a burst."""
        if sent >= self.max:
            return None
        if sent == 0 or last_sent is None:
            return notified_at + timedelta(hours=self.first_after_hours)
        return last_sent + timedelta(hours=self.every_hours)


@dataclass(frozen=True, slots=True)
class SweepResult:
    expired: tuple[str, ...]
    #: (recipient id, reminder number)
    reminded: tuple[tuple[str, int], ...]


class EnvelopeSweep:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ceremony = CeremonyService(rt)
        self.envelopes = EnvelopeService(rt)

    # -- the job -------------------------------------------------------------------------

    def run(self, _payload: dict[str, Any]) -> None:
        # The next slot first: an envelope that cannot be handled must not stop sweeping.
        with self.rt.db.transaction() as session:
            self.schedule(session)
        self.sweep()
        with self.rt.db.transaction() as session:  # channel runs past their TTL (C)
            ChannelFlow(self.rt).expire_due(session, self.rt.clock.now())
        with self.rt.db.transaction() as session:  # spent tokens no longer worth keeping
            purge_expired(session, self.rt.clock.now())
        purge_expired_videos(self.rt)  # recordings past their retention (C3)

    def schedule(self, session: Session) -> None:
        """Enqueue the sweep for the next time slot (idempotent per slot)."""
        interval = self.rt.settings.sweep_interval
        now = self.rt.clock.now().timestamp()
        slot = math.floor(now / interval) + 1
        self.rt.jobs.enqueue(
            session, KIND, {"slot": slot}, key=f"slot-{slot}", delay=slot * interval - now
        )

    # -- the sweep -----------------------------------------------------------------------

    def sweep(self) -> SweepResult:
        expired: list[str] = []
        reminded: list[tuple[str, int]] = []
        for envelope_id in self._due_envelopes():
            try:
                with self.rt.db.transaction() as session:
                    outcome = self._handle(session, envelope_id)
            except Exception as exc:  # one envelope's failure is retried at the next sweep
                log.warning(
                    "sweep skipped an envelope", envelope=envelope_id, error=type(exc).__name__
                )
                continue
            if isinstance(outcome, str):
                expired.append(envelope_id)
            else:
                reminded.extend(outcome)
        return SweepResult(tuple(expired), tuple(reminded))

    def _due_envelopes(self) -> list[str]:
        """Envelopes out for signature with something due now: three queries whatever the
        number of envelopes (read without locks; ``_handle`` decides again under them)."""
        now = self.rt.clock.now()
        out_for_signature = Envelope.status == EnvelopeStatus.SENT.value
        with self.rt.db.transaction() as session:
            envs = {
                e.id: e
                for e in session.execute(select(Envelope).where(out_for_signature)).scalars()
            }
            waiting: dict[str, list[Recipient]] = defaultdict(list)
            for r in session.execute(
                select(Recipient)
                .join(Envelope, Recipient.envelope_id == Envelope.id)
                .where(out_for_signature, Recipient.status == RecipientStatus.NOTIFIED.value)
            ).scalars():
                waiting[r.envelope_id].append(r)
            history = _history(
                session.execute(
                    select(RecipientReminder)
                    .join(Envelope, RecipientReminder.envelope_id == Envelope.id)
                    .where(out_for_signature)
                ).scalars()
            )
        return [
            env.id
            for env in envs.values()
            if (env.expires_at is not None and env.expires_at <= now)
            or _due(ReminderPolicy.of(env, self.rt.settings), waiting[env.id], history, now)
        ]

    def _handle(self, session: Session, envelope_id: str) -> str | list[tuple[str, int]]:
        _lock_ledger(session)
        env = session.execute(
            select(Envelope).where(Envelope.id == envelope_id).with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if env is None or env.status != EnvelopeStatus.SENT.value:
            return []  # in use by a ceremony right now (next sweep), or no longer out
        self.ceremony.expire_if_due(session, env)
        if env.status != EnvelopeStatus.SENT.value:
            return "expired"
        now = self.rt.clock.now()
        sent: list[tuple[str, int]] = []
        for r, number in self._reminders_due(session, env, now):
            session.add(
                RecipientReminder(recipient_id=r.id, number=number, envelope_id=env.id, sent_at=now)
            )
            session.flush()  # the (recipient, number) key: a second sender fails here
            self.envelopes.send_reminder_link(session, env, r)
            self.rt.audit.append(
                session,
                EventTag.RECIPIENT_REMINDED,
                tenant=env.tenant_id,
                envelope=env.id,
                actor="system",
                data={"recipient": r.id, "reminder": number, "channel": "email"},
            )
            sent.append((r.id, number))
        return sent

    def _reminders_due(
        self, session: Session, env: Envelope, now: datetime
    ) -> list[tuple[Recipient, int]]:
        waiting = [
            r
            for r in self.envelopes.recipients(session, env.id)
            if r.status == RecipientStatus.NOTIFIED.value
        ]
        history = _history(
            session.execute(
                select(RecipientReminder).where(RecipientReminder.envelope_id == env.id)
            ).scalars()
        )
        return _due(ReminderPolicy.of(env, self.rt.settings), waiting, history, now)


def _history(rows: Iterable[RecipientReminder]) -> dict[str, tuple[int, datetime]]:
    """Per recipient: reminders sent, and when the last one went out."""
    history: dict[str, tuple[int, datetime]] = {}
    for row in rows:
        count, last = history.get(row.recipient_id, (0, row.sent_at))
        history[row.recipient_id] = (count + 1, max(last, row.sent_at))
    return history


def _due(
    policy: ReminderPolicy,
    waiting: Iterable[Recipient],
    history: dict[str, tuple[int, datetime]],
    now: datetime,
) -> list[tuple[Recipient, int]]:
    """(recipient, reminder number) for each waiting recipient whose next reminder is due."""
    due: list[tuple[Recipient, int]] = []
    for r in waiting:
        if r.notified_at is None:
            continue
        count, last = history.get(r.id, (0, r.notified_at))
        at = policy.next_due(r.notified_at, count, last)
        if at is not None and at <= now:
            due.append((r, count + 1))
    return due


def _lock_ledger(session: Session) -> None:
    """Taken before the envelope row, which is then only tried (SKIP LOCKED): a ceremony
    holding the row and waiting for the ledger lock is skipped, never deadlocked with.
    Re-entrant: the audit log's own append takes it again. SQLite: BEGIN IMMEDIATE."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK_ID})
