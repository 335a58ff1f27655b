"""Channel runs for a recipient: start, dispatch, complete, and the gate at signing.

``start`` asks the channel for a challenge (pure), stores the run with a fresh nonce and
logs ``signer:channel:started``; a channel with an outside step (a call, a text) gets it
in the ``channel.dispatch`` job, after the commit. ``complete`` hands the evidence -- the
signer's typed PIN, the carrier's DTMF digits or call status, an upload's hash, a
reviewer's decision -- to the channel. A final result becomes a signed assertion
(``services/assertions.py``) in the same transaction; a wrong answer with attempts left is
``signer:channel:attempt-failed``; an answer for a finished, expired or foreign run is
``signer:channel:refused``. Each refusal changes nothing but the attempt it cost.

A recipient's required channels are passed when the latest run of each is ``passed`` --
by the channel itself, or by an operator's assisted verification (C7) recorded for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sealwright.channels.port import (
    Challenge,
    ChannelResult,
    Dispatching,
    Outcome,
    SignerEvidence,
    VerificationChannel,
    VerificationRequest,
)
from sealwright.clock import rfc3339
from sealwright.domain.events import EventTag
from sealwright.errors import ConfigurationError, Conflict, NotFound, RateLimited
from sealwright.services.assertions import AssertionService, IssuedAssertion
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.policy import RecipientAuth
from sealwright.storage.models import ChannelVerification, Document, Envelope, Recipient

__all__ = ["DISPATCH", "ChannelFlow", "channels"]

DISPATCH = "channel.dispatch"
PENDING, PASSED, SUPERSEDED = "pending", "passed", "superseded"
#: Evidence only an operator may submit (a reviewer's decision), never a signer or carrier.
OPERATOR_KINDS = frozenset({"decision"})
#: Evidence only a carrier's signed callback may submit (besides the channel's own tag).
CARRIER_KINDS = frozenset({"dtmf", "call-status", "call-event", "sms-status"})
REVIEW, ASSISTED = "manual-review", "assisted"
_UNSET = object()


class RefusedRun(NotFound):
    """A run that is not the caller's to answer: "not found", as for an unknown id, with
    the refusal's audit event committed (``commit``)."""

    commit = True

    def __init__(self) -> None:
        super().__init__("verification not found")


def channels(rt: Runtime) -> dict[str, VerificationChannel]:
    """The runtime's channels, built once (a liveness model is not loaded per request)."""
    if not rt.verification_channels:
        from sealwright.services.channel_flow.registry import build_channels

        rt.verification_channels.update(build_channels(rt))
    return rt.verification_channels


class ChannelFlow:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.assertions = AssertionService(
            clock=rt.clock, random=rt.random, keys=rt.channel_keys, audit=rt.audit
        )

    # -- what a recipient must pass ------------------------------------------------------

    @staticmethod
    def required(recipient: Recipient) -> tuple[str, ...]:
        return RecipientAuth.from_json(recipient.auth).channels

    def latest(self, session: Session, recipient: Recipient) -> dict[str, ChannelVerification]:
        """The latest run of each channel for this recipient (superseded runs skipped)."""
        q = (
            select(ChannelVerification)
            .where(
                ChannelVerification.recipient_id == recipient.id,
                ChannelVerification.status != SUPERSEDED,
            )
            .order_by(ChannelVerification.started_at, ChannelVerification.id)
        )
        return {row.channel: row for row in session.execute(q).scalars()}

    def effective(self, session: Session, recipient: Recipient) -> tuple[str, ...]:
        """The required channels, plus manual review once any run was escalated (C5), plus
        what a risk-based recipient's plan asks for (D4, docs/orchestrator.md)."""
        required = self.required(recipient)
        if RecipientAuth.from_json(recipient.auth).risk_based:
            from sealwright.services.orchestrator import planned_channels

            passed = frozenset(
                c for c, r in self.latest(session, recipient).items() if r.status == PASSED
            )
            planned = planned_channels(session, recipient, passed)
            required = tuple(dict.fromkeys((*required, *planned)))
        if REVIEW in required:
            return required
        escalated = session.execute(
            select(ChannelVerification.id).where(
                ChannelVerification.recipient_id == recipient.id,
                ChannelVerification.status == Outcome.ESCALATED.value,
            )
        ).first()
        return (*required, REVIEW) if escalated else required

    def unpassed(self, session: Session, recipient: Recipient) -> tuple[str, ...]:
        latest = self.latest(session, recipient)
        assisted = {
            r.state.get("for_channel")
            for r in self._runs(session, recipient, ASSISTED)
            if r.status == PASSED
        }
        return tuple(
            c
            for c in self.effective(session, recipient)
            if c not in assisted and (c not in latest or latest[c].status != PASSED)
        )

    # -- running a channel ---------------------------------------------------------------

    def channel(self, name: str) -> VerificationChannel:
        found = channels(self.rt).get(name)
        if found is None:
            raise ConfigurationError(f"verification channel {name} is not available here")
        return found

    def start(
        self,
        session: Session,
        envelope: Envelope,
        recipient: Recipient,
        name: str,
        *,
        session_hash: str | None,
        actor: str,
    ) -> ChannelVerification:
        """A new run of a channel the recipient must pass; any pending run is superseded."""
        if name not in self.effective(session, recipient):
            raise NotFound("this verification step is not part of your signing")
        channel = self.channel(name)
        now = self.rt.clock.now()
        runs = self._runs(session, recipient, name)
        if any(r.status == PASSED for r in runs[-1:]):
            raise Conflict("this verification step is already passed")
        if len(runs) >= self.rt.settings.channel_max_runs:
            raise RateLimited(retry_after=3600)
        for old in runs:
            if old.status == PENDING:
                old.status = SUPERSEDED
                old.completed_at = now
                old.completed_by = "system"
        row = self._new_row(envelope, recipient, name, now, session_hash)
        challenge: Challenge = channel.start(self.request(session, row, recipient))
        row.state, row.display = dict(challenge.state), dict(challenge.display)
        row.expires_at = challenge.expires_at
        session.add(row)
        session.flush()
        self._event(session, envelope, recipient, EventTag.CHANNEL_STARTED, row, actor=actor)
        if isinstance(channel, Dispatching):
            self.rt.jobs.enqueue(session, DISPATCH, {"verification": row.id}, key=row.id)
        return row

    def request_assistance(
        self,
        session: Session,
        envelope: Envelope,
        recipient: Recipient,
        for_channel: str,
        *,
        session_hash: str | None,
        actor: str,
    ) -> ChannelVerification:
        """The signer asks for a human-assisted alternative to a channel (C7): a run of the
        ``assisted`` channel in the reviewers' queue; its approval passes ``for_channel``."""
        if for_channel not in self.effective(session, recipient) or for_channel == REVIEW:
            raise NotFound("this verification step is not part of your signing")
        if for_channel not in self.unpassed(session, recipient):
            raise Conflict("this verification step is already passed")
        open_runs = [
            r
            for r in self._runs(session, recipient, ASSISTED)
            if r.status == PENDING and r.state.get("for_channel") == for_channel
        ]
        if open_runs:
            return open_runs[-1]
        now = self.rt.clock.now()
        row = self._new_row(envelope, recipient, ASSISTED, now, session_hash)
        challenge = self.channel(ASSISTED).start(self.request(session, row, recipient))
        row.state = {**challenge.state, "for_channel": for_channel}
        row.display, row.expires_at = dict(challenge.display), challenge.expires_at
        session.add(row)
        session.flush()
        self._event(
            session,
            envelope,
            recipient,
            EventTag.ASSISTANCE_REQUESTED,
            row,
            actor=actor,
            extra={"for_channel": for_channel},
        )
        return row

    def run_dispatch(self, payload: Mapping[str, Any]) -> None:
        """The ``channel.dispatch`` job: the outside step of a pending run, with no
        transaction open while the carrier is called. What the step changed in the state is
        merged into the row's state as it is then, so a carrier callback that arrived in
        between is not lost."""
        verification_id = str(payload["verification"])
        with self.rt.db.transaction() as session:
            row = self._locked(session, verification_id)
            channel = self.channel(row.channel)
            if row.status != PENDING or not isinstance(channel, Dispatching):
                return
            request = self.request(session, row, self._recipient(session, row))
            before = dict(row.state)
        result = channel.dispatch(request, before, now=self.rt.clock.now())
        changed = {k: v for k, v in result.state.items() if before.get(k, _UNSET) != v}
        with self.rt.db.transaction() as session:
            row = self._locked(session, verification_id)
            if row.status != PENDING:
                return
            recipient, env = self._recipient(session, row), self._envelope(session, row)
            self._event(
                session,
                env,
                recipient,
                EventTag.CHANNEL_DISPATCHED,
                row,
                actor="system",
                extra={"details": dict(result.details)},
            )
            merged = ChannelResult(
                result.outcome,
                result.final,
                result.details,
                {**row.state, **changed},
                result.consent,
            )
            self._apply(session, row, env, recipient, merged, by="system", quiet=True)

    def complete(
        self,
        session: Session,
        verification_id: str,
        evidence: SignerEvidence,
        *,
        by: str,
        recipient_id: str | None = None,
    ) -> ChannelVerification:
        """Hand evidence to a run. ``recipient_id`` (the signer's own, from their session)
        must own the run: a PIN typed into another recipient's run is refused."""
        row = session.get(ChannelVerification, verification_id, with_for_update=True)
        if row is None:
            raise NotFound("verification not found")
        recipient = self._recipient(session, row)
        env = self._envelope(session, row)
        if recipient_id is not None and recipient_id != row.recipient_id:
            self._refuse(session, env, recipient, row, "another recipient's run", by)
            raise RefusedRun()
        if evidence.kind in OPERATOR_KINDS and not by.startswith("operator:"):
            self._refuse(session, env, recipient, row, "operator evidence from " + by, by)
            raise RefusedRun()
        if evidence.kind in CARRIER_KINDS and by != "carrier":
            self._refuse(session, env, recipient, row, "carrier evidence from " + by, by)
            raise RefusedRun()
        if row.status != PENDING:
            self._refuse(session, env, recipient, row, f"run is {row.status}", by)
            return row
        now = self.rt.clock.now()
        if now >= row.expires_at:
            expired = ChannelResult(Outcome.EXPIRED, True, {"reason": "ttl"}, row.state)
            self._apply(session, row, env, recipient, expired, by=by)
            return row
        channel = self.channel(row.channel)
        result = channel.complete(
            self.request(session, row, recipient), row.state, evidence, now=now
        )
        self._apply(session, row, env, recipient, result, by=by)
        if result.final and result.outcome is Outcome.ESCALATED:
            pending = [r for r in self._runs(session, recipient, REVIEW) if r.status == PENDING]
            if not pending:
                self.start(session, env, recipient, REVIEW, session_hash=None, actor="system")
        return row

    def expire_due(self, session: Session, now: datetime) -> int:
        """Pending runs past their expiry become ``expired`` assertions (the sweep job)."""
        q = select(ChannelVerification).where(
            ChannelVerification.status == PENDING, ChannelVerification.expires_at <= now
        )
        rows = list(session.execute(q.with_for_update(skip_locked=True)).scalars())
        for row in rows:
            recipient = self._recipient(session, row)
            result = ChannelResult(Outcome.EXPIRED, True, {"reason": "ttl"}, row.state)
            self._apply(session, row, self._envelope(session, row), recipient, result, by="system")
        return len(rows)

    def request(
        self, session: Session, row: ChannelVerification, recipient: Recipient
    ) -> VerificationRequest:
        hashes = session.execute(
            select(Document.sha256).where(Document.envelope_id == row.envelope_id)
        ).scalars()
        auth = RecipientAuth.from_json(recipient.auth)
        return VerificationRequest(
            envelope_id=row.envelope_id,
            recipient_id=recipient.id,
            document_hashes=tuple(sorted(set(hashes))),
            nonce=row.nonce,
            at=row.started_at,
            contact={"phone": auth.phone} if auth.phone else {},
            reference=row.id,
        )

    # -- internals -----------------------------------------------------------------------

    def _apply(
        self,
        session: Session,
        row: ChannelVerification,
        env: Envelope,
        recipient: Recipient,
        result: ChannelResult,
        *,
        by: str,
        quiet: bool = False,
    ) -> IssuedAssertion | None:
        row.state = dict(result.state)
        if not result.final:
            if result.outcome is not Outcome.PASSED and not quiet:
                self._event(
                    session,
                    env,
                    recipient,
                    EventTag.CHANNEL_ATTEMPT_FAILED,
                    row,
                    actor=by,
                    extra={"result": result.outcome.value, "details": dict(result.details)},
                )
            return None
        issued = self.assertions.issue(
            session,
            envelope_id=env.id,
            recipient_id=recipient.id,
            channel=row.channel,
            result=result.outcome,
            nonce=row.nonce,
            details=result.details,
            consent=result.consent,
            actor=_actor(by, recipient),
        )
        row.status = result.outcome.value
        row.completed_at = self.rt.clock.now()
        row.completed_by = by
        row.assertion_id = issued.id
        if RecipientAuth.from_json(recipient.auth).risk_based:  # a fallback, or progress (D4)
            from sealwright.services.orchestrator import Orchestrator

            Orchestrator(self.rt).on_run_final(session, row, env, recipient, result)
        return issued

    def _refuse(
        self,
        session: Session,
        env: Envelope,
        recipient: Recipient,
        row: ChannelVerification,
        reason: str,
        by: str,
    ) -> None:
        self._event(
            session,
            env,
            recipient,
            EventTag.CHANNEL_REFUSED,
            row,
            actor=by,
            extra={"reason": reason},
        )

    def _event(
        self,
        session: Session,
        env: Envelope,
        recipient: Recipient,
        tag: EventTag,
        row: ChannelVerification,
        *,
        actor: str,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.rt.audit.append(
            session,
            tag,
            tenant=env.tenant_id,
            envelope=env.id,
            actor=_actor(actor, recipient),
            data={
                "recipient": recipient.id,
                "verification": row.id,
                "channel": row.channel,
                "expires_at": rfc3339(row.expires_at),
                **(extra or {}),
            },
        )

    def _runs(
        self, session: Session, recipient: Recipient, name: str
    ) -> Sequence[ChannelVerification]:
        q = (
            select(ChannelVerification)
            .where(
                ChannelVerification.recipient_id == recipient.id,
                ChannelVerification.channel == name,
            )
            .order_by(ChannelVerification.started_at, ChannelVerification.id)
        )
        return list(session.execute(q).scalars())

    def _new_row(
        self,
        envelope: Envelope,
        recipient: Recipient,
        name: str,
        now: datetime,
        session_hash: str | None,
    ) -> ChannelVerification:
        return ChannelVerification(
            id=uuid.uuid4().hex,
            envelope_id=envelope.id,
            recipient_id=recipient.id,
            channel=name,
            nonce=self.rt.random.token_bytes(16),
            status=PENDING,
            state={},
            display={},
            session_hash=session_hash,
            started_at=now,
            expires_at=now,
            completed_at=None,
            completed_by=None,
            assertion_id=None,
        )

    @staticmethod
    def _locked(session: Session, verification_id: str) -> ChannelVerification:
        row = session.get(ChannelVerification, verification_id, with_for_update=True)
        if row is None:
            raise NotFound("verification not found")
        return row

    @staticmethod
    def _recipient(session: Session, row: ChannelVerification) -> Recipient:
        recipient = session.get(Recipient, row.recipient_id)
        assert recipient is not None  # a foreign key
        return recipient

    @staticmethod
    def _envelope(session: Session, row: ChannelVerification) -> Envelope:
        env = session.get(Envelope, row.envelope_id)
        assert env is not None  # a foreign key
        return env


def _actor(by: str, recipient: Recipient) -> str:
    return f"recipient:{recipient.id}" if by == "signer" else by
