"""A real ceremony over HTTP ends in a sealed PDF whose certificate page carries the signer's
signed QR code: scanned from poppler's rendering of the downloaded PDF, it verifies with
the service's QR key, names the document as received (not the sealed bytes) and the
recipient's pseudonym, and lives `qr_certificate_ttl_days`."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import closing
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from sealwright.channels.pseudonym import recipient_pseudonym
from sealwright.channels.qr import decode_qr
from sealwright.cli.demo_driver import DemoDriver
from sealwright.services.runtime import Runtime
from sealwright.storage.models import Document, Envelope, Recipient
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign

zxingcpp = pytest.importorskip("zxingcpp")


def test_the_sealed_pdf_carries_a_verifiable_qr_for_the_signer(
    runtime: Runtime, server: BackgroundServer, tmp_path: Path
) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    base = server.url
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(base, cid, secret, timeout=60)
    env = create_envelope(driver)
    browser, _ = open_link(driver)
    with closing(browser):
        browser.post(f"{base}/s/otp", data={"code": email_code(driver)}).raise_for_status()
        browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
        assert "you have signed" in sign(browser, base).text
    driver.wait_sealed(env["id"])
    with runtime.db.transaction() as session:
        doc = session.query(Document).filter_by(envelope_id=env["id"]).one()
        recipient = session.query(Recipient).filter_by(envelope_id=env["id"]).one()
        tenant = session.get(Envelope, env["id"]).tenant_id  # type: ignore[union-attr]
        doc_id, original, rid = doc.id, doc.sha256, recipient.id
    pdf, _bundle = driver.download(env["id"], doc_id)
    driver.close()
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    last = len(PdfReader(BytesIO(pdf)).pages)
    subprocess.run(
        [pdftoppm, "-r", "150", "-f", "2", "-l", str(last), "-png", str(path), str(tmp_path / "p")],
        check=True,
        timeout=60,
    )
    texts = []
    for png in sorted(tmp_path.glob("p*.png")):
        with Image.open(png) as image:
            texts += [str(r.text) for r in zxingcpp.read_barcodes(image)]
    [text] = texts
    own = [k.public_key for k in runtime.channel_keys.qr.keys]
    verified = decode_qr(text, own, now=runtime.clock.now(), doc_hash=bytes.fromhex(original))
    claims = verified.claims
    pseudonym = recipient_pseudonym(runtime.channel_keys.pseudonym_key, tenant, rid)
    assert claims.signer_id_hash.hex() == pseudonym
    assert claims.issuer == runtime.settings.log_origin
    assert claims.exp - claims.iat == runtime.settings.qr_certificate_ttl_days * 86400
