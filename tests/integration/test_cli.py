"""The acceptance commands, run exactly as a user would: `sealwright demo`, `verify`,
`evidence export`, `trust export`, and `serve` printing a ready signing link."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.evidence.report import CHECK_NAMES
from sealwright.ledger.note import NoteVerifier
from sealwright.web.server import free_port

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALWRIGHT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    data = out / "data"
    result = run(
        "--data-dir", str(data), "demo", "--out", str(out), env={"SEALWRIGHT_DATABASE_URL": ""}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed and sealed" in result.stdout
    return out


def test_demo_then_verify_exits_zero(demo_out: Path) -> None:
    for name in ("sealed.pdf", "evidence.zip", "trust.json"):
        assert (demo_out / name).stat().st_size > 0
    result = run("verify", str(demo_out / "evidence.zip"), "--trust", str(demo_out / "trust.json"))
    assert result.returncode == 0, result.stdout
    assert "RESULT: VERIFIED" in result.stdout
    assert result.stdout.count("PASS") == len(CHECK_NAMES)  # every check, each passed
    as_json = run(
        "verify", str(demo_out / "evidence.zip"), "--trust", str(demo_out / "trust.json"), "--json"
    )
    report = json.loads(as_json.stdout)
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {"container", "pdf-signatures"}


def test_any_changed_byte_fails_verification(demo_out: Path, tmp_path: Path) -> None:
    original = (demo_out / "evidence.zip").read_bytes()
    # positions across the container: headers, manifest, events, PDF, central directory
    positions = sorted(
        {
            0,
            7,
            30,
            len(original) // 3,
            len(original) // 2,
            (2 * len(original)) // 3,
            len(original) - 30,
            len(original) - 1,
        }
    )
    for pos in positions:
        tampered = bytearray(original)
        tampered[pos] ^= 0x01
        path = tmp_path / f"t{pos}.zip"
        path.write_bytes(bytes(tampered))
        result = run("verify", str(path), "--trust", str(demo_out / "trust.json"))
        assert result.returncode == 1, pos
        assert "FAIL" in result.stdout, pos
        assert "RESULT: NOT VERIFIED" in result.stdout, pos


def test_verify_with_the_wrong_trust_fails(demo_out: Path, tmp_path: Path) -> None:
    trust = json.loads((demo_out / "trust.json").read_text())
    # an impostor's log key under the same origin name
    impostor = NoteVerifier.from_public_key(
        trust["log_origin"], Ed25519PrivateKey.generate().public_key()
    )
    wrong = tmp_path / "wrong-trust.json"
    wrong.write_text(json.dumps({**trust, "checkpoint_keys": [impostor.vkey]}))
    result = run("verify", str(demo_out / "evidence.zip"), "--trust", str(wrong))
    assert result.returncode == 1
    assert re.search(r"FAIL\s+checkpoint-signature", result.stdout)
    # a trust file for another log is refused with a clear message
    wrong.write_text(json.dumps({**trust, "log_origin": "someone.else/log"}))
    result = run("verify", str(demo_out / "evidence.zip"), "--trust", str(wrong))
    assert result.returncode != 0
    assert "someone.else/log" in result.stderr


def test_pdfsig_reports_the_demo_seal_valid(demo_out: Path) -> None:
    out = subprocess.run(
        ["pdfsig", str(demo_out / "sealed.pdf")], capture_output=True, text=True, check=False
    ).stdout
    assert out.count("Signature is Valid.") == out.count("Signature #") == 1
    assert "Total document signed" in out


def test_evidence_and_trust_export_from_the_data_dir(demo_out: Path, tmp_path: Path) -> None:
    data = demo_out / "data"
    trust = tmp_path / "trust.json"
    assert (
        run(
            "--data-dir",
            str(data),
            "trust",
            "export",
            "-o",
            str(trust),
            env={"SEALWRIGHT_DATABASE_URL": ""},
        ).returncode
        == 0
    )
    assert json.loads(trust.read_text()) == json.loads((demo_out / "trust.json").read_text())
    envelope_id = re.search(
        r"envelope ([0-9a-f]{32})",
        run("verify", str(demo_out / "evidence.zip"), "--trust", str(trust)).stdout,
    )
    assert envelope_id is not None
    bundle = tmp_path / "again.zip"
    result = run(
        "--data-dir",
        str(data),
        "evidence",
        "export",
        envelope_id.group(1),
        "-o",
        str(bundle),
        env={"SEALWRIGHT_DATABASE_URL": ""},
    )
    assert result.returncode == 0, result.stderr
    assert run("verify", str(bundle), "--trust", str(trust)).returncode == 0
    missing = run(
        "--data-dir",
        str(data),
        "evidence",
        "export",
        "0" * 32,
        "-o",
        str(tmp_path / "x.zip"),
        env={"SEALWRIGHT_DATABASE_URL": ""},
    )
    assert missing.returncode != 0
    assert "not found" in missing.stderr


def test_serve_prints_a_ready_signing_link(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SEALWRIGHT_DATA_DIR": str(tmp_path / "data"),
        "SEALWRIGHT_PORT": str(port),
        "SEALWRIGHT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SEALWRIGHT_DATABASE_URL": "",
    }
    proc = subprocess.Popen(
        [SEALWRIGHT, "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "API docs" in line:
                break
        text = "".join(lines)
        link = re.search(r"Demo signing link: (\S+)", text)
        assert link, text
        assert f"http://127.0.0.1:{port}/dev/mail" in text
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        page = httpx.get(link.group(1))
        assert page.status_code == 200
        assert "Continue" in page.text
        mails = httpx.get(f"http://127.0.0.1:{port}/dev/mail.json")
        deadline = time.monotonic() + 20
        while not mails.json() and time.monotonic() < deadline:
            time.sleep(0.2)
            mails = httpx.get(f"http://127.0.0.1:{port}/dev/mail.json")
        assert any("ada@example.com" in m["to"] for m in mails.json())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
