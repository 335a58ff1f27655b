"""What the orchestrator's integration tests share (no tests here): a service with the
carrier simulator, a small geolocation database and 127.0.0.1 as a trusted proxy, so a
test's browser can appear to come from Berlin (192.0.2.0/24) or Sydney (198.51.100.0/24)
through ``X-Forwarded-For``; a risk-based signer signed in; the phone callback passed."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sealwright.cli.demo_driver import DemoDriver
from sealwright.config import Settings
from sealwright.evidence.verify import verify_bundle
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.web.server import BackgroundServer
from tests.integration.carrier_world import carrier_settings
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import bundle_events, email_code, open_link
from tests.unit.risk.risk_support import build_mmdb

PHONE = "+447700900123"
BERLIN, SYDNEY = "192.0.2.10", "198.51.100.7"
SMS_PIN = re.compile(r"signing PIN is (\d{6})")
SAID_PIN = re.compile(r"Your verification code is: ([0-9, ]+)\.")


@pytest.fixture
def carrier() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(callback_delay=0.05) as simulator:
        simulator.voice.ring_delay = 0.1
        yield simulator


def orchestrated_settings(
    tmp_path: Path, database_url: str, carrier: CarrierSimulator, **extra: Any
) -> Settings:
    return carrier_settings(
        tmp_path,
        database_url,
        carrier,
        geoip_database=str(build_mmdb(tmp_path / "geo.mmdb")),
        trusted_proxies=["127.0.0.1/32"],
        **extra,
    )


def driver_for(runtime: Runtime, server: BackgroundServer) -> DemoDriver:
    _, cid, secret = new_client(runtime, "acme")
    return DemoDriver(server.url, cid, secret, timeout=30)


def signed_in(driver: DemoDriver, base: str, ip: str, email: str) -> httpx.Client:
    """A browser at ``ip`` that used the link, passed email OTP and consented."""
    browser, _ = open_link(driver, email)
    browser.headers["X-Forwarded-For"] = ip
    browser.post(f"{base}/s/otp", data={"code": email_code(driver, email)}).raise_for_status()
    r = browser.post(f"{base}/s/consent", data={"agree": "yes"})
    r.raise_for_status()
    return browser


def start(browser: httpx.Client, base: str, channel: str) -> str:
    r = browser.post(f"{base}/s/channels/{channel}/start")
    assert r.status_code == 200, r.text
    assert r.url.path.startswith("/s/channels/v/"), r.url
    return r.url.path.rsplit("/", 1)[1]


def status(browser: httpx.Client, base: str, run: str, until: str | None = None) -> Any:
    deadline = time.monotonic() + 30
    while True:
        body = browser.get(f"{base}/s/channels/v/{run}/status").json()
        if until is None or body["status"] == until or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def pass_sms(browser: httpx.Client, base: str, carrier: CarrierSimulator, nth: int = 1) -> None:
    run = start(browser, base, "sms-otp")
    assert carrier.wait_for(lambda: len(carrier.messages_to(PHONE)) >= nth, timeout=30)
    found = SMS_PIN.search(carrier.messages_to(PHONE)[nth - 1].body)
    assert found is not None
    browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": found[1]})
    assert status(browser, base, run)["status"] == "passed"


def pass_callback(browser: httpx.Client, base: str, carrier: CarrierSimulator) -> None:
    """The call reads the PIN out (speak mode); the signer types it."""
    before = len(carrier.voice.calls_to(PHONE))
    run = start(browser, base, "phone-callback")
    assert carrier.wait_for(lambda: len(carrier.voice.calls_to(PHONE)) > before, timeout=30)
    call = carrier.voice.calls_to(PHONE)[-1]
    assert carrier.wait_for(
        lambda: any("Goodbye" in s for s in carrier.voice.heard(call.sid)), timeout=30
    )
    said = SAID_PIN.search(" ".join(carrier.voice.heard(call.sid)))
    assert said is not None
    pin = said[1].replace(", ", "")
    browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": pin})
    assert status(browser, base, run)["status"] == "passed"


def evidence(driver: DemoDriver, runtime: Runtime, envelope_id: str) -> list[dict[str, Any]]:
    """The envelope's bundle (checked by the offline verifier) and its events."""
    r = driver.api.get(
        f"/v1/envelopes/{envelope_id}/evidence",
        headers={"Authorization": f"Bearer {driver.token()}"},
    )
    assert r.status_code == 200, r.text
    report = verify_bundle(r.content, trust_store(runtime))
    assert report.ok, report
    return bundle_events(r.content)


def tagged(found: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [e for e in found if e["tag"] == tag]


def assert_no_location_in_clear(runtime: Runtime) -> None:
    """Neither addresses nor coordinates nor the phone number reach the ledger."""
    ledger = json.dumps(events(runtime))
    for secret in (BERLIN, SYDNEY, PHONE, PHONE[1:]):
        assert secret not in ledger, secret
    for degrees in ("52.5", "13.4", "33.9", "151.2"):  # not in a time's seconds either
        assert re.search(rf"(?<![0-9:]){re.escape(degrees)}", ledger) is None, degrees
