"""Phone callback (C1) through the real app and the carrier simulator over HTTP, on SQLite
and PostgreSQL: the call reads the PIN out and the signer types it (speak), or the page
shows it and the phone keys it in (dtmf); busy and unanswered calls end in failed
assertions; forged carrier callbacks are refused, audited, and change nothing; no phone
number or PIN reaches the ledger."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sealwright.cli.demo_driver import DemoDriver
from sealwright.config import Settings
from sealwright.domain.events import EventTag
from sealwright.identity.sms import twilio_signature
from sealwright.services.runtime import Runtime
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.simulators.voice import CallOutcome, CallScript, SimulatedCall
from sealwright.storage.models import ChannelVerification, VerificationAssertion
from sealwright.web.server import BackgroundServer
from tests.integration.carrier_world import carrier_settings
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign

PHONE = "+447700900123"
SAID_PIN = re.compile(r"Your verification code is: ([0-9, ]+)\.")


@pytest.fixture
def carrier() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(callback_delay=0.05) as simulator:
        simulator.voice.ring_delay = 0.1
        yield simulator


@pytest.fixture
def settings(tmp_path: Path, database_url: str, carrier: CarrierSimulator) -> Settings:
    return carrier_settings(tmp_path, database_url, carrier, pin_ttl=120, pin_max_attempts=3)


def _signed_in(runtime: Runtime, server: BackgroundServer) -> tuple[DemoDriver, httpx.Client]:
    """A signer who must pass phone-callback, has passed email OTP and consented."""
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    create_envelope(driver, auth={"verification_channels": ["phone-callback"], "phone": PHONE})
    browser, _ = open_link(driver)
    base = server.url
    browser.post(f"{base}/s/otp", data={"code": email_code(driver)}).raise_for_status()
    browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
    return driver, browser


def _run_id(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.url.path.startswith("/s/channels/v/")
    return response.url.path.rsplit("/", 1)[1]


def _call(carrier: CarrierSimulator, nth: int = 1) -> SimulatedCall:
    assert carrier.wait_for(lambda: len(carrier.voice.calls_to(PHONE)) >= nth, timeout=30)
    return carrier.voice.calls_to(PHONE)[nth - 1]


def _status(browser: httpx.Client, base: str, run: str, until: str | None = None) -> Any:
    deadline = time.monotonic() + 30
    while True:
        body = browser.get(f"{base}/s/channels/v/{run}/status").json()
        if until is None or body["status"] == until or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def _claims(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(VerificationAssertion).where(VerificationAssertion.channel == "phone-callback")
        ).scalars()
        compacts = [r.compact for r in rows]
    out = []
    for compact in compacts:
        part = compact.split(".")[1]
        out.append(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))
    return out


def _row(runtime: Runtime, run: str) -> tuple[str, dict[str, Any], str | None]:
    with runtime.db.transaction() as session:
        row = session.get(ChannelVerification, run)
        assert row is not None
        return row.status, dict(row.state), row.completed_by


def _clean_ledger(runtime: Runtime, pin: str) -> None:
    ledger = json.dumps(events(runtime))
    assert PHONE not in ledger
    assert PHONE[1:] not in ledger
    assert re.search(rf"(?<![0-9A-Za-z.]){pin}(?![0-9A-Za-z])", ledger) is None


def test_speak_mode_the_call_reads_the_pin_and_the_signer_types_it(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver, browser = _signed_in(runtime, server)
    base = server.url
    with closing(browser), closing(driver):
        r = browser.post(f"{base}/s/channels/phone-callback/start")
        run = _run_id(r)
        assert "+44•••23" in r.text
        assert PHONE not in r.text
        assert 'id="mode-dtmf"' in r.text
        assert 'src="/static/phone-callback.js"' in r.text
        call = _call(carrier)
        assert call.to == PHONE  # the number on file, the only one ever called
        assert carrier.wait_for(
            lambda: any("Goodbye" in s for s in carrier.voice.heard(call.sid)), timeout=30
        )
        said = SAID_PIN.search(" ".join(carrier.voice.heard(call.sid)))
        assert said is not None
        pin = said.group(1).replace(", ", "")
        assert _status(browser, base, run)["display"]["call"] in ("in-progress", "completed")
        r = browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": pin})
        assert _status(browser, base, run)["status"] == "passed"
        r = sign(browser, base)
        assert "you have signed" in r.text
    status, state, by = _row(runtime, run)
    assert (status, by, state["spoken"]) == ("passed", "signer", True)
    [claims] = _claims(runtime)
    assert claims["result"] == "passed"
    assert claims["details"]["mode"] == "speak"
    assert claims["details"]["attestation"] == "A"
    assert claims["details"]["provider"] == "twilio"
    assert claims["details"]["attempts"] == 1
    _clean_ledger(runtime, pin)


def test_dtmf_mode_the_page_shows_the_pin_and_the_phone_keys_it_in(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver, browser = _signed_in(runtime, server)
    base = server.url
    with closing(browser), closing(driver):
        r = browser.post(f"{base}/s/voice/start", data={"mode": "dtmf"})
        run = _run_id(r)
        shown = re.search(r'id="dtmf-pin"[^>]*>(\d{6})<', r.text)
        assert shown is not None
        pin = shown.group(1)
        call = _call(carrier)
        assert carrier.wait_for(lambda: carrier.voice.get(call.sid).gather is not None)  # type: ignore[union-attr]
        assert pin not in " ".join(carrier.voice.heard(call.sid))
        # The signer cannot stand in for the phone: typed on the page, it proves nothing.
        browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": pin})
        browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "dtmf", "value": pin})
        assert _status(browser, base, run)["status"] == "pending"
        carrier.voice.press(call.sid, pin)
        done = _status(browser, base, run, until="passed")
        assert done["status"] == "passed"
        assert "pin" not in done["display"]  # not kept on the page once it served
        assert browser.post(f"{base}/s/voice/start", data={"mode": "video"}).status_code == 400
        assert carrier.wait_for(
            lambda: any("confirmed" in s for s in carrier.voice.heard(call.sid)), timeout=30
        )
        r = sign(browser, base)
        assert "you have signed" in r.text
    status, _, by = _row(runtime, run)
    assert (status, by) == ("passed", "carrier")
    [claims] = _claims(runtime)
    assert (claims["details"]["mode"], claims["details"]["attempts"]) == ("dtmf", 1)
    failed = [
        e["data"]["details"]["reason"] for e in events(runtime, "signer:channel:attempt-failed")
    ]
    assert failed == ["wrong-mode"]
    # keypad digits posted by the signer's browser: refused by the flow before the channel
    refused = [e["data"]["reason"] for e in events(runtime, "signer:channel:refused")]
    assert refused == ["carrier evidence from signer"]
    _clean_ledger(runtime, pin)


@pytest.mark.parametrize("outcome", [CallOutcome.BUSY, CallOutcome.NO_ANSWER])
def test_an_unanswered_call_is_a_failed_assertion(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator, outcome: CallOutcome
) -> None:
    carrier.voice.script(PHONE, CallScript(outcome, attestation="B"))
    driver, browser = _signed_in(runtime, server)
    base = server.url
    with closing(browser), closing(driver):
        run = _run_id(browser.post(f"{base}/s/channels/phone-callback/start"))
        body = _status(browser, base, run, until="failed")
        assert body["status"] == "failed"
        assert body["display"]["call"] == outcome.value
        page = browser.get(f"{base}/s/channels/v/{run}")
        words = {CallOutcome.BUSY: "the line was busy", CallOutcome.NO_ANSWER: "nobody answered"}
        assert words[outcome] in page.text
        # signing stays blocked; the signer may start another call
        assert sign(browser, base).url.path == "/s/channels"
    [claims] = _claims(runtime)
    assert claims["result"] == "failed"
    assert claims["details"]["call_status"] == outcome.value
    assert claims["details"]["attestation"] == "B"
    assert _row(runtime, run)[2] == "carrier"


def test_forged_carrier_callbacks_are_refused_and_change_nothing(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    carrier.voice.script(PHONE, CallScript(CallOutcome.NO_ANSWER))
    carrier.voice.ring_delay = 10.0  # the real call stays quiet while we forge
    driver, browser = _signed_in(runtime, server)
    base = server.url
    with closing(browser), closing(driver):
        r = browser.post(f"{base}/s/voice/start", data={"mode": "dtmf"})
        run = _run_id(r)
        shown = re.search(r'id="dtmf-pin"[^>]*>(\d{6})<', r.text)
        assert shown is not None
        call = _call(carrier)
        deadline = time.monotonic() + 30
        while _row(runtime, run)[1]["call_sid"] != call.sid:  # the dispatch job's commit
            assert time.monotonic() < deadline
            time.sleep(0.05)
        _, before, _ = _row(runtime, run)
        url = f"{runtime.settings.public_url}/s/voice/{run}"
        gather = {"CallSid": call.sid, "Digits": shown.group(1), "AccountSid": carrier.account_sid}
        busy = {"CallSid": call.sid, "CallStatus": "busy", "AccountSid": carrier.account_sid}
        forged = [
            (f"{url}/gather", gather, "0" * 28),  # a made-up signature
            (f"{url}/gather", gather, twilio_signature("guessed", f"{url}/gather", gather)),
            (f"{url}/status", busy, twilio_signature(carrier.auth_token, f"{url}/twiml", busy)),
            (f"{url}/status", busy, ""),
            (f"{url}/twiml", {"CallSid": call.sid}, ""),
        ]
        for target, form, signature in forged:
            r = httpx.post(target, data=form, headers={"X-Twilio-Signature": signature})
            assert r.status_code == 403, target
            assert "Say" not in r.text
        status, after, _ = _row(runtime, run)
        assert status == "pending"
        assert after == before
        # the genuine signature over the same form is accepted
        good = twilio_signature(carrier.auth_token, f"{url}/status", busy)
        r = httpx.post(f"{url}/status", data=busy, headers={"X-Twilio-Signature": good})
        assert r.status_code == 204
        assert _row(runtime, run)[0] == "failed"
    denied = [e["data"]["reason"] for e in events(runtime) if e["tag"] == EventTag.ACCESS_DENIED]
    assert len([d for d in denied if "X-Twilio-Signature" in d]) == 5


def test_wrong_pins_lock_the_run_and_the_heard_pin_then_fails(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver, browser = _signed_in(runtime, server)
    base = server.url
    with closing(browser), closing(driver):
        run = _run_id(browser.post(f"{base}/s/channels/phone-callback/start"))
        call = _call(carrier)
        assert carrier.wait_for(
            lambda: SAID_PIN.search(" ".join(carrier.voice.heard(call.sid))) is not None
        )
        said = SAID_PIN.search(" ".join(carrier.voice.heard(call.sid)))
        assert said is not None
        pin = said.group(1).replace(", ", "")
        wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
        for _ in range(3):
            browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": wrong})
        assert _status(browser, base, run)["status"] == "locked"
        browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": pin})
        assert _status(browser, base, run)["status"] == "locked"
        assert sign(browser, base).url.path == "/s/channels"
    [claims] = _claims(runtime)
    assert (claims["result"], claims["details"]["attempts"]) == ("locked", 3)
    refused = [e["data"]["reason"] for e in events(runtime, "signer:channel:refused")]
    assert refused == ["run is locked"]
    _clean_ledger(runtime, pin)
