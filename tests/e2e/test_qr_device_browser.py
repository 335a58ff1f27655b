"""Second-device presence in real browsers (Debian's Chromium through Playwright): the
signing page shows a QR code; a second browser context -- the "phone", without the signer's
cookie -- opens the URL really scanned from a screenshot of that code (zxing-cpp) and
confirms; the signing page notices by itself and moves on, and the signer can sign."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sealwright.cli.demo_driver import DemoDriver
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.e2e.browsers import sign_in
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope

pytestmark = pytest.mark.e2e
zxingcpp = pytest.importorskip("zxingcpp")

PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari/537.36"


def test_the_phone_scans_the_code_and_the_signing_page_moves_on(
    runtime: Runtime, server: BackgroundServer, browser
) -> None:  # type: ignore[no-untyped-def]
    _, cid, secret = new_client(runtime, "qr-tenant")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    env = create_envelope(driver, auth={"verification_channels": ["qr-device"]})

    desk = browser.new_context()
    page = desk.new_page()
    sign_in(page, driver)
    page.goto(f"{server.url}/s/channels")
    page.click("#start-qr-device")
    page.wait_for_url("**/s/channels/v/*")
    qr = page.locator("#device-qr")
    qr.wait_for(state="visible")
    page.wait_for_function("document.getElementById('device-qr').naturalWidth > 0")
    assert page.locator("#run-status").get_attribute("data-status") == "pending"

    # Really scan it: a screenshot of the code, decoded like a phone camera would.
    with Image.open(io.BytesIO(qr.screenshot())) as shot:
        [found] = zxingcpp.read_barcodes(shot)
    url = str(found.text)
    assert url.startswith(f"{runtime.settings.public_url}/s/device/")

    phone = browser.new_context(user_agent=PHONE_UA, viewport={"width": 390, "height": 844})
    mobile = phone.new_page()
    mobile.goto(url)
    assert env["title"] in mobile.content()
    mobile.click("#device-confirm")
    mobile.locator("#device-done").wait_for()
    phone.close()

    # The signing page polls its status and moves on without anyone touching it.
    page.locator("#back-to-steps").wait_for(timeout=15_000)
    assert page.locator("#run-status").get_attribute("data-status") == "passed"
    page.click("#back-to-steps")
    page.click("#to-review")
    page.wait_for_url("**/s/review")
    page.fill("#signature_text", "Ada Lovelace")
    page.click("#sign")
    page.wait_for_url("**/s/done")
    desk.close()
    driver.wait_sealed(env["id"])

    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("qr-device", "passed")
    driver.close()
