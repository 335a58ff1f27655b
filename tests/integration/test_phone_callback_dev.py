"""Phone callback in the embedded default (``sms_mode = simulator``): the runtime's own
carrier simulator places the call, and the development page /dev/calls shows what the call
said and keys digits in as the phone would."""

from __future__ import annotations

import re
import time
from contextlib import closing

from sealwright.cli.demo_driver import DemoDriver
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign

PHONE = "+447700900124"


def test_the_dev_page_acts_as_the_phone(runtime: Runtime, server: BackgroundServer) -> None:
    assert runtime.sms is not None
    carrier = runtime.sms.simulator
    assert carrier is not None
    _, cid, secret = new_client(runtime, "acme")
    base = server.url
    with closing(DemoDriver(base, cid, secret, timeout=30)) as driver:
        create_envelope(driver, auth={"verification_channels": ["phone-callback"], "phone": PHONE})
        browser, _ = open_link(driver)
        with closing(browser):
            browser.post(f"{base}/s/otp", data={"code": email_code(driver)}).raise_for_status()
            browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
            r = browser.post(f"{base}/s/voice/start", data={"mode": "dtmf"})
            run = r.url.path.rsplit("/", 1)[1]
            shown = re.search(r'id="dtmf-pin"[^>]*>(\d{6})<', r.text)
            assert shown is not None
            assert carrier.wait_for(
                lambda: any(c.gather is not None for c in carrier.voice.calls_to(PHONE)),
                timeout=30,
            )
            [call] = carrier.voice.calls_to(PHONE)
            page = browser.get(f"{base}/dev/calls")
            assert "DEVELOPMENT CARRIER SIMULATOR" in page.text
            assert f'action="/dev/calls/{call.sid}/keys"' in page.text
            assert "enter the code shown on your screen" in page.text
            listed = browser.get(f"{base}/dev/calls.json").json()
            assert [(c["sid"], c["waiting_for_keys"]) for c in listed] == [(call.sid, True)]
            r = browser.post(f"{base}/dev/calls/{call.sid}/keys", data={"digits": shown.group(1)})
            assert r.url.path == "/dev/calls"
            deadline = time.monotonic() + 30
            while browser.get(f"{base}/s/channels/v/{run}/status").json()["status"] != "passed":
                assert time.monotonic() < deadline, "the keyed PIN did not pass the run"
                time.sleep(0.1)
            assert "you have signed" in sign(browser, base).text
            again = browser.post(f"{base}/dev/calls/{call.sid}/keys", data={"digits": "1"})
            assert again.status_code == 409  # the call is no longer waiting for keys
