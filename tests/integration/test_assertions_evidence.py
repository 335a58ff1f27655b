"""Signed assertions end to end (issue 5, "common to every channel"): issued by the service
in the same transaction as their ledger event, stored append-only, exported in the
evidence bundle, listed and checked by the offline verifier -- and every tampering with
them (a changed byte, a swap between recipients or envelopes, an unknown key, a missing
ledger event) fails ``channel-assertions``, naming the assertion. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text

from sealwright.channels.assertions import verify_assertion
from sealwright.channels.port import Consent, Outcome
from sealwright.cli.demo_driver import DemoDriver
from sealwright.errors import NotFound, ValidationError
from sealwright.evidence.bundle import ASSERTION_JWKS_NAME
from sealwright.evidence.container import read_container, write_container
from sealwright.evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner
from sealwright.evidence.report import VerificationReport
from sealwright.evidence.trust import ManifestKey, TrustStore
from sealwright.evidence.verify import verify_bundle
from sealwright.ledger.canonical import canonicalize
from sealwright.services.assertions import AssertionService, IssuedAssertion
from sealwright.services.demo import DemoPeople
from sealwright.services.evidence_export import export_bundle, trust_store
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Recipient, VerificationAssertion
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")
CHECK = "channel-assertions"


def service(rt: Runtime) -> AssertionService:
    return AssertionService(clock=rt.clock, random=rt.random, keys=rt.channel_keys, audit=rt.audit)


def issue(rt: Runtime, envelope_id: str, recipient_id: str, channel: str) -> IssuedAssertion:
    with rt.db.transaction() as session:
        return service(rt).issue(
            session,
            envelope_id=envelope_id,
            recipient_id=recipient_id,
            channel=channel,
            result=Outcome.PASSED,
            nonce=rt.random.token_bytes(16),
            details={"attempts": 1, "attestation": "A"},
            consent=Consent("recording-v1", rt.clock.now()) if channel == "video" else None,
        )


def recipients(rt: Runtime, envelope_id: str) -> list[str]:
    with rt.db.transaction() as session:
        q = select(Recipient.id).where(Recipient.envelope_id == envelope_id)
        return sorted(session.execute(q.order_by(Recipient.routing_order)).scalars())


def resign(rt: Runtime, bundle: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """Change entries and sign the manifest again with the real manifest key: an insider
    holding that key, so that only the assertion check stands in the way."""
    entries = read_container(bundle)
    change(entries)
    manifest = json.loads(entries[MANIFEST_NAME])
    manifest["files"] = {
        n: hashlib.sha256(d).hexdigest()
        for n, d in sorted(entries.items())
        if n not in (MANIFEST_NAME, SIGNATURE_NAME)
    }
    raw = canonicalize(manifest)
    keys = rt.evidence_keys
    entries[MANIFEST_NAME] = raw
    signer = Ed25519ManifestSigner(keys.private_key_for_current(), keys.current.kid)
    entries[SIGNATURE_NAME] = signer.sign(raw).encode()
    return write_container(entries)


def only_assertions_fail(report: VerificationReport) -> str:
    failed = [c.name for c in report.failures()]
    assert failed == [CHECK], report.to_text()
    return report.check(CHECK).detail


def test_assertions_travel_in_the_bundle_and_every_tampering_fails(
    runtime: Runtime, server: BackgroundServer, tmp_path: Path
) -> None:
    rt = runtime
    _, cid, secret = new_client(rt, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    people = DemoPeople()
    try:
        env = driver.create_envelope(people)
        first, second = recipients(rt, env["id"])
        phone = issue(rt, env["id"], first, "phone-callback")
        video = issue(rt, env["id"], second, "video")
        other_env = driver.create_envelope(people)
        foreign = issue(rt, other_env["id"], recipients(rt, other_env["id"])[0], "qr")
        driver.sign_as(people.first_email, people.first_name, env, drawn=False)
        driver.sign_as(people.second_email, people.second_name, env, drawn=True)
        driver.wait_sealed(env["id"])
    finally:
        driver.close()
    bundle = export_bundle(rt, env["id"], actor="operator:test")
    trust = trust_store(rt)

    # -- logged, stored, exported and verified --------------------------------------------
    logged = [e for e in events(rt, "system:assertion:issued") if e["envelope"] == env["id"]]
    assert [e["data"]["assertion"] for e in logged] == [phone.id, video.id]
    for e, a in zip(logged, (phone, video), strict=True):
        assert e["data"]["sha256"] == hashlib.sha256(a.compact.encode()).hexdigest()
        assert set(e["data"]) == {
            "assertion",
            "channel",
            "result",
            "recipient",
            "subject",
            "sha256",
            "kid",
        }
        assert "example.com" not in json.dumps(e)  # no email, no details, no consent
    entries = read_container(bundle)
    assert entries["assertions/001-phone-callback.jws"] == phone.compact.encode()
    assert entries["assertions/002-video.jws"] == video.compact.encode()
    assert json.loads(entries[ASSERTION_JWKS_NAME]) == rt.channel_keys.assertions.public_jwks()
    assert "assertions/001-phone-callback.jws" in json.loads(entries[MANIFEST_NAME])["files"]
    _, claims = verify_assertion(video.compact, trust.assertion_key_bytes)
    assert claims.consent is not None
    assert claims.consent.text == "recording-v1"
    report = verify_bundle(bundle, trust)
    assert report.ok, report.to_text()
    assert "2 assertion(s)" in report.check(CHECK).detail
    assert [(a["channel"], a["id"], a["ok"]) for a in report.assertions] == [
        ("phone-callback", phone.id, True),
        ("video", video.id, True),
    ]

    # -- the CLI lists them (verify --json) from the exported trust file ------------------
    (tmp_path / "evidence.zip").write_bytes(bundle)
    (tmp_path / "trust.json").write_bytes(trust.to_json())
    result = subprocess.run(
        [
            SEALWRIGHT,
            "verify",
            str(tmp_path / "evidence.zip"),
            "--trust",
            str(tmp_path / "trust.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    listed = json.loads(result.stdout)["assertions"]
    assert [a["channel"] for a in listed] == ["phone-callback", "video"]

    # -- any changed byte of an assertion -------------------------------------------------
    name = "assertions/001-phone-callback.jws"
    for position in (0, len(phone.compact) // 2, len(phone.compact) - 2):

        def flip(entries: dict[str, bytes], at: int = position) -> None:
            raw = bytearray(entries[name])
            raw[at] = ord("A") if raw[at] != ord("A") else ord("B")
            entries[name] = bytes(raw)

        assert name in only_assertions_fail(verify_bundle(resign(rt, bundle, flip), trust))
        # Without the manifest key, the manifest's file hashes catch it as well.
        raw = bytearray(bundle)
        at = bundle.index(phone.compact.encode()) + position
        raw[at] = ord("A") if raw[at] != ord("A") else ord("B")
        tampered = verify_bundle(bytes(raw), trust)
        assert not tampered.ok

    # -- swapped between recipients: one recipient's assertion in the other's place --------
    def swap(entries: dict[str, bytes]) -> None:
        entries[name] = video.compact.encode()

    detail = only_assertions_fail(verify_bundle(resign(rt, bundle, swap), trust))
    assert "differs from its file name" in detail
    assert f"the ledger names assertion {phone.id}" in detail

    # -- one from another envelope ----------------------------------------------------------
    def smuggle(entries: dict[str, bytes]) -> None:
        entries["assertions/003-qr.jws"] = foreign.compact.encode()

    detail = only_assertions_fail(verify_bundle(resign(rt, bundle, smuggle), trust))
    assert f"assertions/003-qr.jws ({foreign.id})" in detail
    assert f"binds envelope {other_env['id']}" in detail
    assert "no system:assertion:issued event names it" in detail

    # -- one whose ledger event the bundle does not have ------------------------------------
    late = issue(rt, env["id"], first, "sms-otp")

    def add_late(entries: dict[str, bytes]) -> None:
        entries["assertions/003-sms-otp.jws"] = late.compact.encode()

    detail = only_assertions_fail(verify_bundle(resign(rt, bundle, add_late), trust))
    assert f"assertions/003-sms-otp.jws ({late.id}): no system:assertion:issued" in detail

    # -- one the ledger names, removed -------------------------------------------------------
    def remove(entries: dict[str, bytes]) -> None:
        del entries[name]
        entries["assertions/001-video.jws"] = entries.pop("assertions/002-video.jws")

    detail = only_assertions_fail(verify_bundle(resign(rt, bundle, remove), trust))
    assert (
        f"the ledger names assertion {phone.id} (phone-callback) but the bundle lacks it" in detail
    )

    # -- an unknown key, or a manifest key offered as an assertion key -----------------------
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    for keys in (
        (ManifestKey(kid=trust.assertion_keys[0].kid, public_key=stranger),),
        trust.manifest_keys,
        (),
    ):
        other_trust = dataclasses.replace(trust, assertion_keys=keys)
        detail = only_assertions_fail(verify_bundle(bundle, other_trust))
        assert name in detail or "pins no assertion keys" in detail
    # A trust file from before assertions existed does not pin their keys: said so.
    old = TrustStore.from_json(
        canonicalize(
            {k: v for k, v in json.loads(trust.to_json()).items() if k != "assertion_keys"}
        )
    )
    assert "pins no assertion keys" in only_assertions_fail(verify_bundle(bundle, old))


def test_issuing_refuses_bad_input_and_the_table_is_append_only(
    runtime: Runtime, server: BackgroundServer
) -> None:
    rt = runtime
    _, cid, secret = new_client(rt, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    try:
        env = driver.create_envelope(DemoPeople())
        other = driver.create_envelope(DemoPeople())
    finally:
        driver.close()
    mine, theirs = recipients(rt, env["id"])[0], recipients(rt, other["id"])[0]
    before = len(events(rt))
    with pytest.raises(NotFound):
        issue(rt, env["id"], theirs, "phone-callback")  # another envelope's recipient
    with pytest.raises(ValidationError):
        issue(rt, env["id"], mine, "Phone Callback")
    with rt.db.transaction() as session, pytest.raises(ValidationError):
        service(rt).issue(
            session,
            envelope_id=env["id"],
            recipient_id=mine,
            channel="qr",
            result=Outcome.PASSED,
            nonce=b"short",
        )
    assert len(events(rt)) == before  # nothing logged
    with rt.db.transaction() as session:
        assert session.execute(select(VerificationAssertion)).first() is None  # nothing stored
    issued = issue(rt, env["id"], mine, "phone-callback")
    with pytest.raises(Exception, match="append-only"), rt.db.engine.begin() as conn:
        conn.execute(text("UPDATE verification_assertions SET compact = 'x'"))
    with pytest.raises(Exception, match="append-only"), rt.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM verification_assertions"))
    with rt.db.transaction() as session:
        stored = AssertionService.for_envelope(session, env["id"])
        assert [(a.id, a.compact) for a in stored] == [(issued.id, issued.compact)]
