"""`sealwright demo --out D --scenario high-risk` (issue 5): one signer passes a phone
callback, the signed-QR second device, a video challenge and a manual review through the
simulators and a scripted reviewer; `sealwright verify` lists and checks the four
assertions, and a tampered assertion fails it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealwright.evidence.container import read_container, write_container
from tests.integration.test_cli import run


@pytest.fixture(scope="module")
def high_risk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("high-risk")
    result = run(
        "--data-dir",
        str(out / "data"),
        "demo",
        "--out",
        str(out),
        "--scenario",
        "high-risk",
        env={"SEALWRIGHT_DATABASE_URL": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed and sealed" in result.stdout
    return out


def test_the_bundle_lists_and_checks_every_channel(high_risk: Path) -> None:
    args = [str(high_risk / "evidence.zip"), "--trust", str(high_risk / "trust.json")]
    result = run("verify", *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assertions = [(a["channel"], a["result"], a["ok"]) for a in report["assertions"]]
    assert assertions == [
        ("phone-callback", "passed", True),
        ("qr-device", "passed", True),
        ("video", "passed", True),
        ("manual-review", "passed", True),
    ]


def test_a_tampered_assertion_fails_verification(high_risk: Path, tmp_path: Path) -> None:
    entries = read_container((high_risk / "evidence.zip").read_bytes())
    name = "assertions/003-video.jws"
    header, payload, signature = entries[name].split(b".")
    forged = b"AA" if signature[-2:] != b"AA" else b"BB"
    entries[name] = b".".join([header, payload, signature[:-2] + forged])
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(write_container(entries))
    result = run("verify", str(tampered), "--trust", str(high_risk / "trust.json"))
    assert result.returncode != 0
    assert "FAIL" in result.stdout
