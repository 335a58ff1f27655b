"""Out-of-band channels through the real pages (C): signing is blocked while a required
channel is unpassed; the SMS PIN channel (C2) bound to the document and recipient, with
its attempt limit and TTL; every final result a signed assertion in the evidence bundle
that the offline verifier checks; escalation into manual review; assistance (C7)."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sealwright.channels.port import (
    Challenge,
    ChannelResult,
    DetailValue,
    Outcome,
    SignerEvidence,
    VerificationRequest,
)
from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.evidence.verify import verify_bundle
from sealwright.services.channel_flow.flow import ChannelFlow, channels
from sealwright.services.channel_flow.review_queue import ReviewQueue
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime
from sealwright.simulators.carrier import CarrierSimulator, Failure
from sealwright.storage.models import ChannelVerification, Envelope, Recipient, VerificationPlan
from sealwright.web.server import BackgroundServer
from tests.integration.carrier_world import carrier_settings
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign

PHONE = "+447700900123"
PIN = re.compile(r"signing PIN is (\d{6})")


@pytest.fixture
def carrier() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(callback_delay=0.05) as simulator:
        yield simulator


@pytest.fixture
def settings(tmp_path: Path, database_url: str, carrier: CarrierSimulator) -> Settings:
    return carrier_settings(tmp_path, database_url, carrier, pin_ttl=120, pin_max_attempts=3)


def _driver(runtime: Runtime, server: BackgroundServer) -> DemoDriver:
    _, cid, secret = new_client(runtime, "acme")
    return DemoDriver(server.url, cid, secret, timeout=30)


def _signed_in(driver: DemoDriver, base: str, email: str = "ada@example.com") -> httpx.Client:
    """A signer who passed email OTP and consented."""
    browser, _ = open_link(driver, email)
    browser.post(f"{base}/s/otp", data={"code": email_code(driver, email)}).raise_for_status()
    browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
    return browser


def _pin(carrier: CarrierSimulator, nth: int = 1, phone: str = PHONE) -> str:
    assert carrier.wait_for(lambda: len(carrier.messages_to(phone)) >= nth, timeout=30)
    found = PIN.search(carrier.messages_to(phone)[nth - 1].body)
    assert found, "no PIN in the text"
    return found.group(1)


def _start(browser: httpx.Client, base: str, channel: str) -> str:
    r = browser.post(f"{base}/s/channels/{channel}/start")
    assert r.status_code == 200, r.text
    assert r.url.path.startswith("/s/channels/v/")
    return r.url.path.rsplit("/", 1)[1]


def _answer(browser: httpx.Client, base: str, run: str, value: str) -> httpx.Response:
    return browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": value})


def _status(browser: httpx.Client, base: str, run: str) -> str:
    r = browser.get(f"{base}/s/channels/v/{run}/status")
    assert r.status_code == 200
    return str(r.json()["status"])


def _bundle(driver: DemoDriver, envelope_id: str) -> bytes:
    r = driver.api.get(
        f"/v1/envelopes/{envelope_id}/evidence",
        headers={"Authorization": f"Bearer {driver.token()}"},
    )
    assert r.status_code == 200, r.text
    return r.content


def test_sms_pin_channel_blocks_signing_until_passed_and_ends_in_assertions(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = _driver(runtime, server)
    env = create_envelope(driver, auth={"verification_channels": ["sms-otp"], "phone": PHONE})
    base = server.url
    with closing(_signed_in(driver, base)) as browser:
        r = sign(browser, base)  # blocked: straight to the steps, recorded
        assert r.url.path == "/s/channels"
        assert 'id="start-sms-otp"' in r.text
        [blocked] = events(runtime, "signer:sign:blocked")
        assert blocked["data"]["channels"] == ["sms-otp"]
        review = browser.get(f"{base}/s/review")
        assert 'id="channels-pending"' in review.text

        run = _start(browser, base, "sms-otp")
        pin = _pin(carrier)
        wrong = str((int(pin) + 1) % 10**6).zfill(6)
        r = _answer(browser, base, run, wrong)
        assert r.status_code == 200
        assert _status(browser, base, run) == "pending"  # one attempt used, two left
        r = _answer(browser, base, run, pin)
        assert _status(browser, base, run) == "passed"
        # a passed run cannot be answered again: refused, recorded, nothing changes
        _answer(browser, base, run, pin)
        assert [e["data"]["reason"] for e in events(runtime, "signer:channel:refused")] == [
            "run is passed"
        ]
        steps = browser.get(f"{base}/s/channels")
        assert 'id="to-review"' in steps.text
        r = sign(browser, base)
        assert "you have signed" in r.text
    driver.wait_sealed(env["id"])

    [attempt] = events(runtime, "signer:channel:attempt-failed")
    assert attempt["data"]["details"]["reason"] == "wrong"
    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("sms-otp", "passed")
    signed = events(runtime, "signer:recipient:signed")[0]["data"]
    assert signed["verifications"] == [
        {"channel": "sms-otp", "assertion": issued["data"]["assertion"]}
    ]
    ledger = repr(events(runtime))
    assert PHONE not in ledger
    assert PHONE[1:] not in ledger
    assert not re.search(rf"(?<![0-9A-Za-z.]){pin}(?![0-9A-Za-z])", ledger)

    data = _bundle(driver, env["id"])
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "assertions/001-sms-otp.jws" in names
    report = verify_bundle(data, trust_store(runtime))
    assert report.ok, report
    driver.close()


def test_pin_limits_ttl_and_binding(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator, clock: OffsetClock
) -> None:
    """Wrong past the limit: locked; after the TTL: expired; one recipient's PIN in another
    recipient's run: just wrong. Each an event; none lets anyone sign."""
    driver = _driver(runtime, server)
    base = server.url
    other_phone = "+447700900456"
    create_envelope(driver, auth={"verification_channels": ["sms-otp"], "phone": PHONE})
    create_envelope(
        driver,
        email="bob@example.com",
        auth={"verification_channels": ["sms-otp"], "phone": other_phone},
    )
    with (
        closing(_signed_in(driver, base)) as ada,
        closing(_signed_in(driver, base, "bob@example.com")) as bob,
    ):
        run = _start(ada, base, "sms-otp")
        ada_pin = _pin(carrier)
        bob_run = _start(bob, base, "sms-otp")
        bob_pin = _pin(carrier, phone=other_phone)
        if ada_pin != bob_pin:  # 1 in 10^6 they coincide; the binding is what is tested
            _answer(bob, base, bob_run, ada_pin)
            assert _status(bob, base, bob_run) == "pending"
        # Ada cannot touch Bob's run at all
        assert ada.get(f"{base}/s/channels/v/{bob_run}/status").status_code == 404
        r = ada.post(
            f"{base}/s/channels/v/{bob_run}/answer", data={"kind": "pin", "value": bob_pin}
        )
        assert r.status_code == 403
        assert _status(bob, base, bob_run) == "pending"

        for _ in range(3):
            _answer(ada, base, run, "000000" if ada_pin != "000000" else "111111")
        assert _status(ada, base, run) == "locked"
        _answer(ada, base, run, ada_pin)  # the right PIN after the lock: refused
        assert _status(ada, base, run) == "locked"

        clock.advance(121)
        _answer(bob, base, bob_run, bob_pin)
        assert _status(bob, base, bob_run) == "expired"
        assert "/s/channels" in str(sign(bob, base).url)

        # a new run (new nonce, new PIN) is allowed
        fresh = _start(ada, base, "sms-otp")
        assert fresh != run
        assert _pin(carrier, nth=2).isdigit()
    results = sorted(
        (e["data"]["channel"], e["data"]["result"])
        for e in events(runtime, "system:assertion:issued")
    )
    assert results == [("sms-otp", "expired"), ("sms-otp", "locked")]
    refused = [e["data"]["reason"] for e in events(runtime, "signer:channel:refused")]
    assert refused == ["another recipient's run", "run is locked"]
    driver.close()


class Escalating:
    """A channel that cannot decide by itself (what a liveness check that is unsure does)."""

    name = "video"

    def start(self, request: VerificationRequest) -> Challenge:
        from datetime import timedelta

        return Challenge("video", request.at + timedelta(minutes=5), {}, {})

    def complete(
        self,
        request: VerificationRequest,
        state: dict[str, DetailValue],
        evidence: SignerEvidence,
        *,
        now: Any,
    ) -> ChannelResult:
        return ChannelResult(Outcome.ESCALATED, True, {"reason": "inconclusive"}, state)


def _recipient(runtime: Runtime, envelope_id: str) -> tuple[Envelope, Recipient]:
    with runtime.db.transaction() as session:
        env = session.get(Envelope, envelope_id)
        [r] = session.execute(
            select(Recipient).where(Recipient.envelope_id == envelope_id)
        ).scalars()
        assert env is not None
        session.expunge_all()
        return env, r


def test_escalation_goes_to_manual_review_and_a_denial_voids_the_envelope(
    runtime: Runtime, server: BackgroundServer
) -> None:
    channels(runtime)["video"] = Escalating()  # type: ignore[assignment]
    flow, queue = ChannelFlow(runtime), ReviewQueue(runtime)
    driver = _driver(runtime, server)
    env = create_envelope(driver, auth={"verification_channels": ["video"]})
    base = server.url
    with closing(_signed_in(driver, base)) as browser:
        run = _start(browser, base, "video")
        r = browser.post(f"{base}/s/channels/v/{run}/answer", data={"kind": "video", "value": "x"})
        assert r.status_code == 200, r.text
        assert _status(browser, base, run) == "escalated"
        steps = browser.get(f"{base}/s/channels").text
        assert 'data-channel="manual-review"' in steps  # now required too
        # a signer cannot decide their own review
        with runtime.db.transaction() as session:
            [review] = queue.pending(session, _tenant(runtime, env["id"]))
        r = browser.post(
            f"{base}/s/channels/v/{review.verification}/answer",
            data={"kind": "decision", "value": "approve:me"},
        )
        assert r.status_code == 403
        assert _status(browser, base, review.verification) == "pending"
        assert "/s/channels" in str(sign(browser, base).url)

    assert review.reasons == ["video: escalated (inconclusive)"]
    assert [e["channel"] for e in review.evidence] == ["video"]
    assert review.risk is None  # the sender chose the channels: no risk assessment
    tenant = _tenant(runtime, env["id"])
    with runtime.db.transaction() as session:  # as the orchestrator would keep it (D4)
        session.add(
            VerificationPlan(
                recipient_id=review.recipient,
                envelope_id=env["id"],
                state="fallback",
                plan={
                    "score": 35,
                    "tier": [21, 60],
                    "decision": {"explanation": ["transaction value over 10000: +30"]},
                    "fallbacks": [
                        {"from": "phone-callback", "to": "video", "rationale": "no answer"}
                    ],
                },
                created_at=review.since,
                updated_at=review.since,
            )
        )
    with runtime.db.transaction() as session:
        risk = queue.item(session, tenant, review.verification).risk
    assert risk == {
        "score": 35,
        "tier": [21, 60],
        "state": "fallback",
        "explanation": ["transaction value over 10000: +30"],
        "fallbacks": ["no answer"],
    }
    with runtime.db.transaction() as session:
        queue.decide(
            session,
            tenant,
            review.verification,
            approve=False,
            reason="face does not match",
            actor="operator:op1",
        )
    with runtime.db.transaction() as session:
        voided = session.get(Envelope, env["id"])
        assert voided is not None
        assert voided.status == "voided"
        assert "manual review denied" in (voided.status_reason or "")
        assert queue.pending(session, tenant) == []
    [decided] = events(runtime, "operator:review:decided")
    assert (decided["actor"], decided["data"]["decision"]) == ("operator:op1", "deny")
    results = [
        (e["data"]["channel"], e["data"]["result"], e["actor"])
        for e in events(runtime, "system:assertion:issued")
    ]
    _, recipient = _recipient(runtime, env["id"])
    assert results == [
        ("video", "escalated", f"recipient:{recipient.id}"),
        ("manual-review", "failed", "operator:op1"),
    ]
    assert flow is not None
    driver.close()


def _tenant(runtime: Runtime, envelope_id: str) -> str:
    with runtime.db.transaction() as session:
        env = session.get(Envelope, envelope_id)
        assert env is not None
        return env.tenant_id


def test_assistance_request_approved_by_a_reviewer_passes_the_channel(
    runtime: Runtime, server: BackgroundServer
) -> None:
    driver = _driver(runtime, server)
    env = create_envelope(driver, auth={"verification_channels": ["sms-otp"], "phone": PHONE})
    base = server.url
    tenant = _tenant(runtime, env["id"])
    with closing(_signed_in(driver, base)) as browser:
        r = browser.post(f"{base}/s/channels/sms-otp/assist")
        assert r.url.path == "/s/channels"
        assert "You asked for help with this step" in r.text
        browser.post(f"{base}/s/channels/sms-otp/assist")  # asking twice: one request
        with runtime.db.transaction() as session:
            [item] = ReviewQueue(runtime).pending(session, tenant)
            assert (item.kind, item.for_channel) == ("assisted", "sms-otp")
            ReviewQueue(runtime).decide(
                session,
                tenant,
                item.verification,
                approve=True,
                reason="verified by video call with an interpreter",
                actor="operator:op2",
            )
        steps = browser.get(f"{base}/s/channels")
        assert 'id="to-review"' in steps.text
        assert "you have signed" in sign(browser, base).text
    driver.wait_sealed(env["id"])
    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("assisted", "passed")
    [requested] = events(runtime, "signer:assistance:requested")
    assert requested["data"]["for_channel"] == "sms-otp"
    with runtime.db.transaction() as session:
        runs = session.execute(select(ChannelVerification)).scalars().all()
        assert [(r.channel, r.status) for r in runs] == [("assisted", "passed")]
    driver.close()


def test_an_undelivered_pin_text_ends_the_run_from_the_carriers_signed_report(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    """The carrier's signed "undelivered" report fails the run at once (reason
    undeliverable: what a risk plan falls back on), instead of waiting for the TTL; a
    signer cannot post such a report as an answer."""
    unreachable = "+447700900404"
    carrier.fail_number(unreachable, Failure.UNREACHABLE)
    driver = _driver(runtime, server)
    create_envelope(driver, auth={"verification_channels": ["sms-otp"], "phone": unreachable})
    base = server.url
    with closing(_signed_in(driver, base)) as browser:
        run = _start(browser, base, "sms-otp")
        forged = browser.post(
            f"{base}/s/channels/v/{run}/answer", data={"kind": "sms-status", "value": "failed"}
        )
        assert forged.status_code == 403
        assert _status(browser, base, run) == "pending"
        deadline = time.monotonic() + 30
        while _status(browser, base, run) == "pending" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _status(browser, base, run) == "failed"
    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("sms-otp", "failed")
    with runtime.db.transaction() as session:
        row = session.get(ChannelVerification, run)
        assert row is not None
        assert row.completed_by == "carrier"
    refused = [e["data"]["reason"] for e in events(runtime, "signer:channel:refused")]
    assert refused == ["carrier evidence from signer"]
    driver.close()
