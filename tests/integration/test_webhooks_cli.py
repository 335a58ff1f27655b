"""``sealwright webhooks dead-letters`` and ``redeliver``, run as an operator would, against
the database of a running service whose worker then sends the redelivery."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from tests.integration.helpers import events
from tests.integration.webhook_receiver import Behaviour, wait_for
from tests.integration.webhook_world import World, build_world

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")


@pytest.fixture
def world(settings: Settings, clock: OffsetClock) -> Iterator[World]:
    yield from build_world(settings, clock)


def cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    s = world.rt.settings
    return subprocess.run(
        [SEALWRIGHT, "--data-dir", str(s.data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SEALWRIGHT_DATABASE_URL": s.sqlalchemy_url},
        check=False,
    )


def test_dead_letters_and_redelivery_from_the_cli(world: World) -> None:
    world.receiver.behaviours["/cli"] = Behaviour(status=410)
    sub = world.subscribe("/cli", ["system:"])
    world.emit()
    wait_for(lambda: world.endpoint(sub["id"]).status == "disabled", what="disabled")
    [dead] = world.deliveries(sub["id"])

    listed = cli(world, "webhooks", "dead-letters", "--tenant", "acme")
    assert listed.returncode == 0, listed.stderr
    assert dead.id in listed.stdout
    assert "410 Gone" in listed.stdout

    refused = cli(world, "webhooks", "redeliver", dead.id)  # the endpoint is still disabled
    assert refused.returncode != 0
    assert "enable it first" in refused.stderr
    unknown = cli(world, "webhooks", "redeliver", "msg_nope")
    assert unknown.returncode != 0
    assert "not found" in unknown.stderr

    world.receiver.behaviours["/cli"] = Behaviour(status=204)
    r = world.api("PATCH", f"/v1/webhooks/{sub['id']}", json={"enabled": True})
    assert r.status_code == 200, r.text
    done = cli(world, "webhooks", "redeliver", dead.id)
    assert done.returncode == 0, done.stderr
    wait_for(lambda: world.deliveries(sub["id"])[0].status == "delivered", what="redelivered")
    got = [r for r in world.receiver.at("/cli") if r.status == 204]
    assert dead.id in {r.webhook_id for r in got}
    [by_operator] = events(world.rt, EventTag.WEBHOOK_REDELIVERED_BY_OPERATOR.value)
    assert by_operator["actor"] == "operator:cli"
    assert by_operator["data"]["delivery"] == dead.id
    assert cli(world, "webhooks", "dead-letters").stdout.splitlines()[-1] == "no dead letters"
