"""The risk orchestrator (D4) through the real pages and the real carrier simulator, on
SQLite and PostgreSQL: a signer who moves to another country mid-session is stepped up
before signing, and the bundle says why; a bot-like drawn signature raises the score and
blocks signing, a natural one from the same signer does not; recipients that are not
risk-based are left alone; observations never keep an address in clear."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

from sealwright.config import Settings
from sealwright.services.runtime import Runtime
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.storage.models import SignerObservation, VerificationPlan
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events
from tests.integration.signer_support import create_envelope, sign
from tests.integration.test_orchestrator_world import (
    BERLIN,
    PHONE,
    SYDNEY,
    assert_no_location_in_clear,
    driver_for,
    evidence,
    orchestrated_settings,
    pass_callback,
    pass_sms,
    signed_in,
    tagged,
)
from tests.integration.test_orchestrator_world import carrier as carrier
from tests.unit.risk.test_motion import constant_speed_bot, natural

RISK_BASED = {"risk_based": True, "phone": PHONE}


@pytest.fixture
def settings(tmp_path: Path, database_url: str, carrier: CarrierSimulator) -> Settings:
    return orchestrated_settings(tmp_path, database_url, carrier)


def test_a_country_change_mid_session_steps_up_before_signing(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = driver_for(runtime, server)
    env = create_envelope(driver, auth=RISK_BASED)
    assert env["recipients"][0]["risk_based"] is True
    base = server.url
    with closing(signed_in(driver, base, BERLIN, "ada@example.com")) as browser:
        review = browser.get(f"{base}/s/review")  # from Berlin: low risk, an SMS PIN
        assert 'id="channels-pending"' in review.text
        [created] = events(runtime, "system:plan:created")
        assert created["data"]["required"] == ["sms-otp"]
        assert created["data"]["noted_methods"] == ["email-otp"]
        pass_sms(browser, base, carrier)
        assert browser.get(f"{base}/s/channels").status_code == 200
        assert events(runtime, "system:plan:stepped-up") == []

        browser.headers["X-Forwarded-For"] = SYDNEY  # minutes later, from Australia
        page = browser.get(f"{base}/s/review")
        assert 'id="channels-pending"' in page.text
        [stepped] = events(runtime, "system:plan:stepped-up")
        assert stepped["data"]["old_tier"] == [0, 20]
        assert stepped["data"]["new_tier"] == [21, 60]
        assert stepped["data"]["changed"] == ["country", "ip"]
        assert stepped["data"]["added"] == ["phone-callback"]

        r = sign(browser, base)  # blocked: the new tier's channel first
        assert r.url.path == "/s/channels"
        assert 'id="start-phone-callback"' in r.text
        [blocked] = events(runtime, "signer:sign:blocked")
        assert blocked["data"]["channels"] == ["phone-callback"]

        pass_callback(browser, base, carrier)
        r = sign(browser, base)
        assert "you have signed" in r.text
    driver.wait_sealed(env["id"])

    found = evidence(driver, runtime, env["id"])
    assessed = tagged(found, "system:risk:assessed")
    first, moved = assessed[0]["data"], assessed[1]["data"]
    assert first["score"] < 21 <= moved["score"]
    assert moved["trigger"] == "changed:country,ip"
    travel = next(s for s in moved["signals"] if s["name"] == "impossible-travel")
    assert travel["contribution"] >= 35
    assert "country changed from DE to AU" in travel["explanation"]
    assert moved["decision"]["all_of"] == ["email-otp", "phone-callback"]
    assert len(moved["assessment_sha256"]) == 64
    assert moved["policy_hash"] == runtime.risk_policy.hash
    assert [e["tag"] for e in found].index("system:plan:stepped-up") < [
        e["tag"] for e in found
    ].index("signer:recipient:signed")
    signed = tagged(found, "signer:recipient:signed")[0]["data"]
    assert {v["channel"] for v in signed["verifications"]} == {"sms-otp", "phone-callback"}
    assert_no_location_in_clear(runtime)
    driver.close()


def test_observations_keep_no_address_in_clear(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = driver_for(runtime, server)
    create_envelope(driver, auth=RISK_BASED)
    base = server.url
    with closing(signed_in(driver, base, BERLIN, "ada@example.com")) as browser:
        browser.get(f"{base}/s/review")
        browser.get(f"{base}/s/review")  # nothing changed: no second observation
        browser.headers["X-Forwarded-For"] = SYDNEY
        browser.get(f"{base}/s/channels")
        device = browser.cookies.get("sw_device")
    with runtime.db.transaction() as session:
        rows = list(session.execute(select(SignerObservation)).scalars())
        stored = [
            {c: getattr(r, c) for c in ("ip_ref", "country", "lat", "lon", "device_id")}
            for r in rows
        ]
        plans = [p.plan for p in session.execute(select(VerificationPlan)).scalars()]
    assert [s["country"] for s in stored] == ["DE", "AU"]
    assert stored[0]["lat"] == 52.5  # rounded to 0.1 degree
    assert {s["device_id"] for s in stored} == {device}
    assert all(len(s["ip_ref"]) == 64 for s in stored)
    assert stored[0]["ip_ref"] != stored[1]["ip_ref"]
    text = json.dumps(stored, default=str) + json.dumps(plans)
    assert BERLIN not in text
    assert SYDNEY not in text
    assert_no_location_in_clear(runtime)
    driver.close()


def _draw(browser: object, base: str, strokes: object) -> object:
    return browser.post(  # type: ignore[attr-defined]
        f"{base}/s/sign",
        data={"signature_kind": "drawn", "signature_strokes": json.dumps(strokes)},
    )


def test_a_bot_like_signature_raises_the_score_and_a_natural_one_does_not(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = driver_for(runtime, server)
    base = server.url
    first = create_envelope(driver, auth=RISK_BASED)
    with closing(signed_in(driver, base, BERLIN, "ada@example.com")) as browser:
        browser.get(f"{base}/s/review")
        pass_sms(browser, base, carrier)
        r = _draw(browser, base, constant_speed_bot(3))
        assert r.url.path == "/s/channels"  # type: ignore[attr-defined]
        device = browser.cookies.get("sw_device")
    bot = [e["data"] for e in events(runtime, "system:risk:assessed")][-1]
    assert bot["trigger"] == "changed:signature"
    motion = next(s for s in bot["signals"] if s["name"] == "signing-motion")
    assert motion["contribution"] >= 40
    [stepped] = events(runtime, "system:plan:stepped-up")
    assert "phone-callback" in stepped["data"]["added"]
    assert "manual-review" in stepped["data"]["added"]
    blocked = events(runtime, "signer:sign:blocked")
    assert blocked[-1]["data"]["channels"] == ["phone-callback", "manual-review"]

    # the same signer, the same device, another envelope: a natural drawing signs
    second = create_envelope(driver, auth=RISK_BASED)
    with closing(signed_in(driver, base, BERLIN, "ada@example.com")) as browser:
        browser.cookies.set("sw_device", device or "", domain="127.0.0.1", path="/s")
        browser.get(f"{base}/s/review")
        pass_sms(browser, base, carrier, nth=2)
        r = _draw(browser, base, natural(3, seed=11))
        assert "you have signed" in r.text  # type: ignore[attr-defined]
    mine = [
        e["data"] for e in events(runtime, "system:risk:assessed") if e["envelope"] == second["id"]
    ]
    assert mine[-1]["trigger"] == "changed:signature"
    motion = next(s for s in mine[-1]["signals"] if s["name"] == "signing-motion")
    assert motion["contribution"] == 0
    assert mine[-1]["score"] <= mine[0]["score"] < bot["score"]
    stepped_again = events(runtime, "system:plan:stepped-up")
    assert [e for e in stepped_again if e["envelope"] == second["id"]] == []
    assert first["id"] != second["id"]
    driver.close()


def test_recipients_that_are_not_risk_based_are_left_alone(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = driver_for(runtime, server)
    create_envelope(driver)
    base = server.url
    with closing(signed_in(driver, base, BERLIN, "ada@example.com")) as browser:
        browser.headers["X-Forwarded-For"] = SYDNEY
        browser.get(f"{base}/s/review")
        assert "you have signed" in sign(browser, base).text
    assert events(runtime, "system:risk:assessed") == []
    with runtime.db.transaction() as session:
        assert session.execute(select(SignerObservation)).first() is None
    driver.close()


def _peer(peer: str, forwarded: str | None, proxies: list[str]) -> str:
    from types import SimpleNamespace

    from starlette.requests import Request

    from sealwright.web.signer_pages import client_ip

    rt = SimpleNamespace(settings=Settings(trusted_proxies=proxies))
    headers = [] if forwarded is None else [(b"x-forwarded-for", forwarded.encode())]
    scope = {
        "type": "http",
        "client": (peer, 50000),
        "headers": headers,
        "app": SimpleNamespace(state=SimpleNamespace(runtime=rt)),
    }
    return client_ip(Request(scope))


def test_forwarded_for_is_trusted_only_from_configured_proxies() -> None:
    assert _peer("127.0.0.1", SYDNEY, []) == "127.0.0.1"  # the default: never trusted
    assert _peer("203.0.113.9", SYDNEY, ["127.0.0.1/32"]) == "203.0.113.9"
    assert _peer("127.0.0.1", SYDNEY, ["127.0.0.1/32"]) == SYDNEY
    # the right-most hop that is not a proxy; what the client itself claims is ignored
    chain = f"{BERLIN}, {SYDNEY}, 10.0.0.5"
    assert _peer("127.0.0.1", chain, ["127.0.0.1/32", "10.0.0.0/8"]) == SYDNEY
    assert _peer("127.0.0.1", "not-an-ip", ["127.0.0.1/32"]) == "127.0.0.1"
    assert _peer("127.0.0.1", None, ["127.0.0.1/32"]) == "127.0.0.1"
