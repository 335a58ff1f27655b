"""`sealwright qr make` / `qr verify` run as a user would: a code signed by the service
verifies offline against the exported trust file; a partner's code verifies once the
partner's key is added to ``qr_keys``; anything else exits 1 with the reason."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sealwright.channels.qr import QrClaims, encode_qr
from sealwright.evidence.manifest_jws import b64url_encode
from sealwright.keys.signing import jwk_thumbprint

SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")
DOC = "ab" * 32
SIGNER = "cd" * 32


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALWRIGHT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SEALWRIGHT_DATABASE_URL": ""},
        check=False,
    )


def test_make_and_verify_offline_with_own_and_partner_keys(tmp_path: Path) -> None:
    data, trust = tmp_path / "data", tmp_path / "trust.json"
    exported = run("--data-dir", str(data), "trust", "export", "-o", str(trust))
    assert exported.returncode == 0, exported.stderr
    made = run(
        "--data-dir",
        str(data),
        "qr",
        "make",
        "--doc-hash",
        DOC,
        "--signer-id-hash",
        SIGNER,
        "--ttl",
        "600",
        "--svg",
        str(tmp_path / "qr.svg"),
        "--png",
        str(tmp_path / "qr.png"),
    )
    assert made.returncode == 0, made.stderr
    code = made.stdout.strip()
    assert code.startswith("SW1:")
    assert (tmp_path / "qr.svg").read_bytes().startswith(b"<?xml")
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")

    ok = run("qr", "verify", code, "--trust", str(trust), "--doc-hash", DOC, "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    result = json.loads(ok.stdout)
    assert (result["ok"], result["docHash"], result["signerIdHash"]) == (True, DOC, SIGNER)
    (tmp_path / "code.txt").write_text(code + "\n")
    assert run("qr", "verify", str(tmp_path / "code.txt"), "--trust", str(trust)).returncode == 0

    wrong_doc = run("qr", "verify", code, "--trust", str(trust), "--doc-hash", "ef" * 32)
    assert wrong_doc.returncode == 1
    assert "another document" in wrong_doc.stdout
    garbled = run("qr", "verify", code[:-5] + "aaaaa", "--trust", str(trust))
    assert garbled.returncode == 1
    assert "base45" in garbled.stdout

    # A partner organisation's code: refused until its key is in qr_keys.
    partner = Ed25519PrivateKey.generate()
    now = int(time.time())
    partner_code = encode_qr(
        QrClaims(
            "partner.example/log",
            bytes.fromhex(DOC),
            bytes.fromhex(SIGNER),
            now,
            now + 600,
            os.urandom(16),
        ),
        partner,
    )
    refused = run("qr", "verify", partner_code, "--trust", str(trust))
    assert refused.returncode == 1
    assert "unknown key id" in refused.stdout
    doc = json.loads(trust.read_text())
    doc["qr_keys"]["keys"].append(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(partner.public_key().public_bytes_raw()),
            "kid": jwk_thumbprint(partner.public_key()),
        }
    )
    with_partner = tmp_path / "trust-partner.json"
    with_partner.write_text(json.dumps(doc))
    accepted = run("qr", "verify", partner_code, "--trust", str(with_partner))
    assert accepted.returncode == 0, accepted.stdout
    assert "partner.example/log" in accepted.stdout

    expired = encode_qr(
        QrClaims(
            "x", bytes.fromhex(DOC), bytes.fromhex(SIGNER), now - 700, now - 100, os.urandom(16)
        ),
        partner,
    )
    late = run("qr", "verify", expired, "--trust", str(with_partner))
    assert late.returncode == 1
    assert "expired" in late.stdout
    image = run("qr", "verify", str(tmp_path / "qr.png"), "--trust", str(trust))
    if importlib.util.find_spec("zxingcpp") is None:
        assert image.returncode == 1
        assert "zxing-cpp" in image.stderr  # no QR image decoder installed: says so
    else:  # pragma: no cover - the optional decoder is installed
        assert image.returncode == 0, image.stdout + image.stderr
