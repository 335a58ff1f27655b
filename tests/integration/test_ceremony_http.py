"""A complete two-signer ceremony over real HTTP, real SMTP and a real database (SQLite and
PostgreSQL): sealed PDF checked by pyHanko and by poppler's pdfsig, evidence verified offline."""

from __future__ import annotations

import json
import subprocess
import zipfile
from io import BytesIO
from pathlib import Path

import httpx
import pytest

from sealwright.cli.demo_driver import CODE, LINK, DemoDriver
from sealwright.evidence.trust import TrustStore
from sealwright.evidence.verify import verify_bundle
from sealwright.sealing.pades import validate_sealed_pdf
from sealwright.services.demo import DemoPeople, demo_pdf
from sealwright.services.evidence_export import trust_store
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client


def test_two_signer_ceremony_seals_and_verifies(
    runtime: Runtime, server: BackgroundServer, tmp_path: Path
) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    people = DemoPeople()
    env = driver.create_envelope(people)
    assert env["status"] == "sent"
    assert [r["status"] for r in env["recipients"]] == ["notified", "created"]

    # sequential routing: the second signer hears nothing until the first has signed
    driver.sign_as(people.first_email, people.first_name, env, drawn=False)
    driver.sign_as(people.second_email, people.second_name, env, drawn=True)
    sealed = driver.wait_sealed(env["id"])
    assert sealed["status"] == "completed"
    assert [r["status"] for r in sealed["recipients"]] == ["signed", "signed"]
    assert all(f["filled"] for f in sealed["fields"])
    pdf, bundle = driver.download(env["id"], sealed["documents"][0]["id"])
    driver.close()

    # the seal: pyHanko's validator ...
    validation = validate_sealed_pdf(
        pdf, pdf_roots=runtime.pki.trust_roots, tsa_roots=runtime.tsa.trust_roots
    )
    assert validation.ok, validation.problems
    assert validation.intact
    assert validation.valid
    assert validation.timestamp_trusted
    assert validation.covers_whole_document
    # ... and poppler's pdfsig agree
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    assert "Signature is Valid." in out.stdout, out.stdout + out.stderr
    assert "Total document signed" in out.stdout
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Certificate of Completion" in text
    assert people.first_name in text
    assert "signer:recipient:signed" in text

    # the evidence bundle verifies offline with nothing but the pinned trust file
    trust = TrustStore.from_json(trust_store(runtime).to_json())
    report = verify_bundle(bundle, trust)
    assert report.ok, report.to_text()
    with zipfile.ZipFile(BytesIO(bundle)) as z:
        lines = z.read("ledger/events.jsonl").decode().splitlines()
    tags = [json.loads(line)["event"]["tag"] for line in lines]
    for tag in [
        "api:envelope:created",
        "api:document:added",
        "api:field:placed",
        "api:envelope:sent",
        "system:recipient:notified",
        "signer:link:opened",
        "signer:otp:sent",
        "signer:auth:passed",
        "signer:consent:given",
        "signer:document:viewed",
        "signer:field:filled",
        "signer:recipient:signed",
        "system:envelope:completed",
        "system:document:sealed",
    ]:
        assert tag in tags, tag
    assert tags.index("signer:recipient:signed") < tags.index("system:envelope:completed")
    # each signature names the verification it rests on, and the verifier checked it
    signed = [
        json.loads(line)["event"]["data"] for line in lines if '"signer:recipient:signed"' in line
    ]
    assert [[a["method"] for a in d["authentication"]] for d in signed] == [["email-otp"]] * 2
    assert all(d["max_auth_age_seconds"] == runtime.settings.signer_max_auth_age for d in signed)
    assert "2 signature(s)" in report.check("signer-authentication").detail
    # nothing personal or secret in the ledger: no email address, no name, no code
    ledger_text = "\n".join(lines)
    assert people.first_email not in ledger_text
    assert people.first_name not in ledger_text
    # the bundle's original hash is the SHA-256 of what was uploaded
    assert sealed["documents"][0]["sha256"] in ledger_text


def test_document_and_values_unreadable_at_rest(runtime: Runtime, server: BackgroundServer) -> None:
    """Nothing of the document is readable in the blob store or the database."""
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    env = driver.run().envelope_id
    driver.close()
    blobs = list((runtime.settings.blobs_dir).rglob("*"))
    files = [p for p in blobs if p.is_file()]
    assert len(files) == 2  # original and sealed
    for f in files:
        data = f.read_bytes()
        assert not data.startswith(b"%PDF")
        assert b"Non-Disclosure" not in data
    if runtime.settings.sqlalchemy_url.startswith("sqlite"):
        raw = Path(runtime.settings.sqlalchemy_url.removeprefix("sqlite:///")).read_bytes()
        assert b"Analytical Engines" not in raw  # the text field's value
    assert env


def test_declined_envelope_stops_routing(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    people = DemoPeople()
    env = driver.create_envelope(people)
    link = driver.wait_mail(people.first_email, LINK)
    with httpx.Client(follow_redirects=True) as browser:
        browser.post(link)
        browser.post(
            f"{server.url}/s/otp", data={"code": driver.wait_mail(people.first_email, CODE)}
        )
        r = browser.post(f"{server.url}/s/decline", data={"reason": ""})
        assert r.status_code == 400
        assert "say why" in r.text
        r = browser.post(f"{server.url}/s/decline", data={"reason": "Wrong company name"})
        assert r.status_code == 200
        assert "declined" in r.text
    state = driver.api.get(
        f"/v1/envelopes/{env['id']}", headers={"Authorization": f"Bearer {driver.token()}"}
    ).json()
    assert state["status"] == "declined"
    assert [r["status"] for r in state["recipients"]] == ["declined", "created"]
    assert len(events(runtime, "system:envelope:declined")) == 1
    assert "Wrong company name" not in json.dumps(events(runtime))
    driver.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_void_by_sender(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    env = driver.create_envelope(DemoPeople())
    headers = {"Authorization": f"Bearer {driver.token()}"}
    r = driver.api.post(
        f"/v1/envelopes/{env['id']}/void",
        headers=headers,
        json={"reason": "sent to the wrong people"},
    )
    assert r.status_code == 200
    assert r.json()["status"] == "voided"
    again = driver.api.post(
        f"/v1/envelopes/{env['id']}/void", headers=headers, json={"reason": "again"}
    )
    assert again.status_code == 409
    link = driver.wait_mail(DemoPeople().first_email, LINK)
    assert httpx.post(link).status_code == 403
    assert events(runtime, "signer:link:refused")[-1]["data"]["reason"] == "envelope is voided"
    driver.close()


def test_viewer_gets_a_copy_and_never_blocks(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    headers = {"Authorization": f"Bearer {driver.token()}"}
    env = driver.api.post(
        "/v1/envelopes",
        headers=headers,
        json={
            "title": "With a copy",
            "recipients": [
                {
                    "name": "Signer One",
                    "email": "one@example.com",
                    "role": "signer",
                    "routing_order": 1,
                },
                {
                    "name": "Copy Reader",
                    "email": "cc@example.com",
                    "role": "viewer",
                    "routing_order": 2,
                },
            ],
        },
    ).json()
    doc = driver.api.post(
        f"/v1/envelopes/{env['id']}/documents",
        params={"name": "d.pdf"},
        content=demo_pdf(),
        headers={**headers, "Content-Type": "application/pdf"},
    ).json()
    signer_id = env["recipients"][0]["id"]
    r = driver.api.post(
        f"/v1/envelopes/{env['id']}/fields",
        headers=headers,
        json={
            "fields": [
                {
                    "document_id": doc["id"],
                    "recipient_id": env["recipients"][1]["id"],
                    "kind": "signature",
                    "page": 1,
                    "x": 72,
                    "y": 100,
                    "width": 200,
                    "height": 50,
                }
            ]
        },
    )
    assert r.status_code == 422  # viewers get no fields
    driver.api.post(
        f"/v1/envelopes/{env['id']}/fields",
        headers=headers,
        json={
            "fields": [
                {
                    "document_id": doc["id"],
                    "recipient_id": signer_id,
                    "kind": "signature",
                    "page": 1,
                    "x": 72,
                    "y": 100,
                    "width": 200,
                    "height": 50,
                }
            ]
        },
    ).raise_for_status()
    sent = driver.api.post(f"/v1/envelopes/{env['id']}/send", headers=headers).json()
    driver.sign_as("one@example.com", "Signer One", sent, drawn=False)
    sealed = driver.wait_sealed(env["id"])
    assert sealed["status"] == "completed"
    assert [r["status"] for r in sealed["recipients"]] == ["signed", "notified"]
    # the viewer's link still opens the completed envelope, read-only
    link = driver.wait_mail("cc@example.com", LINK)
    with httpx.Client(follow_redirects=True) as browser:
        browser.post(link)
        browser.post(f"{server.url}/s/otp", data={"code": driver.wait_mail("cc@example.com", CODE)})
        browser.post(f"{server.url}/s/consent", data={"agree": "yes"})
        page = browser.get(f"{server.url}/s/review")
        assert "nothing for you to sign" in page.text
        assert browser.post(f"{server.url}/s/sign", data={"signature_text": "x"}).status_code == 400
    after = driver.api.get(f"/v1/envelopes/{env['id']}", headers=headers).json()
    assert after["recipients"][1]["status"] == "completed"
    assert len(events(runtime, "signer:recipient:received")) == 1
    driver.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_expired_envelope_cannot_be_signed(
    runtime: Runtime, server: BackgroundServer, clock
) -> None:  # type: ignore[no-untyped-def]
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    people = DemoPeople()
    env = driver.create_envelope(people)
    link = driver.wait_mail(people.first_email, LINK)
    with httpx.Client(follow_redirects=True) as browser:
        browser.post(link)
        browser.post(
            f"{server.url}/s/otp", data={"code": driver.wait_mail(people.first_email, CODE)}
        )
        clock.advance(31 * 24 * 3600)  # past the envelope's 30-day expiry
        r = browser.post(f"{server.url}/s/consent", data={"agree": "yes"})
        assert r.status_code == 403
    state = driver.api.get(
        f"/v1/envelopes/{env['id']}", headers={"Authorization": f"Bearer {driver.token()}"}
    ).json()
    assert state["status"] == "expired"
    assert len(events(runtime, "system:envelope:expired")) == 1
    driver.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_documents_parallel_signers(runtime: Runtime, server: BackgroundServer) -> None:
    _, cid, secret = new_client(runtime, "acme")
    driver = DemoDriver(server.url, cid, secret, timeout=60)
    headers = {"Authorization": f"Bearer {driver.token()}"}
    env = driver.api.post(
        "/v1/envelopes",
        headers=headers,
        json={
            "title": "Two documents",
            "recipients": [
                {"name": "Left Signer", "email": "left@example.com", "routing_order": 1},
                {"name": "Right Signer", "email": "right@example.com", "routing_order": 1},
            ],
        },
    ).json()
    docs = [
        driver.api.post(
            f"/v1/envelopes/{env['id']}/documents",
            params={"name": f"{n}.pdf"},
            content=demo_pdf(),
            headers={**headers, "Content-Type": "application/pdf"},
        ).json()
        for n in ("first", "second")
    ]
    fields = [
        {
            "document_id": d["id"],
            "recipient_id": r["id"],
            "kind": "signature",
            "page": 1,
            "x": 72 if i == 0 else 300,
            "y": 100,
            "width": 180,
            "height": 40,
        }
        for d in docs
        for i, r in enumerate(env["recipients"])
    ]
    driver.api.post(
        f"/v1/envelopes/{env['id']}/fields", headers=headers, json={"fields": fields}
    ).raise_for_status()
    sent = driver.api.post(f"/v1/envelopes/{env['id']}/send", headers=headers).json()
    # parallel: both are notified at once
    assert [r["status"] for r in sent["recipients"]] == ["notified", "notified"]
    driver.sign_as("right@example.com", "Right Signer", sent, drawn=True)
    driver.sign_as("left@example.com", "Left Signer", sent, drawn=False)
    sealed = driver.wait_sealed(env["id"])
    assert all(d["sealed_sha256"] for d in sealed["documents"])
    _, bundle = driver.download(env["id"], sealed["documents"][0]["id"])
    report = verify_bundle(bundle, TrustStore.from_json(trust_store(runtime).to_json()))
    assert report.ok, report.to_text()
    assert "2 documents" in report.check("document-hashes").detail
    driver.close()
