"""The second-device channel (qr-device) over real HTTP: the signing page shows the QR image,
a cookie-less "phone" opens the link and confirms, the run passes with a signed assertion
(device hash, same_ip) and the signer can sign. Wrong, unknown, malformed, reused and
expired tokens get the "not valid" page and a `signer:device:refused` event, and change
nothing else. The token never reaches the ledger or the database."""

from __future__ import annotations

import base64
import json
from contextlib import closing

import httpx
from sqlalchemy import select

from sealwright.channels.qr import render_svg
from sealwright.cli.demo_driver import DemoDriver
from sealwright.clock import OffsetClock
from sealwright.services.runtime import Runtime
from sealwright.storage.models import ChannelVerification, VerificationAssertion
from sealwright.web.server import BackgroundServer
from sealwright.web.signer_device import device_channel
from tests.integration.helpers import events, new_client
from tests.integration.signer_support import create_envelope, email_code, open_link, sign

PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36"


def signed_in(driver: DemoDriver, base: str) -> httpx.Client:
    browser, _ = open_link(driver)
    browser.post(f"{base}/s/otp", data={"code": email_code(driver)}).raise_for_status()
    browser.post(f"{base}/s/consent", data={"agree": "yes"}).raise_for_status()
    return browser


def start(browser: httpx.Client, base: str) -> tuple[str, httpx.Response]:
    r = browser.post(f"{base}/s/channels/qr-device/start")
    assert r.status_code == 200, r.text
    return r.url.path.rsplit("/", 1)[1], r


def link(runtime: Runtime, run_id: str) -> str:
    """What the QR code encodes (derived again, as the image route does)."""
    with runtime.db.transaction() as session:
        row = session.get(ChannelVerification, run_id)
        assert row is not None
        return device_channel(runtime).url(row.id, row.nonce)


def status(browser: httpx.Client, base: str, run_id: str) -> str:
    return str(browser.get(f"{base}/s/channels/v/{run_id}/status").json()["status"])


def refusals(runtime: Runtime) -> list[str]:
    return [e["data"]["reason"] for e in events(runtime, "signer:device:refused")]


def test_the_phone_confirms_and_the_signer_can_sign(
    runtime: Runtime, server: BackgroundServer
) -> None:
    base = server.url
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(base, cid, secret, timeout=30)
    env = create_envelope(driver, auth={"verification_channels": ["qr-device"]})
    with (
        closing(signed_in(driver, base)) as browser,
        httpx.Client(timeout=30, headers={"User-Agent": PHONE_UA}) as phone,
    ):
        run_id, page = start(browser, base)
        assert f'src="/s/device-qr/{run_id}"' in page.text
        url = link(runtime, run_id)
        assert url.startswith(f"{runtime.settings.public_url}/s/device/{run_id}.")
        image = browser.get(f"{base}/s/device-qr/{run_id}")
        assert image.headers["content-type"] == "image/svg+xml"
        assert image.content == render_svg(url, scale=5)
        # The image is the signer's only: no cookie, no QR.
        assert httpx.get(f"{base}/s/device-qr/{run_id}").status_code != 200

        token = url.rsplit("/", 1)[1]
        wrong = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert phone.get(f"{base}/s/device/{wrong}").status_code == 404
        assert phone.post(f"{base}/s/device/{wrong}").status_code == 404
        assert phone.get(f"{base}/s/device/{'0' * 32}.{token[33:]}").status_code == 404
        assert phone.get(f"{base}/s/device/not-a-token").status_code == 404
        assert refusals(runtime) == ["wrong-token", "wrong-token", "unknown", "malformed"]
        assert status(browser, base, run_id) == "pending"  # nothing else changed

        shown = phone.get(url)
        assert shown.status_code == 200
        assert env["title"] in shown.text
        assert "A. L." in shown.text
        assert "ada@example.com" not in shown.text
        done = phone.post(url)
        assert done.status_code == 200
        assert 'id="device-done"' in done.text
        assert status(browser, base, run_id) == "passed"

        again = phone.post(url)  # a used token
        assert again.status_code == 404
        assert 'id="device-invalid"' in again.text
        assert refusals(runtime)[-1] == "run is passed"

        signed = sign(browser, base)
        assert "you have signed" in signed.text
    driver.wait_sealed(env["id"])

    [issued] = events(runtime, "system:assertion:issued")
    assert (issued["data"]["channel"], issued["data"]["result"]) == ("qr-device", "passed")
    with runtime.db.transaction() as session:
        compact = session.execute(select(VerificationAssertion.compact)).scalar_one()
        stored = session.get(ChannelVerification, run_id)
        assert stored is not None
        assert token not in json.dumps(stored.state) + json.dumps(stored.display)
    claims = json.loads(base64.urlsafe_b64decode(compact.split(".")[1] + "=="))
    details = claims["details"]
    assert details["mode"] == "second-device"
    assert details["same_ip"] is True  # both "devices" are this host here
    assert len(details["device"]) == 16
    assert token not in repr(events(runtime))
    driver.close()


def test_an_expired_link_is_refused_and_the_run_stays_as_it_was(
    runtime: Runtime, server: BackgroundServer, clock: OffsetClock
) -> None:
    base = server.url
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(base, cid, secret, timeout=30)
    create_envelope(driver, auth={"verification_channels": ["qr-device"]})
    with closing(signed_in(driver, base)) as browser:
        run_id, _ = start(browser, base)
        url = link(runtime, run_id)
        clock.advance(runtime.settings.qr_device_ttl + 1)
        with httpx.Client(timeout=30) as phone:
            assert phone.get(url).status_code == 404
            assert phone.post(url).status_code == 404
        # "expired" by the link's own check, or "run is expired" once the sweep got there
        assert len(refusals(runtime)) == 2
        assert set(refusals(runtime)) <= {"expired", "run is expired"}
        issued = events(runtime, "system:assertion:issued")
        assert all(e["data"]["result"] == "expired" for e in issued)  # never passed
        assert status(browser, base, run_id) in ("pending", "expired")  # the sweep's call
    driver.close()
