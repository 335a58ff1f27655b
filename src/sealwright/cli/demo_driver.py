"""Drives a complete two-signer ceremony over HTTP, exactly as an integrator and two signers
would: OAuth token → envelope → document → fields → send; then each signer reads the mail,
opens the one-time link, enters the emailed code, consents, views, signs. Used by
``sealwright demo`` and by the integration tests."""

from __future__ import annotations

import math
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sealwright.services.demo import SIGNER_BOXES, DemoPeople, demo_pdf

LINK = re.compile(r"https?://\S+/sign/[A-Za-z0-9_-]+")
CODE = re.compile(r"verification code is (\d{6})")


class DemoError(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoResult:
    envelope_id: str
    document_id: str
    sealed_pdf: bytes
    evidence: bytes
    signers: tuple[str, ...]


class DemoDriver:
    def __init__(
        self, base_url: str, client_id: str, client_secret: str, *, timeout: float = 90.0
    ) -> None:
        self.base = base_url.rstrip("/")
        self.auth = (client_id, client_secret)
        self.timeout = timeout
        self.api = httpx.Client(base_url=self.base, timeout=30)
        self._seen_mail: set[str] = set()

    def close(self) -> None:
        self.api.close()

    # -- integrator ----------------------------------------------------------------------

    def token(self) -> str:
        r = self.api.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=self.auth)
        ok_or_raise(r)
        return str(r.json()["access_token"])

    def create_envelope(self, people: DemoPeople) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token()}"}
        env = ok_or_raise(
            self.api.post(
                "/v1/envelopes",
                headers={**headers, "Idempotency-Key": _key()},
                json={
                    "title": "Mutual NDA (demo)",
                    "message": "Please review and sign.",
                    "recipients": [
                        {
                            "name": people.first_name,
                            "email": people.first_email,
                            "role": "signer",
                            "routing_order": 1,
                        },
                        {
                            "name": people.second_name,
                            "email": people.second_email,
                            "role": "signer",
                            "routing_order": 2,
                        },
                    ],
                },
            )
        ).json()
        doc = ok_or_raise(
            self.api.post(
                f"/v1/envelopes/{env['id']}/documents",
                params={"name": "mutual-nda.pdf"},
                content=demo_pdf(),
                headers={**headers, "Content-Type": "application/pdf", "Idempotency-Key": _key()},
            )
        ).json()
        fields = []
        for recipient, boxes in zip(env["recipients"], SIGNER_BOXES, strict=True):
            for kind, (x, y, w, h) in boxes.items():
                fields.append(
                    {
                        "document_id": doc["id"],
                        "recipient_id": recipient["id"],
                        "kind": kind,
                        "page": 1,
                        "x": x,
                        "y": y,
                        "width": w,
                        "height": h,
                        "label": "Company" if kind == "text" else kind.title(),
                    }
                )
        ok_or_raise(
            self.api.post(
                f"/v1/envelopes/{env['id']}/fields", json={"fields": fields}, headers=headers
            )
        )
        sent: dict[str, Any] = ok_or_raise(
            self.api.post(f"/v1/envelopes/{env['id']}/send", headers=headers)
        ).json()
        return sent

    def wait_sealed(self, envelope_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            env: dict[str, Any] = ok_or_raise(
                self.api.get(
                    f"/v1/envelopes/{envelope_id}",
                    headers={"Authorization": f"Bearer {self.token()}"},
                )
            ).json()
            if env["seal"]["status"] == "sealed":
                return env
            if env["seal"]["status"] == "failed":
                raise DemoError(f"sealing failed: {env['seal']['error']}")
            time.sleep(0.3)
        raise DemoError("the envelope was not sealed in time")

    def download(self, envelope_id: str, document_id: str) -> tuple[bytes, bytes]:
        headers = {"Authorization": f"Bearer {self.token()}"}
        pdf = ok_or_raise(
            self.api.get(
                f"/v1/envelopes/{envelope_id}/documents/{document_id}/sealed", headers=headers
            )
        ).content
        bundle = ok_or_raise(
            self.api.get(f"/v1/envelopes/{envelope_id}/evidence", headers=headers)
        ).content
        return pdf, bundle

    # -- signer --------------------------------------------------------------------------

    def wait_mail(self, to: str, pattern: re.Pattern[str]) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for mail in ok_or_raise(self.api.get("/dev/mail.json")).json():
                if mail["id"] in self._seen_mail or to not in mail["to"]:
                    continue
                text = ok_or_raise(self.api.get(f"/dev/mail/{mail['id']}/text")).text
                match = pattern.search(text)
                if match:
                    self._seen_mail.add(mail["id"])
                    return match.group(1) if match.groups() else match.group(0)
            time.sleep(0.2)
        raise DemoError(f"no mail for {to} matching {pattern.pattern!r}")

    def sign_as(self, email: str, name: str, env: dict[str, Any], *, drawn: bool) -> None:
        link = self.wait_mail(email, LINK)
        recipient = next(r for r in env["recipients"] if r["email"] == email)
        with httpx.Client(timeout=30, follow_redirects=True) as browser:
            ok_or_raise(browser.get(link))
            ok_or_raise(browser.post(link))
            code = self.wait_mail(email, CODE)
            ok_or_raise(browser.post(f"{self.base}/s/otp", data={"code": code}))
            ok_or_raise(browser.post(f"{self.base}/s/consent", data={"agree": "yes"}))
            ok_or_raise(browser.get(f"{self.base}/s/review"))
            for doc in env["documents"]:
                ok_or_raise(browser.get(f"{self.base}/s/documents/{doc['id']}"))
            form: dict[str, str] = {}
            for f in env["fields"]:
                if f["recipient_id"] == recipient["id"] and f["kind"] == "text":
                    form[f"field-{f['id']}"] = "Analytical Engines Ltd"
            if drawn:
                form["signature_kind"] = "drawn"
                form["signature_strokes"] = _strokes_json()
            else:
                form["signature_kind"] = "typed"
            form["signature_text"] = name
            r = ok_or_raise(browser.post(f"{self.base}/s/sign", data=form))
            if "you have signed" not in r.text:
                raise DemoError(f"signing as {email} did not complete")

    def run(self, people: DemoPeople | None = None) -> DemoResult:
        people = people or DemoPeople()
        env = self.create_envelope(people)
        self.sign_as(people.first_email, people.first_name, env, drawn=False)
        self.sign_as(people.second_email, people.second_name, env, drawn=True)
        sealed = self.wait_sealed(env["id"])
        doc_id = sealed["documents"][0]["id"]
        pdf, bundle = self.download(env["id"], doc_id)
        return DemoResult(env["id"], doc_id, pdf, bundle, (people.first_email, people.second_email))


def ok_or_raise(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise DemoError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response


def _key() -> str:
    return uuid.uuid4().hex


def _strokes_json() -> str:
    """A drawn signature with human-like timing: a looping stroke and an underline."""
    import json

    loop = [
        [round(0.1 + 0.6 * i / 40, 4), round(0.5 + 0.3 * math.sin(i / 3), 4), i * 16]
        for i in range(41)
    ]
    line = [[round(0.1 + 0.7 * i / 10, 4), 0.85, 900 + i * 20] for i in range(11)]
    return json.dumps([loop, line])


def write_outputs(result: DemoResult, trust_json: bytes, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "sealed.pdf").write_bytes(result.sealed_pdf)
    (out / "evidence.zip").write_bytes(result.evidence)
    (out / "trust.json").write_bytes(trust_json)
