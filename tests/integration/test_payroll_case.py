"""Seed 003's payroll case study end to end (D4), on SQLite and PostgreSQL: an off-cycle
payment over $10k needs a phone callback and a signed QR scan by a second device; the phone
does not answer, so the orchestrator escalates to live video and records why; the signer
passes the video and the QR, signs, and the evidence bundle -- checked by the offline
verifier -- shows the whole path: the assessment, the plan, the fallback with its
rationale, and the three signed assertions."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from sealwright.cli.demo_driver import DemoDriver
from sealwright.config import Settings
from sealwright.services.demo import demo_pdf
from sealwright.services.runtime import Runtime
from sealwright.simulators.camera import challenge_video
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.simulators.voice import CallOutcome, CallScript
from sealwright.storage.models import ChannelVerification
from sealwright.web.server import BackgroundServer
from sealwright.web.signer_device import device_channel
from tests.integration.signer_support import sign
from tests.integration.test_orchestrator_world import (
    BERLIN,
    PHONE,
    assert_no_location_in_clear,
    driver_for,
    evidence,
    orchestrated_settings,
    signed_in,
    start,
    status,
    tagged,
)
from tests.integration.test_orchestrator_world import carrier as carrier
from tests.integration.test_video_channel_http import consent, finish, upload, vid_hash


@pytest.fixture
def settings(tmp_path: Path, database_url: str, carrier: CarrierSimulator) -> Settings:
    """The built-in policy: its ``payroll`` class is seed 003's case study."""
    return orchestrated_settings(tmp_path, database_url, carrier)


def _payroll_envelope(driver: DemoDriver) -> dict[str, Any]:
    """An off-cycle payroll approval of $12,000 for a risk-based manager, sent."""
    headers = {"Authorization": f"Bearer {driver.token()}"}
    body = {
        "title": "Off-cycle payment approval",
        "document_class": "payroll",
        "transaction_value": 12000,
        "recipients": [
            {"name": "Ada Lovelace", "email": "ada@example.com", "risk_based": True, "phone": PHONE}
        ],
    }
    r = driver.api.post("/v1/envelopes", headers=headers, json=body)
    assert r.status_code == 201, r.text
    env = r.json()
    doc = driver.api.post(
        f"/v1/envelopes/{env['id']}/documents",
        params={"name": "payment.pdf"},
        content=demo_pdf(),
        headers={**headers, "Content-Type": "application/pdf"},
    ).json()
    field = {
        "document_id": doc["id"],
        "recipient_id": env["recipients"][0]["id"],
        "kind": "signature",
        "page": 1,
        "x": 72,
        "y": 100,
        "width": 200,
        "height": 50,
    }
    driver.api.post(
        f"/v1/envelopes/{env['id']}/fields", headers=headers, json={"fields": [field]}
    ).raise_for_status()
    sent = driver.api.post(f"/v1/envelopes/{env['id']}/send", headers=headers)
    assert sent.status_code == 200, sent.text
    return dict(sent.json())


def _pass_qr(runtime: Runtime, browser: httpx.Client, base: str) -> None:
    """The manager's second device opens the signed QR code's link and confirms."""
    run = start(browser, base, "qr-device")
    with runtime.db.transaction() as session:
        row = session.get(ChannelVerification, run)
        assert row is not None
        url = device_channel(runtime).url(row.id, row.nonce)
    with httpx.Client(timeout=30) as phone:
        assert phone.get(url).status_code == 200
        assert 'id="device-done"' in phone.post(url).text
    assert status(browser, base, run)["status"] == "passed"


def _pass_video(browser: httpx.Client, base: str) -> None:
    run = start(browser, base, "video")
    display = status(browser, base, run)["display"]
    consent(browser, base, run)
    video = challenge_video(display["actions"].split(","), seed=7)
    upload(browser, base, run, video)
    ok = finish(browser, base, run, vid_hash(video, display))
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "passed"


def test_payroll_over_10k_unreachable_phone_escalates_to_video(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    carrier.voice.script(PHONE, CallScript(CallOutcome.NO_ANSWER, attestation="B"))
    driver = driver_for(runtime, server)
    env = _payroll_envelope(driver)
    assert env["recipients"][0]["risk_based"] is True
    base = server.url
    with closing(signed_in(driver, base, BERLIN, "ada@example.com")) as browser:
        steps = browser.get(f"{base}/s/channels")
        assert 'id="start-phone-callback"' in steps.text
        assert 'id="start-qr-device"' in steps.text
        assert 'id="start-video"' not in steps.text

        call = start(browser, base, "phone-callback")  # nobody answers
        assert status(browser, base, call, until="failed")["status"] == "failed"
        steps = browser.get(f"{base}/s/channels")
        assert 'id="start-video"' in steps.text  # the fallback, offered at once
        assert 'id="start-phone-callback"' not in steps.text
        assert sign(browser, base).url.path == "/s/channels"  # still blocked

        _pass_video(browser, base)
        _pass_qr(runtime, browser, base)
        assert "you have signed" in sign(browser, base).text
    driver.wait_sealed(env["id"])

    found = evidence(driver, runtime, env["id"])
    [first, *_] = tagged(found, "system:risk:assessed")
    assert first["data"]["decision"]["policy_class"] == "payroll"
    assert first["data"]["decision"]["all_of"] == ["phone-callback", "qr-device"]
    document = next(s for s in first["data"]["signals"] if s["name"] == "document")
    assert document["contribution"] == 30  # sensitive class + value over the threshold
    assert "12000" not in str(first)  # the amount itself is not in the evidence
    assert first["data"]["policy_version"] == 2  # the built-in policy
    [plan] = tagged(found, "system:plan:created")
    assert plan["data"]["required"] == ["phone-callback", "qr-device"]
    [fallback] = tagged(found, "system:plan:fallback")
    assert (fallback["data"]["from"], fallback["data"]["to"]) == ("phone-callback", "video")
    assert fallback["data"]["rationale"] == (
        "phone-callback failed (call no-answer); the policy's fallback is video"
    )
    assert fallback["data"]["required"] == ["video", "qr-device"]
    assert fallback["data"]["verification"] == call
    issued = [
        (e["data"]["channel"], e["data"]["result"])
        for e in tagged(found, "system:assertion:issued")
    ]
    assert issued == [("phone-callback", "failed"), ("video", "passed"), ("qr-device", "passed")]
    order = [e["tag"] for e in found]
    assert (
        order.index("system:plan:created")
        < order.index("system:plan:fallback")
        < order.index("signer:recipient:signed")
    )
    signed = tagged(found, "signer:recipient:signed")[0]["data"]
    assert {v["channel"] for v in signed["verifications"]} == {"video", "qr-device"}
    assert_no_location_in_clear(runtime)
    driver.close()
