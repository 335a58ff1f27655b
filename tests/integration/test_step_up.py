"""Step-up at the moment of signing (B6), over real HTTP on SQLite and PostgreSQL: a signer
whose freshest verification is older than the envelope's maximum age cannot sign until they
verify again; the signature event and the evidence bundle carry the verification times,
the offline verifier (library and `sealwright verify`) checks them, and fails on a tampered
time even when the manifest is re-signed with the real key."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock, parse_rfc3339, rfc3339
from sealwright.evidence.container import read_container, write_container
from sealwright.evidence.manifest_jws import Ed25519ManifestSigner
from sealwright.evidence.trust import TrustStore
from sealwright.evidence.verify import verify_bundle
from sealwright.ledger.canonical import canonicalize, parse_canonical
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import (
    bundle_events,
    create_envelope,
    email_code,
    open_link,
    sign,
)

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")


def test_a_stale_signer_must_verify_again_and_the_bundle_proves_it(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock, tmp_path: Path
) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    env = create_envelope(driver, max_age=120)
    assert env["max_auth_age_seconds"] == 120
    assert env["recipients"][0]["auth_methods"] == ["email-otp"]
    browser, _ = open_link(driver)
    with closing(browser):
        r = browser.post(f"{server.url}/s/otp", data={"code": email_code(driver)})
        assert r.url.path == "/s/consent"
        browser.post(f"{server.url}/s/consent", data={"agree": "yes"})
        assert browser.get(f"{server.url}/s/review").status_code == 200

        clock.advance(180)  # the verification is now older than the envelope allows
        r = sign(browser, server.url)
        assert r.status_code == 401
        assert "Verify again to sign" in r.text
        assert "step-up-email-otp" in r.text
        refused = events(runtime, "signer:step-up:required")
        assert len(refused) == 1
        assert "at most 120 s allowed" in refused[0]["data"]["reason"]
        assert events(runtime, "signer:recipient:signed") == []
        state = driver.api.get(
            f"/v1/envelopes/{env['id']}", headers={"Authorization": f"Bearer {driver.token()}"}
        ).json()
        assert state["recipients"][0]["status"] == "notified"

        # one fresh verification renews the set; the signer is sent back to the review
        r = browser.post(f"{server.url}/s/otp/resend")
        assert r.url.path == "/s/otp"
        r = browser.post(f"{server.url}/s/otp", data={"code": email_code(driver)})
        assert r.url.path == "/s/review"
        r = sign(browser, server.url)
        assert r.status_code == 200
        assert "you have signed" in r.text

    passes = events(runtime, "signer:auth:passed")
    assert [p["data"]["method"] for p in passes] == ["email-otp", "email-otp"]
    signed = events(runtime, "signer:recipient:signed")[0]["data"]
    assert signed["max_auth_age_seconds"] == 120
    [auth] = signed["authentication"]
    assert auth["method"] == "email-otp"
    assert auth["at"] == passes[1]["data"]["at"]  # the re-verification, not the first one
    assert 0 <= auth["age_seconds"] <= 120

    sealed = driver.wait_sealed(env["id"])
    _pdf, bundle = driver.download(env["id"], sealed["documents"][0]["id"])
    driver.close()
    trust = TrustStore.from_json(trust_store(runtime).to_json())
    report = verify_bundle(bundle, trust)
    assert report.ok, report.to_text()
    assert "1 signature(s)" in report.check("signer-authentication").detail
    in_bundle = [e for e in bundle_events(bundle) if e["tag"] == "signer:recipient:signed"]
    assert in_bundle[0]["data"]["authentication"] == [auth]

    # the command-line verifier on the exported bundle
    (tmp_path / "evidence.zip").write_bytes(bundle)
    (tmp_path / "trust.json").write_bytes(trust_store(runtime).to_json())
    out = subprocess.run(
        [
            SEALWRIGHT,
            "verify",
            str(tmp_path / "evidence.zip"),
            "--trust",
            str(tmp_path / "trust.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^PASS\s+signer-authentication\s+1 signature", out.stdout, re.M), out.stdout
    assert "RESULT: VERIFIED" in out.stdout

    # a verification time moved forward (to fake a fresh check) fails, even re-signed
    tampered = _resign_with_event_edit(runtime, bundle, _fresher_verification)
    report = verify_bundle(tampered, trust)
    assert not report.ok
    check = report.check("signer-authentication")
    assert not check.ok
    assert f"recipient {signed['recipient']}" in check.detail
    assert "matches no earlier signer:auth:passed" in check.detail


def _fresher_verification(event: dict[str, Any]) -> None:
    if event["tag"] != "signer:recipient:signed":
        return
    auth = event["data"]["authentication"][0]
    auth["at"] = rfc3339(parse_rfc3339(auth["at"]) + timedelta(seconds=5))
    auth["age_seconds"] = max(0, auth["age_seconds"] - 5)


def _resign_with_event_edit(
    runtime: Runtime, bundle: bytes, edit: Callable[[dict[str, Any]], None]
) -> bytes:
    """What a compromised exporter holding the manifest key can produce: edited events,
    file hashes fixed, manifest signed again. Only the ledger checks and this one catch it."""
    entries = dict(read_container(bundle))
    lines = []
    for line in entries["ledger/events.jsonl"].splitlines():
        record = parse_canonical(line)
        edit(record["event"])
        lines.append(canonicalize(record) + b"\n")
    entries["ledger/events.jsonl"] = b"".join(lines)
    manifest = parse_canonical(entries["manifest.json"])
    manifest["files"] = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in sorted(entries.items())
        if name not in ("manifest.json", "manifest.jws")
    }
    entries["manifest.json"] = canonicalize(manifest)
    signer = Ed25519ManifestSigner(
        runtime.evidence_keys.private_key_for_current(), runtime.evidence_keys.current.kid
    )
    entries["manifest.jws"] = signer.sign(entries["manifest.json"]).encode("ascii")
    return write_container(entries)


def test_a_session_that_never_verified_cannot_sign(
    runtime: Runtime, server: BackgroundServer
) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    env = create_envelope(driver)
    browser, r = open_link(driver)
    with closing(browser):
        assert r.url.path == "/s/otp"
        assert sign(browser, server.url).status_code == 403
        assert browser.get(f"{server.url}/s/review").status_code == 403
        assert browser.post(f"{server.url}/s/consent", data={"agree": "yes"}).status_code == 403
        # the consent page sends an unverified signer to the method still to pass
        assert browser.get(f"{server.url}/s/consent").url.path == "/s/otp"
    assert events(runtime, "signer:recipient:signed") == []
    assert events(runtime, "signer:consent:given") == []
    state = driver.api.get(
        f"/v1/envelopes/{env['id']}", headers={"Authorization": f"Bearer {driver.token()}"}
    ).json()
    assert state["recipients"][0]["status"] == "notified"
    driver.close()
    assert events(runtime, "signer:auth:passed") == []
