"""Reminders and expiry (A1): the sweep job, per-envelope policies, events, mail with a
fresh one-time link, and idempotence under concurrent sweeps -- on SQLite and PostgreSQL,
with the clock moved forward."""

from __future__ import annotations

import io
import re
import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sealwright.clock import OffsetClock
from sealwright.domain.envelopes import FieldKind, RecipientRole, Rect
from sealwright.jobs.handlers import build_worker
from sealwright.jobs.queue import DONE
from sealwright.services import reminders
from sealwright.services.admin import create_tenant
from sealwright.services.demo import SIGNER_BOXES, demo_pdf
from sealwright.services.envelopes import EnvelopeService, FieldSpec, RecipientSpec
from sealwright.services.reminders import EnvelopeSweep, ReminderPolicy
from sealwright.services.runtime import Runtime
from sealwright.storage.models import (
    DelegatedToken,
    Envelope,
    Job,
    RecipientReminder,
    SigningLink,
    UsedTokenId,
)
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client

HOUR = 3600.0
LINK = re.compile(r"https?://\S+/sign/[A-Za-z0-9_-]+")
FIRST, SECOND = "ada@example.com", "grace@example.com"


def sent_envelope(
    rt: Runtime, *, reminders: dict[str, int] | None = None, expires_in_days: int = 30
) -> str:
    service = EnvelopeService(rt)
    with rt.db.transaction() as session:
        tenant = create_tenant(rt, session, f"t-{len(events(rt))}")
        env = service.create(
            session,
            tenant_id=tenant.id,
            actor="api:test",
            title="Contract",
            message="",
            recipients=[
                RecipientSpec("Ada", FIRST, RecipientRole.SIGNER, 1),
                RecipientSpec("Grace", SECOND, RecipientRole.SIGNER, 2),
            ],
            expires_in_days=expires_in_days,
            reminders=reminders,
        )
        doc = service.add_document(
            session, env, actor="api:test", name="c.pdf", stream=io.BytesIO(demo_pdf())
        )
        people = service.recipients(session, env.id)
        service.place_fields(
            session,
            env,
            actor="api:test",
            fields=[
                FieldSpec(doc.id, r.id, FieldKind.SIGNATURE, Rect(1, *boxes["signature"]))
                for r, boxes in zip(people, SIGNER_BOXES, strict=True)
            ],
        )
        service.send(session, env, actor="api:test")
        return env.id


def reminded(rt: Runtime) -> list[dict[str, Any]]:
    return [e["data"] for e in events(rt, "system:recipient:reminded")]


def mails(rt: Runtime, to: str) -> list[tuple[str, str]]:
    """(subject, link) of the mail captured for ``to``, oldest first, after delivering."""
    build_worker(rt).run_until_idle()
    assert rt.mail_capture is not None
    out = []
    for mail in rt.mail_capture.list():
        if to in mail.to:
            match = LINK.search(mail.text)
            assert match, mail.text
            out.append((mail.subject, match.group(0)))
    return out


def test_reminders_follow_the_envelopes_policy_and_stop_at_max(
    runtime: Runtime, clock: OffsetClock
) -> None:
    env_id = sent_envelope(
        runtime, reminders={"first_after_hours": 24, "every_hours": 12, "max": 2}
    )
    sweep = EnvelopeSweep(runtime)
    [first_recipient, second_recipient] = [r.id for r in _recipients(runtime, env_id)]

    clock.advance(24 * HOUR - 60)
    assert sweep.sweep().reminded == ()
    clock.advance(61)
    result = sweep.sweep()
    assert result.reminded == ((first_recipient, 1),)  # the second signer's turn has not come
    assert reminded(runtime) == [{"recipient": first_recipient, "reminder": 1, "channel": "email"}]
    assert sweep.sweep().reminded == ()  # nothing new is due: sweeping again sends nothing

    [(subject1, link1), (subject2, link2)] = mails(runtime, FIRST)
    assert subject1 == "Please sign: Contract"
    assert subject2 == "Reminder: Please sign: Contract"
    assert link1 != link2  # a fresh one-time link
    assert mails(runtime, SECOND) == []
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SigningLink)) == 2

    clock.advance(12 * HOUR - 60)
    assert sweep.sweep().reminded == ()
    clock.advance(60)
    assert sweep.sweep().reminded == ((first_recipient, 2),)
    clock.advance(100 * HOUR)
    assert sweep.sweep().reminded == ()  # max 2
    assert [d["reminder"] for d in reminded(runtime)] == [1, 2]
    assert second_recipient not in {d["recipient"] for d in reminded(runtime)}
    # nothing personal in the events
    assert all(FIRST not in str(e) for e in events(runtime))


def test_a_stopped_sweep_sends_one_reminder_not_a_burst(
    runtime: Runtime, clock: OffsetClock
) -> None:
    sent_envelope(runtime, reminders={"first_after_hours": 1, "every_hours": 1, "max": 5})
    clock.advance(10 * HOUR)  # the workers were down for hours
    sweep = EnvelopeSweep(runtime)
    assert [n for _, n in sweep.sweep().reminded] == [1]
    assert sweep.sweep().reminded == ()
    clock.advance(HOUR)
    assert [n for _, n in sweep.sweep().reminded] == [2]


def test_defaults_come_from_settings_and_max_zero_disables(
    runtime: Runtime, clock: OffsetClock
) -> None:
    defaults = ReminderPolicy.defaults(runtime.settings)
    plain = sent_envelope(runtime)
    silent = sent_envelope(runtime, reminders={"first_after_hours": 1, "every_hours": 1, "max": 0})
    clock.advance(defaults.first_after_hours * HOUR)
    result = EnvelopeSweep(runtime).sweep()
    assert [r for r, _ in result.reminded] == [_recipients(runtime, plain)[0].id]
    assert silent not in {e["envelope"] for e in events(runtime, "system:recipient:reminded")}


def test_concurrent_sweeps_never_send_the_same_reminder_twice(
    runtime: Runtime, clock: OffsetClock
) -> None:
    for _ in range(5):
        sent_envelope(runtime, reminders={"first_after_hours": 1, "every_hours": 1, "max": 3})
    clock.advance(HOUR)
    results: list[reminders.SweepResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(EnvelopeSweep(runtime).sweep())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    sent = [item for r in results for item in r.reminded]
    assert len(sent) == len(set(sent)) == 5
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(RecipientReminder)) == 5
    assert len(reminded(runtime)) == 5


def test_expiry_uses_the_existing_event_once(runtime: Runtime, clock: OffsetClock) -> None:
    env_id = sent_envelope(runtime, expires_in_days=2)
    sweep = EnvelopeSweep(runtime)
    clock.advance(47 * HOUR)
    assert sweep.sweep().expired == ()
    clock.advance(HOUR)
    result = sweep.sweep()
    assert result.expired == (env_id,)
    assert result.reminded == ()  # an expired envelope is not reminded about
    assert sweep.sweep().expired == ()
    assert [e["envelope"] for e in events(runtime, "system:envelope:expired")] == [env_id]
    with runtime.db.transaction() as session:
        env = session.get_one(Envelope, env_id)
        assert env.status == "expired"


def test_the_sweep_is_a_durable_job_that_reschedules_itself(
    runtime: Runtime, clock: OffsetClock
) -> None:
    worker = build_worker(runtime)
    env_id = sent_envelope(runtime, reminders={"first_after_hours": 1, "every_hours": 1, "max": 1})
    worker.run_until_idle()
    clock.advance(HOUR + runtime.settings.sweep_interval)
    worker.run_until_idle()
    assert [e["envelope"] for e in events(runtime, "system:recipient:reminded")] == [env_id]
    with runtime.db.transaction() as session:
        sweeps = list(session.execute(select(Job).where(Job.kind == reminders.KIND)).scalars())
    assert sum(j.status == DONE for j in sweeps) >= 1
    assert any(j.status == "pending" for j in sweeps)  # the next slot is queued
    # a restarted worker (a new process) does not schedule the same slot twice
    build_worker(runtime)
    with runtime.db.transaction() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.kind == reminders.KIND, Job.status == "pending")
        )
    assert pending == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"first_after_hours": 0, "every_hours": 1, "max": 1},
        {"first_after_hours": 1, "every_hours": 1, "max": 21},
        {"first_after_hours": 1, "every_hours": 1},
        {"first_after_hours": 1, "every_hours": 1, "max": 1, "extra": 1},
    ],
)
def test_the_api_takes_a_reminder_policy_and_refuses_a_bad_one(
    runtime: Runtime, server: BackgroundServer, bad: dict[str, int]
) -> None:
    _, cid, secret = new_client(runtime, "acme")
    with httpx.Client(base_url=server.url) as api:
        token = api.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
        ).json()["access_token"]
        body: dict[str, Any] = {
            "title": "T",
            "recipients": [{"name": "Ada", "email": FIRST}],
        }
        headers = {"Authorization": f"Bearer {token}"}
        refused = api.post("/v1/envelopes", headers=headers, json={**body, "reminders": bad})
        assert refused.status_code == 422
        good = {"first_after_hours": 6, "every_hours": 24, "max": 4}
        made = api.post("/v1/envelopes", headers=headers, json={**body, "reminders": good})
        assert made.status_code == 201, made.text
    with runtime.db.transaction() as session:
        envs = list(session.execute(select(Envelope)).scalars())
    assert [e.reminders for e in envs] == [good]  # the refused one left nothing behind
    [env] = envs
    assert env.expires_at is not None
    expected = timedelta(days=runtime.settings.envelope_expires_in_days)  # omitted: settings
    assert env.expires_at - env.created_at == expected


def _recipients(rt: Runtime, env_id: str) -> list[Any]:
    with rt.db.transaction() as session:
        return EnvelopeService(rt).recipients(session, env_id)


def test_the_reminder_link_opens_the_signing_session(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    sent_envelope(runtime, reminders={"first_after_hours": 1, "every_hours": 1, "max": 1})
    clock.advance(HOUR)
    EnvelopeSweep(runtime).sweep()  # the server's own worker may sweep too: one reminder
    assert len(reminded(runtime)) == 1
    deadline = time.monotonic() + 20
    reminder = None
    while reminder is None and time.monotonic() < deadline:
        assert runtime.mail_capture is not None
        reminder = next(
            (m for m in runtime.mail_capture.list() if m.subject.startswith("Reminder:")), None
        )
        time.sleep(0.1)
    assert reminder is not None
    assert FIRST in reminder.to
    match = LINK.search(reminder.text)
    assert match
    with httpx.Client(follow_redirects=True) as browser:
        assert browser.get(match.group(0)).status_code == 200
        opened = browser.post(match.group(0))
        assert opened.status_code == 200, opened.text
        assert len(events(runtime, "signer:link:opened")) == 1


def test_an_envelope_that_cannot_be_handled_does_not_stop_the_sweep(
    runtime: Runtime, clock: OffsetClock
) -> None:
    policy = {"first_after_hours": 1, "every_hours": 1, "max": 5}
    broken, fine = (
        sent_envelope(runtime, reminders=policy),
        sent_envelope(runtime, reminders=policy),
    )
    victim = _recipients(runtime, broken)[0]
    with runtime.db.transaction() as session:  # a history with a hole: reminder 2, no 1
        session.add(
            RecipientReminder(
                recipient_id=victim.id, number=2, envelope_id=broken, sent_at=clock.now()
            )
        )
    clock.advance(HOUR)
    result = EnvelopeSweep(runtime).sweep()
    assert result.reminded == ((_recipients(runtime, fine)[0].id, 1),)
    assert {e["envelope"] for e in events(runtime, "system:recipient:reminded")} == {fine}
    with runtime.db.transaction() as session:  # the failed envelope's attempt left nothing
        assert (
            session.scalar(
                select(func.count())
                .select_from(RecipientReminder)
                .where(RecipientReminder.envelope_id == broken)
            )
            == 1
        )


def test_the_sweep_purges_spent_tokens_an_hour_past_expiry(
    runtime: Runtime, clock: OffsetClock
) -> None:
    now = clock.now()
    with runtime.db.transaction() as session:
        for jti, age in (("old", 3700), ("recent", 3500), ("live", -600)):
            session.add(UsedTokenId(jti=jti, expires_at=now - timedelta(seconds=age)))
        session.add(
            DelegatedToken(
                jti="child",
                parent_jti="parent",
                client_id="c",
                payload_sha256="0" * 64,
                expires_at=now - timedelta(hours=2),
            )
        )
    EnvelopeSweep(runtime).run({})
    with runtime.db.transaction() as session:
        left = sorted(session.execute(select(UsedTokenId.jti)).scalars())
        delegated = session.execute(select(DelegatedToken.jti)).scalars().all()
    assert left == ["live", "recent"]
    assert delegated == []
