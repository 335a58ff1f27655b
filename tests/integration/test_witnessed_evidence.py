"""Checkpoints cosigned by independent witnesses travel in the evidence bundle, and
`verify --witness … --min-witnesses K` requires them (issue #3, E3)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock
from sealwright.config import Settings
from sealwright.evidence.trust import TrustStore
from sealwright.evidence.verify import verify_bundle
from sealwright.jobs.handlers import build_worker
from sealwright.ledger.note import NoteVerifier
from sealwright.services.audit import AuditLog
from sealwright.services.checkpoint_job import KIND
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Job
from sealwright.web.app import create_app
from sealwright.web.server import BackgroundServer, free_port
from sealwright.witness.cosignature import CosignatureSigner
from sealwright.witness.server import create_witness_app
from sealwright.witness.service import Witness
from sealwright.witness.state import MemoryWitnessStore, configure_logs
from tests.integration.helpers import new_client


@pytest.fixture
def witnessed(settings: Settings, clock: OffsetClock) -> Iterator[tuple[Runtime, list[str]]]:
    signers = [
        CosignatureSigner(f"witness-{i}.example", Ed25519PrivateKey.generate(), clock=clock)
        for i in range(2)
    ]
    ports = [free_port() for _ in signers]
    settings.witnesses = [
        {"url": f"http://127.0.0.1:{port}", "vkey": s.vkey}
        for port, s in zip(ports, signers, strict=True)
    ]
    rt = Runtime.build(settings, clock=clock)
    log_vkey = NoteVerifier.from_public_key(
        rt.checkpoints.origin, rt.checkpoint_keys.current.public_key
    ).vkey
    servers = []
    for port, signer in zip(ports, signers, strict=True):
        store = MemoryWitnessStore()
        configure_logs(store, [log_vkey])
        servers.append(
            BackgroundServer(create_witness_app(Witness(signer=signer, store=store)), port=port)
        )
    for s in servers:
        s.start()
    yield rt, [s.vkey for s in signers]
    for s in servers:
        s.stop()
    rt.close()


def test_bundle_carries_a_quorum_of_cosignatures(witnessed) -> None:  # type: ignore[no-untyped-def]
    rt, witness_vkeys = witnessed
    with BackgroundServer(create_app(rt), port=rt.settings.port) as server:
        _, cid, secret = new_client(rt, "acme")
        driver = DemoDriver(server.url, cid, secret, timeout=60)
        result = driver.run()
        driver.close()
    trust = TrustStore.from_json(trust_store(rt).to_json())
    report = verify_bundle(result.evidence, trust.with_witnesses(witness_vkeys, 2))
    assert report.ok, report.to_text()
    detail = report.check("witness-cosignatures").detail
    assert detail.startswith("2 of 2 pinned witnesses cosigned")
    # an auditor pinning a witness that never saw this log gets a clear failure
    stranger = CosignatureSigner(
        "stranger.example", Ed25519PrivateKey.generate(), clock=rt.clock
    ).vkey
    report = verify_bundle(result.evidence, trust.with_witnesses([stranger], 1))
    assert not report.ok
    assert "at least 1 required" in report.check("witness-cosignatures").detail


def test_unreachable_witness_does_not_block_the_ceremony(
    settings: Settings, clock: OffsetClock
) -> None:
    settings.witnesses = [
        {
            "url": f"http://127.0.0.1:{free_port()}",
            "vkey": CosignatureSigner(
                "gone.example", Ed25519PrivateKey.generate(), clock=clock
            ).vkey,
        }
    ]
    rt = Runtime.build(settings, clock=clock)
    try:
        with BackgroundServer(create_app(rt), port=rt.settings.port) as server:
            _, cid, secret = new_client(rt, "acme")
            driver = DemoDriver(server.url, cid, secret, timeout=60)
            result = driver.run()
            driver.close()
        trust = TrustStore.from_json(trust_store(rt).to_json())
        assert verify_bundle(result.evidence, trust).ok
        quorum = trust.with_witnesses([w["vkey"] for w in settings.witnesses], 1)
        assert not verify_bundle(result.evidence, quorum).ok
    finally:
        rt.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_checkpoints_are_published_on_a_schedule(runtime: Runtime, clock: OffsetClock) -> None:

    worker = build_worker(runtime)  # schedules the next slot
    new_client(runtime, "acme")  # two ledger events
    with runtime.db.transaction() as session:
        assert runtime.checkpoints.latest(session) is None
        size = AuditLog.size(session)
    clock.advance(runtime.settings.checkpoint_interval + 1)
    assert worker.run_until_idle() >= 1
    with runtime.db.transaction() as session:
        latest = runtime.checkpoints.latest(session)
        assert latest is not None
        assert latest.size == size

        pending = session.execute(select(Job).where(Job.kind == KIND, Job.status == "pending"))
        assert len(pending.scalars().all()) == 1  # the next slot, once
