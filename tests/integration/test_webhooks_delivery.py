"""Issue 7's first acceptance point, on SQLite and PostgreSQL, over real HTTP: a receiver
that fails the first N deliveries gets the event on attempt N+1; one that answers 410 is
disabled; one that never answers stops receiving after the cap, and the event sits in the
dead-letter list. Also: Retry-After, a hanging receiver does not hold up others, manual
redelivery, and a restart in the middle."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from sealwright.jobs.handlers import build_worker
from sealwright.services.runtime import Runtime
from sealwright.webhooks.keys import parse_verification_key
from tests.integration.helpers import events
from tests.integration.webhook_receiver import Behaviour, running_receiver, wait_for
from tests.integration.webhook_world import World, build_world, fast_settings


@pytest.fixture
def world(settings: Settings, clock: OffsetClock) -> Iterator[World]:
    yield from build_world(settings, clock)


def test_a_receiver_failing_the_first_n_gets_the_event_on_attempt_n_plus_1(world: World) -> None:
    n = 3
    world.receiver.behaviours["/flaky"] = Behaviour(fail_first=n, fail_status=500)
    sub = world.subscribe("/flaky", ["system:envelope:completed"])
    world.receiver.keys["/flaky"] = [parse_verification_key(sub["secret"])]
    world.emit()

    wait_for(lambda: len(world.receiver.at("/flaky")) == n + 1, what="attempt N+1")
    got = world.receiver.at("/flaky")
    assert [r.status for r in got] == [500] * n + [200]
    assert len({r.webhook_id for r in got}) == 1  # the same webhook-id on every retry
    assert len({r.body for r in got}) == 1
    assert all(r.verified == "v1" for r in got)
    [delivery] = world.deliveries(sub["id"])
    wait_for(lambda: world.deliveries(sub["id"])[0].status == "delivered", what="delivered")
    [delivery] = world.deliveries(sub["id"])
    assert delivery.id == got[0].webhook_id
    assert delivery.attempts == n + 1
    log = world.attempts(delivery.id)
    assert [a.status_code for a in log] == [500] * n + [200]
    assert [a.outcome for a in log] == ["retry"] * n + ["delivered"]
    assert all(a.latency_ms >= 0 for a in log)
    assert all(a.response_excerpt == "ok" for a in log)  # truncated, sanitised excerpt only
    # The retries followed the (scaled-down) schedule, not a tight loop.
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert all(g >= 0.29 for g in gaps), gaps
    # The delivery log through the API.
    r = world.api("GET", f"/v1/webhooks/deliveries/{delivery.id}")
    assert r.status_code == 200, r.text
    assert [a["status_code"] for a in r.json()["log"]] == [500] * n + [200]
    assert r.json()["payload"]["data"]["tag"] == "system:envelope:completed"


def test_a_receiver_answering_410_is_disabled(world: World) -> None:
    world.receiver.behaviours["/gone"] = Behaviour(status=410)
    sub = world.subscribe("/gone", ["system:"])
    world.emit()
    wait_for(lambda: world.endpoint(sub["id"]).status == "disabled", what="disabled")
    assert len(world.receiver.at("/gone")) == 1  # no retry after 410
    endpoint = world.endpoint(sub["id"])
    assert endpoint.status_reason == "the receiver answered 410 Gone"
    [delivery] = world.deliveries(sub["id"])
    assert delivery.status == "dead"
    [disabled] = events(world.rt, EventTag.WEBHOOK_DISABLED.value)
    assert disabled["data"]["endpoint"] == sub["id"]
    # Nothing more is queued for it.
    world.emit()
    time.sleep(0.5)
    assert len(world.deliveries(sub["id"])) == 1
    assert len(world.receiver.at("/gone")) == 1
    r = world.api("GET", f"/v1/webhooks/{sub['id']}")
    assert (r.json()["status"], r.json()["status_reason"]) == ("disabled", endpoint.status_reason)
    # Redelivery to a disabled endpoint is refused until it is enabled again.
    r = world.api("POST", f"/v1/webhooks/deliveries/{delivery.id}/redeliver")
    assert r.status_code == 409, r.text


def test_a_receiver_that_never_answers_stops_at_the_cap_into_the_dead_letters(
    world: World,
) -> None:
    world.receiver.behaviours["/hang"] = Behaviour(hang=True)
    hung = world.subscribe("/hang", ["system:envelope:completed"])
    world.subscribe("/ok", ["system:envelope:completed"])
    world.emit()

    # The healthy receiver is not held up by the hanging one (read timeout 1 s): its event
    # arrives while the first attempt at the hanging one is still waiting for an answer.
    wait_for(lambda: len(world.receiver.at("/ok")) == 1, timeout=10, what="healthy delivery")
    wait_for(lambda: len(world.receiver.at("/hang")) >= 1, timeout=10, what="hanging attempt")
    assert world.receiver.at("/ok")[0].at < world.receiver.at("/hang")[0].at + 1.0

    cap = world.rt.settings.webhook_max_attempts
    wait_for(
        lambda: world.deliveries(hung["id"])[0].status == "dead", timeout=30, what="dead letter"
    )
    [delivery] = world.deliveries(hung["id"])
    assert delivery.attempts == cap
    log = world.attempts(delivery.id)
    assert [a.error_class for a in log] == ["timeout"] * cap
    assert [a.outcome for a in log] == ["retry"] * (cap - 1) + ["dead"]
    assert all(a.latency_ms < 3000 for a in log)  # bounded by the read timeout
    [dead] = events(world.rt, EventTag.WEBHOOK_DEAD_LETTERED.value)
    assert dead["data"] == {
        "endpoint": hung["id"],
        "delivery": delivery.id,
        "event": delivery.event_id,
        "attempts": cap,
    }
    r = world.api("GET", "/v1/webhooks/dead-letters")
    assert r.status_code == 200, r.text
    assert [d["id"] for d in r.json()["items"]] == [delivery.id]
    assert "attempts failed" in r.json()["items"][0]["dead_reason"]

    # Nothing more is sent; then a manual redelivery, once the receiver is back.
    time.sleep(1.0)
    assert world.deliveries(hung["id"])[0].attempts == cap
    world.receiver.behaviours["/hang"] = Behaviour()
    world.receiver.release.set()
    r = world.api("POST", f"/v1/webhooks/deliveries/{delivery.id}/redeliver")
    assert r.status_code == 202, r.text
    wait_for(lambda: world.deliveries(hung["id"])[0].status == "delivered", what="redelivered")
    answered = [r for r in world.receiver.at("/hang") if r.status == 200]
    assert answered[-1].webhook_id == delivery.id  # the same webhook-id, again
    assert events(world.rt, EventTag.WEBHOOK_REDELIVERED.value)
    assert world.api("GET", "/v1/webhooks/dead-letters").json()["items"] == []


def test_429_retry_after_is_honoured(world: World) -> None:
    world.receiver.behaviours["/busy"] = Behaviour(
        fail_first=1, fail_status=429, fail_headers={"Retry-After": "1"}
    )
    sub = world.subscribe("/busy", ["system:envelope:completed"])
    world.emit()
    wait_for(lambda: len(world.receiver.at("/busy")) == 2, what="retry after 429")
    first, second = world.receiver.at("/busy")
    assert second.at - first.at >= 0.95  # Retry-After: 1, longer than the 0.3 s schedule
    [delivery] = world.deliveries(sub["id"])
    assert [a.status_code for a in world.attempts(delivery.id)] == [429, 200]


def test_deliveries_pending_in_the_database_survive_a_restart(
    settings: Settings, clock: OffsetClock
) -> None:
    """A worker delivers what another, stopped, one left pending (no lost events)."""
    from sealwright.web.app import create_app
    from sealwright.web.server import BackgroundServer
    from tests.integration.helpers import new_client
    from tests.integration.token_helpers import access_token

    fast = fast_settings(settings, webhook_retry_schedule=[0.0, 1.5])
    with running_receiver() as receiver:
        receiver.behaviours["/in"] = Behaviour(fail_first=1, fail_status=503)
        rt = Runtime.build(fast, clock=clock)
        try:
            with BackgroundServer(create_app(rt), port=fast.port) as server:
                _tenant, cid, secret = new_client(rt, "acme")
                world = World(rt, server, receiver, _tenant, access_token(server, cid, secret))
                sub = world.subscribe("/in", ["system:"])
                world.emit()
                wait_for(lambda: len(receiver.at("/in")) == 1, what="first attempt")
                wait_for(lambda: world.deliveries(sub["id"])[0].attempts == 1, what="recorded")
        finally:
            rt.close()  # the worker stops with the retry still pending
        [pending] = _deliveries_of(fast, clock, sub["id"])
        assert (pending.status, pending.attempts) == ("pending", 1)

        rt2 = Runtime.build(fast, clock=clock)  # a new process, a new worker
        worker = build_worker(rt2)
        rt2.worker = worker
        worker.start()
        try:
            world2 = World(rt2, world.server, receiver, world.tenant, world.token)
            wait_for(
                lambda: world2.deliveries(sub["id"])[0].status == "delivered", what="delivered"
            )
        finally:
            rt2.close()
        got = receiver.at("/in")
        assert [r.status for r in got] == [503, 200]
        assert got[0].webhook_id == got[1].webhook_id == pending.id


def _deliveries_of(settings: Settings, clock: OffsetClock, endpoint: str) -> list:  # type: ignore[type-arg]
    rt = Runtime.build(settings, clock=clock)
    try:
        world = World(rt, None, None, "", "")  # type: ignore[arg-type]
        return world.deliveries(endpoint)
    finally:
        rt.close()
