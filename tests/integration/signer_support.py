"""Helpers for the signer-authentication tests: an envelope with one signer and the methods
under test, driven over real HTTP like an integrator and a signer's browser would."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx

from sealwright.cli.demo_driver import CODE, LINK, DemoDriver
from sealwright.services.demo import demo_pdf

SIGNER = "ada@example.com"


def create_envelope(
    driver: DemoDriver,
    *,
    email: str = SIGNER,
    auth: dict[str, Any] | None = None,
    max_age: int | None = None,
    send: bool = True,
) -> dict[str, Any]:
    """One signer (with ``auth``: auth_methods, phone, access_code), one document, one
    signature field; sent unless ``send`` is false."""
    headers = {"Authorization": f"Bearer {driver.token()}"}
    body: dict[str, Any] = {
        "title": "Step-up agreement",
        "recipients": [{"name": "Ada Lovelace", "email": email, **(auth or {})}],
    }
    if max_age is not None:
        body["max_auth_age_seconds"] = max_age
    r = driver.api.post("/v1/envelopes", headers=headers, json=body)
    assert r.status_code == 201, r.text
    env = r.json()
    doc = driver.api.post(
        f"/v1/envelopes/{env['id']}/documents",
        params={"name": "agreement.pdf"},
        content=demo_pdf(),
        headers={**headers, "Content-Type": "application/pdf"},
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
    driver.api.post(
        f"/v1/envelopes/{env['id']}/fields", headers=headers, json={"fields": [field]}
    ).raise_for_status()
    if not send:
        return dict(env)
    sent = driver.api.post(f"/v1/envelopes/{env['id']}/send", headers=headers)
    assert sent.status_code == 200, sent.text
    return dict(sent.json())


def open_link(driver: DemoDriver, email: str = SIGNER) -> tuple[httpx.Client, httpx.Response]:
    """A fresh browser that has used the signer's one-time link (redirects followed)."""
    browser = httpx.Client(timeout=30, follow_redirects=True)
    response = browser.post(driver.wait_mail(email, LINK))
    return browser, response


def email_code(driver: DemoDriver, email: str = SIGNER) -> str:
    return driver.wait_mail(email, CODE)


def sign(browser: httpx.Client, base: str) -> httpx.Response:
    return browser.post(
        f"{base}/s/sign", data={"signature_kind": "typed", "signature_text": "Ada Lovelace"}
    )


def bundle_events(bundle: bytes) -> list[dict[str, Any]]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        lines = z.read("ledger/events.jsonl").decode().splitlines()
    return [json.loads(line)["event"] for line in lines]
