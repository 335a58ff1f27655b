"""What the risk engine remembers across a signer's ceremonies (D1, D5): the encrypted
motion template of each signature they signed with -- a later replay of the same drawing
raises the score and blocks signing, a fresh drawing by the same hand is similar and
signs -- and the fraud flag a reviewer's denial raises, which the next assessment of that
identity counts and sends to manual review."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sealwright.config import Settings
from sealwright.errors import DecryptionFailed
from sealwright.keys.aead import decrypt_bytes
from sealwright.services.channel_flow.review_queue import ReviewQueue
from sealwright.services.orchestrator.history import SignerHistory
from sealwright.services.runtime import Runtime
from sealwright.services.signer_auth.policy import signer_identity
from sealwright.simulators.carrier import CarrierSimulator
from sealwright.storage.models import Envelope, FraudFlag, SignatureTemplate
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events
from tests.integration.test_orchestrator_world import (
    BERLIN,
    PHONE,
    driver_for,
    orchestrated_settings,
    pass_sms,
    signed_in,
    start,
)
from tests.integration.test_orchestrator_world import carrier as carrier
from tests.unit.risk.test_motion import natural

RISK_BASED = {"risk_based": True, "phone": PHONE}
EMAIL = "ada@example.com"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, carrier: CarrierSimulator) -> Settings:
    return orchestrated_settings(tmp_path, database_url, carrier)


def _draw(browser: Any, base: str, strokes: Any) -> Any:
    return browser.post(
        f"{base}/s/sign",
        data={"signature_kind": "drawn", "signature_strokes": json.dumps(strokes)},
    )


def _motion(runtime: Runtime, envelope_id: str) -> dict[str, Any]:
    mine = [
        e["data"] for e in events(runtime, "system:risk:assessed") if e["envelope"] == envelope_id
    ]
    return dict(next(s for s in mine[-1]["signals"] if s["name"] == "signing-motion"))


def test_a_replayed_drawing_is_caught_and_a_fresh_one_is_similar(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = driver_for(runtime, server)
    base = server.url
    drawing = natural(3, seed=11)
    first = create(driver)
    with closing(signed_in(driver, base, BERLIN, EMAIL)) as browser:
        pass_sms(browser, base, carrier)
        assert "you have signed" in _draw(browser, base, drawing).text
    tenant = _tenant(runtime, first["id"])
    identity = signer_identity(tenant, EMAIL)
    with runtime.db.transaction() as session:
        [row] = session.execute(select(SignatureTemplate)).scalars().all()
        assert row.identity == identity
        assert b"points" not in row.ciphertext  # encrypted, not the template in clear
        with pytest.raises(DecryptionFailed):  # bound to its identity
            decrypt_bytes(row.ciphertext, keyring=runtime.keyring, aad=b"another identity")
        enrolled, _ = SignerHistory(runtime).templates(session, identity)
        assert enrolled is not None

    second = create(driver)  # the very same drawing again: a replay
    with closing(signed_in(driver, base, BERLIN, EMAIL)) as browser:
        pass_sms(browser, base, carrier, nth=2)
        assert _draw(browser, base, drawing).url.path == "/s/channels"
    replayed = _motion(runtime, second["id"])
    assert replayed["facts"]["replay"] is True
    assert replayed["contribution"] >= 50

    third = create(driver)  # the same hand, drawn anew: similar, not a replay
    with closing(signed_in(driver, base, BERLIN, EMAIL)) as browser:
        pass_sms(browser, base, carrier, nth=3)
        assert "you have signed" in _draw(browser, base, natural(3, seed=12)).text
    fresh = _motion(runtime, third["id"])
    assert fresh["facts"]["replay"] is False
    assert fresh["facts"]["similarity"] >= 0.5
    assert fresh["contribution"] == 0
    with runtime.db.transaction() as session:  # the refused replay left no template
        assert len(session.execute(select(SignatureTemplate)).scalars().all()) == 2
    driver.close()


def test_a_denied_review_flags_the_identity_for_its_next_ceremony(
    runtime: Runtime, server: BackgroundServer, carrier: CarrierSimulator
) -> None:
    driver = driver_for(runtime, server)
    base = server.url
    first = create(driver, channels=["manual-review"])
    tenant = _tenant(runtime, first["id"])
    with closing(signed_in(driver, base, BERLIN, EMAIL)) as browser:
        browser.get(f"{base}/s/review")
        pass_sms(browser, base, carrier)
        run = start(browser, base, "manual-review")
        with runtime.db.transaction() as session:
            ReviewQueue(runtime).decide(
                session,
                tenant,
                run,
                approve=False,
                reason="not the account holder",
                actor="operator:op1",
            )
    with runtime.db.transaction() as session:
        [flag] = session.execute(select(FraudFlag)).scalars().all()
        assert (flag.identity, flag.severity, flag.source) == (
            signer_identity(tenant, EMAIL),
            "high",
            "operator:op1",
        )

    second = create(driver)
    with closing(signed_in(driver, base, BERLIN, EMAIL)) as browser:
        browser.get(f"{base}/s/review")
    [assessed] = [
        e["data"] for e in events(runtime, "system:risk:assessed") if e["envelope"] == second["id"]
    ]
    fraud = next(s for s in assessed["signals"] if s["name"] == "fraud-flags")
    assert fraud["contribution"] == 50
    assert "manual-review" in assessed["decision"]["all_of"]
    driver.close()


def create(driver: Any, channels: list[str] | None = None) -> dict[str, Any]:
    from tests.integration.signer_support import create_envelope

    auth: dict[str, Any] = dict(RISK_BASED)
    if channels:
        auth["verification_channels"] = channels
    return create_envelope(driver, auth=auth)


def _tenant(runtime: Runtime, envelope_id: str) -> str:
    with runtime.db.transaction() as session:
        env = session.get(Envelope, envelope_id)
        assert env is not None
        return env.tenant_id
