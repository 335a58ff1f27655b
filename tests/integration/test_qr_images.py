"""`sealwright qr verify IMAGE`: with the optional zxing-cpp decoder (extra `qr-images`),
a photo-like JPEG and a PNG rendered by segno are read and verified; an image without a
Sealwright code, or a tampered trust file, is refused with exit status 1."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageFilter

from sealwright.channels.qr import QrClaims, encode_qr, render_png
from sealwright.evidence.manifest_jws import b64url_encode
from sealwright.keys.signing import jwk_thumbprint

pytest.importorskip("zxingcpp")
SEALWRIGHT = str(Path(sys.executable).parent / "sealwright")
DOC = "ab" * 32


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEALWRIGHT, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SEALWRIGHT_DATABASE_URL": ""},
        check=False,
    )


@pytest.fixture(scope="module")
def trust_with_partner(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ed25519PrivateKey]:
    home = tmp_path_factory.mktemp("qr-images")
    trust = home / "trust.json"
    exported = run("--data-dir", str(home / "data"), "trust", "export", "-o", str(trust))
    assert exported.returncode == 0, exported.stderr
    partner = Ed25519PrivateKey.generate()
    doc = json.loads(trust.read_text())
    doc["qr_keys"]["keys"].append(
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(partner.public_key().public_bytes_raw()),
            "kid": jwk_thumbprint(partner.public_key()),
        }
    )
    trust.write_text(json.dumps(doc))
    return trust, partner


def code(key: Ed25519PrivateKey) -> str:
    now = int(time.time())
    claims = QrClaims(
        "partner.example/log", bytes.fromhex(DOC), b"\xcd" * 32, now, now + 600, os.urandom(16)
    )
    return encode_qr(claims, key)


def test_png_and_jpeg_images_are_decoded_and_verified(
    tmp_path: Path, trust_with_partner: tuple[Path, Ed25519PrivateKey]
) -> None:
    trust, partner = trust_with_partner
    text = code(partner)
    png = tmp_path / "code.png"
    png.write_bytes(render_png(text, scale=6))

    # A "photo": the code on a grey page, scaled, slightly rotated, blurred, saved as JPEG.
    with Image.open(io.BytesIO(render_png(text, scale=6))) as rendered:
        page = Image.new("RGB", (rendered.width + 200, rendered.height + 260), (226, 222, 214))
        page.paste(rendered.convert("RGB"), (100, 140))
    photo = page.rotate(4, expand=True, fillcolor=(226, 222, 214)).resize(
        (int(page.width * 0.8), int(page.height * 0.8))
    )
    jpeg = tmp_path / "photo.jpg"
    photo.filter(ImageFilter.GaussianBlur(0.8)).save(jpeg, "JPEG", quality=70)

    for image in (png, jpeg):
        result = run("qr", "verify", str(image), "--trust", str(trust), "--doc-hash", DOC, "--json")
        assert result.returncode == 0, (image.name, result.stdout + result.stderr)
        assert json.loads(result.stdout)["issuer"] == "partner.example/log"

    # The same image against a trust file without the partner's key: refused.
    doc = json.loads(trust.read_text())
    doc["qr_keys"]["keys"] = doc["qr_keys"]["keys"][:-1]
    own_only = tmp_path / "own-only.json"
    own_only.write_text(json.dumps(doc))
    refused = run("qr", "verify", str(jpeg), "--trust", str(own_only))
    assert refused.returncode == 1
    assert "unknown key id" in refused.stdout


def test_an_image_without_a_sealwright_code_is_refused(
    tmp_path: Path, trust_with_partner: tuple[Path, Ed25519PrivateKey]
) -> None:
    trust, _ = trust_with_partner
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    other = tmp_path / "url.png"
    other.write_bytes(render_png("https://example.com/not-a-sealwright-code"))
    for image in (blank, other):
        result = run("qr", "verify", str(image), "--trust", str(trust))
        assert result.returncode == 1
        assert "found 0 Sealwright QR codes" in result.stderr
