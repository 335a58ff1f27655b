"""SMS one-time codes (sms-otp) over real HTTP, on SQLite and PostgreSQL, against a carrier
simulator the test starts (Twilio's Messages API and signed status callbacks, on loopback):
codes read from the simulator's inbox, wrong and expired codes, step-up by a new text,
delivery failures shown to the signer and recorded, forged delivery reports refused."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock, SystemClock, SystemRandom
from sealwright.config import Settings, load_settings
from sealwright.errors import ConfigurationError
from sealwright.identity.sms import twilio_signature
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.sms_gateway import sms_gateway
from sealwright.simulators.carrier import CarrierSimulator, Failure, SimulatedMessage
from sealwright.storage.models import Job
from sealwright.web.app import create_app
from sealwright.web.server import BackgroundServer, free_port
from tests.integration.carrier_world import carrier_settings
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign

PHONE = "+447700900123"
SMS_CODE = re.compile(r"verification code is (\d{6})")


@pytest.fixture
def carrier() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(callback_delay=0.05) as simulator:
        yield simulator


@pytest.fixture
def settings(tmp_path: Path, database_url: str, carrier: CarrierSimulator) -> Settings:
    return carrier_settings(tmp_path, database_url, carrier)


def _driver(runtime: Runtime, server: BackgroundServer) -> DemoDriver:
    _, cid, secret = new_client(runtime, "acme")
    return DemoDriver(server.url, cid, secret, timeout=30)


def _texts(carrier: CarrierSimulator, phone: str, count: int) -> list[SimulatedMessage]:
    assert carrier.wait_for(lambda: len(carrier.messages_to(phone)) >= count, timeout=30)
    return carrier.messages_to(phone)


def _sms_code(carrier: CarrierSimulator, phone: str = PHONE, nth: int = 1) -> str:
    body = _texts(carrier, phone, nth)[nth - 1].body
    found = SMS_CODE.search(body)
    assert found, "no code in the text"
    return found.group(1)


def _reported(carrier: CarrierSimulator, phone: str, status: str, nth: int = 1) -> None:
    """Wait until the carrier's ``status`` report of the nth text was answered by us."""

    def answered() -> bool:
        texts = carrier.messages_to(phone)
        return len(texts) >= nth and any(
            c.status == status and c.http_status is not None for c in texts[nth - 1].callbacks
        )

    assert carrier.wait_for(answered, timeout=30), carrier.messages_to(phone)


def _contains_code(text: str, code: str) -> bool:
    """The code as a token of its own (not inside a hex id or fractional seconds, where six
    given digits turn up by chance now and then)."""
    return re.search(rf"(?<![0-9A-Za-z.]){code}(?![0-9A-Za-z])", text) is not None


def _sms_events(runtime: Runtime) -> list[dict[str, Any]]:
    return [e["data"] for e in events(runtime) if e["tag"].startswith("signer:sms:")]


def test_email_and_sms_codes_then_step_up_by_text(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator, clock: OffsetClock
) -> None:
    driver = _driver(runtime, server)
    env = create_envelope(
        driver, auth={"auth_methods": ["email-otp", "sms-otp"], "phone": PHONE}, max_age=60
    )
    assert env["recipients"][0]["auth_methods"] == ["email-otp", "sms-otp"]
    browser, r = open_link(driver)
    base = server.url
    with closing(browser):
        assert r.url.path == "/s/verify"
        assert 'id="method-sms-otp"' in r.text
        r = browser.post(f"{base}/s/otp", data={"code": email_code(driver)})
        assert r.url.path == "/s/sms"  # the one method left
        assert "+44•••23" in r.text
        assert PHONE not in r.text
        code = _sms_code(carrier)
        r = browser.post(f"{base}/s/sms", data={"code": code})
        assert r.url.path == "/s/consent"
        browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()

        clock.advance(90)  # older than the envelope's 60 s: "sign" asks for a new check
        r = sign(browser, base)
        assert r.status_code == 401
        assert 'id="step-up-sms-otp"' in r.text
        assert 'action="/s/sms/send"' in r.text
        r = browser.post(f"{base}/s/sms/send")
        assert r.url.path == "/s/sms"
        fresh = _sms_code(carrier, nth=2)
        # the first code was replaced by the new one
        assert browser.post(f"{base}/s/sms", data={"code": code}).status_code == 400
        r = browser.post(f"{base}/s/sms", data={"code": fresh})
        assert r.url.path == "/s/review"
        r = sign(browser, base)
        assert "you have signed" in r.text
    sealed = driver.wait_sealed(env["id"])
    assert sealed["status"] == "completed"
    _reported(carrier, PHONE, "delivered", nth=2)

    text = carrier.messages_to(PHONE)[0]
    assert text.from_ == "+15005550006"
    assert text.body.endswith(f"@127.0.0.1 #{code}")  # the WebOTP line
    passed = [p["data"]["method"] for p in events(runtime, "signer:auth:passed")]
    assert passed == ["email-otp", "sms-otp", "sms-otp"]
    signed = events(runtime, "signer:recipient:signed")[0]["data"]
    assert [a["method"] for a in signed["authentication"]] == ["email-otp", "sms-otp"]
    channels = [e["data"]["channel"] for e in events(runtime, "signer:otp:sent")]
    assert sorted(channels) == ["email", "sms", "sms"]
    queued = events(runtime, "signer:sms:queued")
    assert [q["data"]["message"] for q in queued] == [m.sid for m in carrier.messages_to(PHONE)]
    statuses = [
        (e["data"]["status"], e["data"]["message"]) for e in events(runtime, "signer:sms:status")
    ]
    assert ("delivered", text.sid) in statuses
    assert len({e["phone"] for e in _sms_events(runtime)}) == 1  # one number, one pseudonym
    # neither the number nor a code in the ledger, nor in clear in the job rows
    ledger = json.dumps(events(runtime))
    assert PHONE not in ledger
    assert PHONE[1:] not in ledger
    assert not _contains_code(ledger, code)
    assert not _contains_code(ledger, fresh)
    with runtime.db.transaction() as session:
        jobs = [json.dumps(j.payload) for j in session.execute(select(Job)).scalars()]
    sms_jobs = [j for j in jobs if '"challenge"' in j]
    assert len(sms_jobs) == 2
    assert not any(PHONE[1:] in j or code in j or fresh in j for j in sms_jobs)
    failed = events(runtime, "signer:auth:failed")
    # the replaced code is checked against the new one's challenge: a plain mismatch
    assert [(f["data"]["method"], f["data"]["reason"]) for f in failed] == [("sms-otp", "mismatch")]
    driver.close()


def test_wrong_and_expired_sms_codes_get_the_one_answer(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator, clock: OffsetClock
) -> None:
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"auth_methods": ["sms-otp"], "phone": PHONE})
    browser, r = open_link(driver)
    base = server.url
    with closing(browser):
        assert r.url.path == "/s/sms"
        code = _sms_code(carrier)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        a = browser.post(f"{base}/s/sms", data={"code": wrong})
        clock.advance(runtime.settings.otp_ttl + 1)
        b = browser.post(f"{base}/s/sms", data={"code": code})  # right, but expired
        assert a.status_code == b.status_code == 400
        assert a.text == b.text
        assert "That code is not valid" in a.text
        assert browser.get(f"{base}/s/review").status_code == 403
        # a new code works
        r = browser.post(f"{base}/s/sms/send")
        assert r.url.path == "/s/sms"
        r = browser.post(f"{base}/s/sms", data={"code": _sms_code(carrier, nth=2)})
        assert r.url.path == "/s/consent"
    failed = events(runtime, "signer:auth:failed")
    assert [(f["data"]["method"], f["data"]["reason"]) for f in failed] == [
        ("sms-otp", "mismatch"),
        ("sms-otp", "expired"),
    ]
    assert not _contains_code(json.dumps(events(runtime)), wrong)
    driver.close()


def test_undelivered_and_refused_texts_are_shown_and_recorded(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    unreachable, invalid = "+447700900404", "+447700900999"
    carrier.fail_number(unreachable, Failure.UNREACHABLE)
    carrier.fail_number(invalid, Failure.INVALID_NUMBER)
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"auth_methods": ["sms-otp"], "phone": unreachable})
    browser, r = open_link(driver)
    with closing(browser):
        assert r.url.path == "/s/sms"
        _reported(carrier, unreachable, "undelivered")
        page = browser.get(f"{server.url}/s/sms")
        assert page.status_code == 200
        assert "We could not deliver the text message to +44•••04" in page.text
    [status] = events(runtime, "signer:sms:status")
    assert status["data"]["status"] == "undelivered"
    assert status["data"]["error_code"] == 30003
    assert status["data"]["message"] == carrier.messages_to(unreachable)[0].sid

    # a number the carrier refuses outright: recorded, not retried, shown the same way
    create_envelope(
        driver, email="grace@example.com", auth={"auth_methods": ["sms-otp"], "phone": invalid}
    )
    browser, r = open_link(driver, "grace@example.com")
    with closing(browser):
        assert r.url.path == "/s/sms"

        def refused() -> list[dict[str, Any]]:
            return events(runtime, "signer:sms:failed")

        _wait(lambda: bool(refused()))
        page = browser.get(f"{server.url}/s/sms")
        assert "We could not deliver the text message to +44•••99" in page.text
    [failure] = refused()
    assert failure["data"]["error_code"] == 21211
    assert failure["data"]["permanent"] is True
    assert carrier.messages_to(invalid) == []
    with runtime.db.transaction() as session:
        states = {j.status for j in session.execute(select(Job)).scalars() if j.kind == "sms.send"}
    assert states == {"done"}  # a permanent refusal is not retried
    ledger = json.dumps(events(runtime))
    assert unreachable[1:] not in ledger
    assert invalid[1:] not in ledger
    driver.close()


def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_forged_delivery_reports_are_refused(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"auth_methods": ["sms-otp"], "phone": PHONE})
    browser, _ = open_link(driver)
    browser.close()
    _reported(carrier, PHONE, "delivered")
    [queued] = events(runtime, "signer:sms:queued")
    challenge = queued["data"]["challenge"]
    text = carrier.messages_to(PHONE)[0]
    assert text.status_callback == f"{runtime.settings.public_url}/s/sms/status/{challenge}"
    url = text.status_callback
    report = {
        "AccountSid": carrier.account_sid,
        "MessageSid": text.sid,
        "MessageStatus": "failed",
        "ErrorCode": "30007",
        "To": PHONE,
        "From": "+15005550006",
    }
    before = len(events(runtime, "signer:sms:status"))
    denied_before = len(events(runtime, "api:access:denied"))
    with httpx.Client(timeout=10) as http:
        cases = [
            {},  # unsigned
            {"X-Twilio-Signature": twilio_signature("not-the-token", url, report)},
            {"X-Twilio-Signature": twilio_signature(carrier.auth_token, url + "x", report)},
            # signed for another status than the one posted
            {
                "X-Twilio-Signature": twilio_signature(
                    carrier.auth_token, url, {**report, "MessageStatus": "delivered"}
                )
            },
        ]
        for headers in cases:
            r = http.post(url, data=report, headers=headers)
            assert r.status_code == 403, r.text
        # signed for this URL but posted to another code's: the URL is part of the signature
        other = f"{server.url}/s/sms/status/{'0' * 32}"
        good = {"X-Twilio-Signature": twilio_signature(carrier.auth_token, url, report)}
        assert http.post(other, data=report, headers=good).status_code == 403
        # the genuine article is accepted (the carrier's own signature over our public URL)
        assert http.post(url, data=report, headers=good).status_code == 204
    statuses = events(runtime, "signer:sms:status")
    assert len(statuses) == before + 1
    assert statuses[-1]["data"]["status"] == "failed"
    denials = events(runtime, "api:access:denied")[denied_before:]
    assert len(denials) == 5
    assert all("X-Twilio-Signature" in d["data"]["reason"] for d in denials)
    driver.close()


def test_embedded_carrier_simulator_and_its_dev_page(tmp_path: Path, clock: OffsetClock) -> None:
    """The default (``sms_mode`` "simulator"): the runtime starts a carrier simulator, the
    development page lists its texts, and closing the runtime stops it."""
    port = free_port()
    rt = Runtime.build(
        Settings(
            data_dir=tmp_path / "embedded",
            port=port,
            public_url=f"http://127.0.0.1:{port}",
        ),
        clock=clock,
    )
    try:
        assert rt.sms is not None
        simulator = rt.sms.simulator
        assert simulator is not None
        with BackgroundServer(create_app(rt), port=port) as server:
            driver = _driver(rt, server)
            create_envelope(driver, auth={"auth_methods": ["sms-otp"], "phone": PHONE})
            browser, r = open_link(driver)
            with closing(browser):
                assert r.url.path == "/s/sms"
                code = _sms_code(simulator)
                listed = httpx.get(f"{server.url}/dev/sms.json").json()
                assert [m["to"] for m in listed] == [PHONE]
                assert code in listed[0]["body"]
                page = httpx.get(f"{server.url}/dev/sms")
                assert "DEVELOPMENT CARRIER SIMULATOR" in page.text
                assert code in page.text
                r = browser.post(f"{server.url}/s/sms", data={"code": code})
                assert r.url.path == "/s/consent"
            _reported(simulator, PHONE, "delivered")
            assert [e["data"]["status"] for e in events(rt, "signer:sms:status")] == ["delivered"]
            driver.close()
    finally:
        rt.close()
    with pytest.raises(RuntimeError, match="not running"):
        _ = simulator.base_url


def test_twilio_settings_are_checked_at_start(tmp_path: Path) -> None:
    def build(**sms: Any) -> None:
        settings = Settings(data_dir=tmp_path, sms_mode="twilio", **sms)
        sms_gateway(settings, SystemClock(), SystemRandom()).close()

    account = "AC" + "0" * 32
    with pytest.raises(ConfigurationError, match="TWILIO_ACCOUNT_SID"):
        build()
    with pytest.raises(ConfigurationError, match="needs the auth token"):
        build(twilio_account_sid=account, twilio_from_number="+15017122661")
    token_file = tmp_path / "twilio-token"
    token_file.write_text("secret-token\n")
    token_file.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600") as leaked:
        build(
            twilio_account_sid=account,
            twilio_auth_token_file=token_file,
            twilio_from_number="+15017122661",
        )
    assert "secret-token" not in str(leaked.value)
    token_file.chmod(0o600)
    with pytest.raises(ConfigurationError, match=r"E\.164"):
        build(twilio_account_sid=account, twilio_auth_token_file=token_file)
    with pytest.raises(ConfigurationError, match="account SID"):
        build(
            twilio_account_sid="not-a-sid",
            twilio_auth_token_file=token_file,
            twilio_from_number="+15017122661",
        )
    build(
        twilio_account_sid=account,
        twilio_auth_token_file=token_file,
        twilio_from_number="+15017122661",
    )
    with pytest.raises(ConfigurationError, match="sms_mode"):
        load_settings(sms_mode="carrier-pigeon")
    settings = Settings(sms_mode="twilio", twilio_auth_token="secret-token")
    assert "secret-token" not in repr(settings)
