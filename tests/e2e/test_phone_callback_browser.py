"""The phone-callback page in a real browser (Debian's Chromium through Playwright), with
the embedded carrier simulator as the phone: the signer switches to keypad mode, the page
shows the PIN and follows the call; once the phone keys the PIN in, the page moves on by
itself and the signer can sign. (A browser test: marked e2e.)"""

from __future__ import annotations

import pytest

from sealwright.cli.demo_driver import DemoDriver
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.e2e.browsers import sign_in
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope

pytestmark = pytest.mark.e2e

PHONE = "+447700900125"


def test_keypad_mode_page_follows_the_call_and_moves_on(
    runtime: Runtime, server: BackgroundServer, browser
) -> None:  # type: ignore[no-untyped-def]
    assert runtime.sms is not None
    carrier = runtime.sms.simulator
    assert carrier is not None
    carrier.voice.ring_delay = 1.0  # slow enough to watch the call line change
    _, cid, secret = new_client(runtime, "phone-tenant")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    env = create_envelope(
        driver, auth={"verification_channels": ["phone-callback"], "phone": PHONE}
    )
    desk = browser.new_context()
    page = desk.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, driver)
    page.goto(f"{server.url}/s/channels")
    page.click("#start-phone-callback")
    page.wait_for_url("**/s/channels/v/*")
    assert "+44•••25" in page.content()
    page.click("#mode-dtmf")  # rather key the PIN in: a new call, the PIN shown here
    page.locator("#dtmf-pin").wait_for()
    pin = page.locator("#dtmf-pin").inner_text().strip()
    assert len(pin) == 6

    # The "Call:" line follows the carrier's reports without a reload.
    page.locator('#call-progress[data-call="in-progress"]').wait_for(timeout=15_000)
    assert page.locator("#call-progress strong").inner_text() == "in-progress"
    assert carrier.wait_for(
        lambda: any(c.gather is not None for c in carrier.voice.calls_to(PHONE)), timeout=15
    )
    calls = carrier.voice.calls_to(PHONE)
    assert len(calls) == 2  # the speak-mode call, superseded, and the keypad one
    carrier.voice.press(calls[-1].sid, pin)

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
    assert not [e for e in errors if "Content Security Policy" in e]
    results = [
        (e["data"]["channel"], e["data"]["result"])
        for e in events(runtime, "system:assertion:issued")
    ]
    assert results == [("phone-callback", "passed")]
    driver.close()
