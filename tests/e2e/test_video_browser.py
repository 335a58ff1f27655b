"""Video verification (C3) in a real browser: Debian's Chromium with a fake camera that
plays a synthetic capture (sealwright/simulators/camera.py) performing the challenge's actions.

The page's own static/video-capture.js does everything a signer's browser does:
getUserMedia, MediaRecorder (WebM), the chunked upload, SHA-256(video || nonce) with
WebCrypto and the finish; the server decodes the WebM, runs the built-in liveness check and
issues the assertion. The challenge is random, so the run is started first (over HTTP, as
the signer), the fake-camera file is written for its actions, and only then is Chromium
launched with that file and the signer's session cookie."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import httpx
import pytest

from sealwright.cli.demo_driver import DemoDriver
from sealwright.services.runtime import Runtime
from sealwright.simulators.camera import write_y4m
from sealwright.web.server import BackgroundServer
from tests.e2e.browsers import ARGS, CHROMIUM
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link

pytestmark = pytest.mark.e2e


def _signer_with_a_run(driver: DemoDriver, base: str) -> tuple[httpx.Cookies, str, str]:
    browser, _ = open_link(driver)
    with closing(browser):
        browser.post(f"{base}/s/otp", data={"code": email_code(driver)}).raise_for_status()
        browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
        r = browser.post(f"{base}/s/channels/video/start")
        assert r.status_code == 200, r.text
        run = r.url.path.rsplit("/", 1)[1]
        display = browser.get(f"{base}/s/channels/v/{run}/status").json()["display"]
        return browser.cookies, run, display["actions"]


def test_chromium_fake_camera_passes_the_video_challenge(
    runtime: Runtime, server: BackgroundServer, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is required at {CHROMIUM}")
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    create_envelope(driver, auth={"verification_channels": ["video"]})
    base = server.url
    cookies, run, actions = _signer_with_a_run(driver, base)
    camera = write_y4m(tmp_path / "camera.y4m", actions.split(","))
    flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS + flags)
        context = chromium.new_context()
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": f"{base}/s"} for c in cookies.jar]
        )
        page = context.new_page()
        page.goto(f"{base}/s/channels/v/{run}")
        page.check("#video-consent")
        page.click("#video-consent-submit")
        page.wait_for_selector("#video-start")
        shown = page.locator("#video-actions li").evaluate_all(
            "items => items.map(i => i.dataset.action)"
        )
        assert shown == actions.split(",")
        page.click("#video-start")
        try:
            page.wait_for_selector("#video-done", timeout=90_000)
        except Exception:
            message = page.locator("#video-message").text_content()
            raise AssertionError(f"capture did not pass: {message!r}") from None
        context.close()
        chromium.close()

    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("video", "passed")
    assert events(runtime, "signer:channel:attempt-failed") == []
    driver.close()


def test_a_camera_the_browser_refuses_ends_the_run_as_camera_denied(
    runtime: Runtime, server: BackgroundServer
) -> None:
    """No fake-UI flag: headless Chromium refuses the camera, as a signer pressing "Block"
    would. The page says so and reports the run as failed with reason camera-denied."""
    from playwright.sync_api import sync_playwright

    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    create_envelope(driver, auth={"verification_channels": ["video"]})
    base = server.url
    cookies, run, _ = _signer_with_a_run(driver, base)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*ARGS, "--use-fake-device-for-media-stream", "--deny-permission-prompts"],
        )
        context = chromium.new_context()
        context.add_cookies(
            [{"name": c.name, "value": c.value or "", "url": f"{base}/s"} for c in cookies.jar]
        )
        page = context.new_page()
        page.goto(f"{base}/s/channels/v/{run}")
        page.check("#video-consent")
        page.click("#video-consent-submit")
        page.click("#video-start")
        page.wait_for_selector("#video-camera-denied", timeout=30_000)
        context.close()
        chromium.close()
    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("video", "failed")
    driver.close()
