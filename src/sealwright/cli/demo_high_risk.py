"""``sealwright demo --scenario high-risk``: one signer who must pass every out-of-band
channel before signing -- a phone callback, the signed-QR second device, a video liveness
challenge and a manual review -- over real HTTP against a local service with its
simulators (docs/channels.md).

The signer's side is driven like a browser would: the one-time link, the emailed code,
consent, then each channel's own page and routes. The outside world is simulated: the
carrier simulator places the call and "hears" the spoken PIN, a simulated phone opens the
second-device link that the signing page's QR code encodes, the simulated camera
(``simulators/camera.py``) records the asked actions, and a scripted reviewer approves the
review in the reviewers' queue. The evidence bundle then holds an assertion per channel,
which ``sealwright verify`` lists and checks.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from sealwright.cli.demo_driver import CODE, LINK, DemoDriver, DemoError, DemoResult
from sealwright.cli.demo_driver import ok_or_raise as _ok
from sealwright.services.demo import demo_pdf
from sealwright.services.runtime import Runtime

PHONE = "+447700900123"
SIGNER = ("Grace Hopper", "grace@example.com")
CHANNELS = ["phone-callback", "qr-device", "video", "manual-review"]
SPOKEN_PIN = re.compile(r"(\d(?:, \d){5,7})")
REVIEWER = "operator:demo-reviewer"


def run_local(data_dir: Path | None) -> tuple[DemoResult, bytes]:
    """The scenario against a fresh local service; (result, trust file)."""
    from sealwright.cli.demo_local import local_service
    from sealwright.services.evidence_export import trust_store

    with local_service(data_dir, sms_mode="simulator") as (rt, driver):
        return HighRiskScenario(rt, driver).run(), trust_store(rt).to_json()


class HighRiskScenario:
    def __init__(self, rt: Runtime, driver: DemoDriver) -> None:
        self.rt = rt
        self.driver = driver
        self.base = driver.base

    def run(self) -> DemoResult:
        env = self.create_envelope()
        name, email = SIGNER
        with httpx.Client(timeout=60, follow_redirects=True) as browser:
            _ok(browser.post(self.driver.wait_mail(email, LINK)))
            _ok(
                browser.post(
                    f"{self.base}/s/otp", data={"code": self.driver.wait_mail(email, CODE)}
                )
            )
            _ok(browser.post(f"{self.base}/s/consent", data={"agree": "yes"}))
            self.phone_callback(browser)
            self.second_device(browser)
            self.video(browser)
            self.manual_review(browser, env)
            signed = _ok(
                browser.post(
                    f"{self.base}/s/sign",
                    data={"signature_kind": "typed", "signature_text": name},
                )
            )
            if "you have signed" not in signed.text:
                raise DemoError("signing did not complete after every channel passed")
        sealed = self.driver.wait_sealed(env["id"])
        doc_id = sealed["documents"][0]["id"]
        pdf, bundle = self.driver.download(env["id"], doc_id)
        return DemoResult(env["id"], doc_id, pdf, bundle, (email,))

    def create_envelope(self) -> dict[str, Any]:
        api, headers = self.driver.api, {"Authorization": f"Bearer {self.driver.token()}"}
        name, email = SIGNER
        body = {
            "title": "Off-cycle payment authorisation (demo)",
            "document_class": "payroll",
            "transaction_value": 12_500,
            "recipients": [
                {
                    "name": name,
                    "email": email,
                    "phone": PHONE,
                    "verification_channels": CHANNELS,
                }
            ],
        }
        env: dict[str, Any] = _ok(api.post("/v1/envelopes", headers=headers, json=body)).json()
        doc = _ok(
            api.post(
                f"/v1/envelopes/{env['id']}/documents",
                params={"name": "payment-authorisation.pdf"},
                content=demo_pdf(),
                headers={**headers, "Content-Type": "application/pdf"},
            )
        ).json()
        field = {
            "document_id": doc["id"],
            "recipient_id": env["recipients"][0]["id"],
            "kind": "signature",
            "page": 1,
            "x": 72,
            "y": 100,
            "width": 200,
            "height": 50,
        }
        _ok(
            api.post(f"/v1/envelopes/{env['id']}/fields", headers=headers, json={"fields": [field]})
        )
        sent: dict[str, Any] = _ok(
            api.post(f"/v1/envelopes/{env['id']}/send", headers=headers)
        ).json()
        return sent

    # -- the channels ---------------------------------------------------------------------

    def phone_callback(self, browser: httpx.Client) -> None:
        """The carrier simulator rings the number on file and speaks the PIN; the signer
        types what they heard."""
        run = _run_of(_ok(browser.post(f"{self.base}/s/voice/start", data={"mode": "speak"})))
        carrier = self._carrier()
        spoken = _wait(
            lambda: next(
                (
                    re.sub(r"\D", "", m.group(1))
                    for call in carrier.voice.calls_to(PHONE)
                    for line in carrier.voice.heard(call.sid)
                    if (m := SPOKEN_PIN.search(line))
                ),
                None,
            ),
            "the callback to speak its PIN",
        )
        _ok(
            browser.post(
                f"{self.base}/s/channels/v/{run}/answer", data={"kind": "pin", "value": spoken}
            )
        )
        self._passed(browser, run, "phone-callback")

    def second_device(self, browser: httpx.Client) -> None:
        """The signing page shows a QR code; the simulated phone opens the link it encodes
        and confirms."""
        from sealwright.storage.models import ChannelVerification
        from sealwright.web.signer_device import device_channel

        run = _run_of(_ok(browser.post(f"{self.base}/s/channels/qr-device/start")))
        _ok(browser.get(f"{self.base}/s/device-qr/{run}"))  # the page loads its QR code
        with self.rt.db.transaction() as session:  # what a phone camera would read
            row = session.get(ChannelVerification, run)
            assert row is not None
            url = device_channel(self.rt).url(row.id, row.nonce)
        with httpx.Client(timeout=30, headers={"User-Agent": "DemoPhone/1.0"}) as phone:
            _ok(phone.get(url))
            _ok(phone.post(url))
        self._passed(browser, run, "qr-device")

    def video(self, browser: httpx.Client) -> None:
        """Consent, then the simulated camera performs the random challenge; upload in
        chunks and finish with SHA-256(video || nonce)."""
        from sealwright.simulators.camera import challenge_video

        run = _run_of(_ok(browser.post(f"{self.base}/s/channels/video/start")))
        display = _ok(browser.get(f"{self.base}/s/channels/v/{run}/status")).json()["display"]
        base = f"{self.base}/s/channels/v/{run}/video"
        _ok(browser.post(f"{base}/consent", data={"consent": display["consent_id"]}))
        video = challenge_video(display["actions"].split(","), seed=7)
        size = 256 * 1024
        for seq, at in enumerate(range(0, len(video), size)):
            _ok(
                browser.post(
                    f"{base}/chunks",
                    params={"seq": seq},
                    content=video[at : at + size],
                    headers={"Content-Type": "video/webm"},
                )
            )
        nonce = base64.urlsafe_b64decode(display["nonce"] + "=" * (-len(display["nonce"]) % 4))
        digest = hashlib.sha256(video + nonce).hexdigest()
        _ok(browser.post(f"{base}/finish", json={"sha256": digest}))
        self._passed(browser, run, "video")

    def manual_review(self, browser: httpx.Client, env: dict[str, Any]) -> None:
        """The signer asks for the review; a scripted reviewer approves it in the queue."""
        from sealwright.services.channel_flow.review_queue import ReviewQueue
        from sealwright.storage.models import Envelope

        run = _run_of(_ok(browser.post(f"{self.base}/s/channels/manual-review/start")))
        with self.rt.db.transaction() as session:
            envelope = session.get(Envelope, env["id"])
            assert envelope is not None
            ReviewQueue(self.rt).decide(
                session,
                envelope.tenant_id,
                run,
                approve=True,
                reason="scripted reviewer: phone, second device and video all passed",
                actor=REVIEWER,
            )
        self._passed(browser, run, "manual-review")

    # -- helpers --------------------------------------------------------------------------

    def _carrier(self) -> Any:
        simulator = self.rt.sms.simulator if self.rt.sms is not None else None
        if simulator is None:
            raise DemoError("the high-risk demo needs the embedded carrier simulator")
        return simulator

    def _passed(self, browser: httpx.Client, run: str, channel: str) -> None:
        status = _wait(
            lambda: (
                s
                if (
                    s := _ok(browser.get(f"{self.base}/s/channels/v/{run}/status")).json()["status"]
                )
                != "pending"
                else None
            ),
            f"the {channel} step to finish",
        )
        if status != "passed":
            raise DemoError(f"the {channel} step ended {status}")


def _run_of(response: httpx.Response) -> str:
    path = response.url.path
    if not path.startswith("/s/channels/v/"):
        raise DemoError(f"expected a verification page, got {path}")
    return path.rsplit("/", 1)[1]


def _wait(probe: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise DemoError(f"timed out waiting for {what}")
