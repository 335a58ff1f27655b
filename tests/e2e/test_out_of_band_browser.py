"""Issue 5's acceptance in a real browser (Debian's Chromium through Playwright): one signer
passes the phone callback (carrier simulator), the signed-QR second-device step and the
video challenge through the real pages, then signs.

- phone callback: the simulator rings the number on file and speaks the PIN; the signer
  types what was said into the page;
- second device: the signing page's QR code is really scanned from a screenshot (zxing-cpp)
  and opened in a second browser context (the "phone"), which confirms;
- video: Chromium's fake camera (``--use-file-for-fake-video-capture``) plays a capture of
  the challenge's actions into the page's getUserMedia/MediaRecorder path. The challenge is
  random, so its run is started first over HTTP (as the signer), the camera file written
  for it, and Chromium launched with that file and the signer's session cookie.
"""

from __future__ import annotations

import io
import re
from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from sealwright.cli.demo_driver import DemoDriver
from sealwright.services.runtime import Runtime
from sealwright.simulators.camera import write_y4m
from sealwright.web.server import BackgroundServer
from tests.e2e.browsers import launch
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link

pytestmark = pytest.mark.e2e
zxingcpp = pytest.importorskip("zxingcpp")

PHONE = "+447700900177"
SAID_PIN = re.compile(r"(\d(?:, \d){5,7})")
CHANNELS = ["phone-callback", "qr-device", "video"]


def test_phone_callback_second_device_and_video_through_the_real_pages(
    runtime: Runtime, server: BackgroundServer, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    assert runtime.sms is not None
    carrier = runtime.sms.simulator
    assert carrier is not None
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    env = create_envelope(driver, auth={"verification_channels": CHANNELS, "phone": PHONE})
    base = server.url

    signer, _ = open_link(driver)
    with closing(signer):
        signer.post(f"{base}/s/otp", data={"code": email_code(driver)}).raise_for_status()
        signer.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
        video = signer.post(f"{base}/s/channels/video/start")
        video_run = video.url.path.rsplit("/", 1)[1]
        actions = signer.get(f"{base}/s/channels/v/{video_run}/status").json()["display"]
        cookies = [
            {"name": c.name, "value": c.value or "", "url": f"{base}/s"} for c in signer.cookies.jar
        ]
    camera = write_y4m(tmp_path / "camera.y4m", actions["actions"].split(","))

    with sync_playwright() as p:
        chromium = launch(
            p,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        )
        desk = chromium.new_context()
        desk.add_cookies(cookies)
        page = desk.new_page()

        # 1. phone callback, the PIN spoken on the call and typed here
        page.goto(f"{base}/s/channels")
        page.click("#start-phone-callback")
        page.wait_for_url("**/s/channels/v/*")
        assert PHONE not in page.content()
        assert carrier.wait_for(
            lambda: any(
                SAID_PIN.search(line)
                for call in carrier.voice.calls_to(PHONE)
                for line in carrier.voice.heard(call.sid)
            ),
            timeout=30,
        )
        said = next(
            m.group(1)
            for call in carrier.voice.calls_to(PHONE)
            for line in carrier.voice.heard(call.sid)
            if (m := SAID_PIN.search(line))
        )
        page.fill("#pin", re.sub(r"\D", "", said))
        page.click("#verify-pin")
        page.locator("#back-to-steps").wait_for(timeout=15_000)
        assert page.locator("#run-status").get_attribute("data-status") == "passed"

        # 2. the second device: scan the code on the page, confirm on the "phone"
        page.click("#back-to-steps")
        page.click("#start-qr-device")
        page.wait_for_url("**/s/channels/v/*")
        qr = page.locator("#device-qr")
        qr.wait_for(state="visible")
        page.wait_for_function("document.getElementById('device-qr').naturalWidth > 0")
        with Image.open(io.BytesIO(qr.screenshot())) as shot:
            [found] = zxingcpp.read_barcodes(shot)
        phone = chromium.new_context(viewport={"width": 390, "height": 844})
        mobile = phone.new_page()
        mobile.goto(str(found.text))
        mobile.click("#device-confirm")
        mobile.locator("#device-done").wait_for()
        phone.close()
        page.locator("#back-to-steps").wait_for(timeout=15_000)

        # 3. the video challenge, from the fake camera through the page's own capture code
        page.click("#back-to-steps")
        page.click("#continue-video")
        page.check("#video-consent")
        page.click("#video-consent-submit")
        page.wait_for_selector("#video-start")
        page.click("#video-start")
        try:
            page.wait_for_selector("#video-done", timeout=90_000)
        except Exception:
            message = page.locator("#video-message").text_content()
            raise AssertionError(f"capture did not pass: {message!r}") from None

        # every step done: sign
        page.goto(f"{base}/s/channels")
        page.click("#to-review")
        page.wait_for_url("**/s/review")
        page.fill("#signature_text", "Ada Lovelace")
        page.click("#sign")
        page.wait_for_url("**/s/done")
        desk.close()
        chromium.close()

    driver.wait_sealed(env["id"])
    issued = [
        (e["data"]["channel"], e["data"]["result"])
        for e in events(runtime, "system:assertion:issued")
    ]
    assert issued == [("phone-callback", "passed"), ("qr-device", "passed"), ("video", "passed")]
    [signed] = events(runtime, "signer:recipient:signed")
    assert sorted(v["channel"] for v in signed["data"]["verifications"]) == sorted(CHANNELS)
    driver.close()
