"""When the timestamp authority fails, sealing is retried by the durable job and the
envelope says why -- never a local time passed off as a timestamp, never silently pending."""

from __future__ import annotations

import time

import pytest

from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock
from sealwright.sealing.pades import validate_sealed_pdf
from sealwright.sealing.timestamps import http_tsa, local_tsa
from sealwright.services.demo import DemoPeople
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer, free_port
from tests.integration.helpers import events, new_client


def _wait(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail("condition not reached in time")


def test_tsa_outage_is_visible_and_retried(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    runtime.tsa = http_tsa(
        f"http://127.0.0.1:{free_port()}/tsa", timeout=2, trust_roots=runtime.pki.trust_roots
    )
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    people = DemoPeople()
    env = driver.create_envelope(people)
    driver.sign_as(people.first_email, people.first_name, env, drawn=False)
    driver.sign_as(people.second_email, people.second_name, env, drawn=False)

    def seal_state() -> dict | None:
        state = driver.api.get(
            f"/v1/envelopes/{env['id']}", headers={"Authorization": f"Bearer {driver.token()}"}
        ).json()
        return state if state["seal"]["status"] == "retrying" else None

    state = _wait(seal_state)
    assert state["status"] == "completed"
    assert "timestamp authority is unavailable" in state["seal"]["error"]
    assert state["documents"][0]["sealed_sha256"] is None
    assert events(runtime, "system:seal:failed")
    assert events(runtime, "system:document:sealed") == []
    r = driver.api.get(
        f"/v1/envelopes/{env['id']}/evidence", headers={"Authorization": f"Bearer {driver.token()}"}
    )
    assert r.status_code == 409

    # the authority comes back; the retry (due after its backoff) seals the envelope
    runtime.tsa = local_tsa(runtime.pki, runtime.clock)
    clock.advance(3600)
    sealed = driver.wait_sealed(env["id"])
    assert sealed["seal"]["error"] is None
    pdf, _ = driver.download(env["id"], sealed["documents"][0]["id"])
    assert validate_sealed_pdf(
        pdf, pdf_roots=runtime.pki.trust_roots, tsa_roots=runtime.tsa.trust_roots
    ).ok
    assert len(events(runtime, "system:document:sealed")) == 1
    driver.close()
