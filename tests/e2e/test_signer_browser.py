"""A real browser (Debian's Chromium, headless, through Playwright) drives the signer pages
from the one-time link to a sealed envelope, reading the OTP from the captured mail."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sealwright.cli.demo_driver import CODE, LINK, DemoDriver
from sealwright.sealing.pades import validate_sealed_pdf
from sealwright.services.demo import DemoPeople
from sealwright.services.runtime import Runtime
from sealwright.web.server import BackgroundServer
from tests.integration.helpers import events, new_client

pytestmark = pytest.mark.e2e


def test_two_signers_in_a_real_browser(
    runtime: Runtime, server: BackgroundServer, browser, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, cid, secret = new_client(runtime, "browser-tenant")
    driver = DemoDriver(server.url, cid, secret, timeout=30)
    people = DemoPeople()
    env = driver.create_envelope(people)

    for email, drawn in [(people.first_email, False), (people.second_email, True)]:
        context = browser.new_context()
        page = context.new_page()
        page.goto(driver.wait_mail(email, LINK))
        page.click("#continue")
        page.wait_for_url("**/s/otp")
        page.fill("#code", driver.wait_mail(email, CODE))
        page.click("#verify")
        page.wait_for_url("**/s/consent")
        page.check("#agree")
        page.click("#consent")
        page.wait_for_url("**/s/review")
        assert "Review and sign" in page.content()
        # the page images of the document are shown, with this signer's fields over them
        page.wait_for_load_state("networkidle")
        assert page.locator("figure.page svg image").count() == 1
        assert page.locator("figure.page rect.field-box").count() == (2 if drawn else 3)
        for field in page.locator("input[id^=field-]").all():
            field.fill("Analytical Engines Ltd")
        page.fill("#signature_text", "Ada Lovelace" if not drawn else "Grace Hopper")
        if drawn:
            page.check("#kind-drawn")
            page.locator("#pad").scroll_into_view_if_needed()
            box = page.locator("#pad").bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + 20, box["y"] + 100)
            page.mouse.down()
            for i in range(30):
                page.mouse.move(box["x"] + 20 + i * 12, box["y"] + 100 + (i % 7) * 8, steps=2)
            page.mouse.up()
            strokes = page.locator("#signature_strokes").input_value()
            assert strokes.count("[") > 10
        page.screenshot(path=str(tmp_path / f"review-{int(drawn)}.png"), full_page=True)
        page.click("#sign")
        page.wait_for_url("**/s/done")
        assert "you have signed" in page.content()
        context.close()

    sealed = driver.wait_sealed(env["id"])
    assert sealed["status"] == "completed"
    pdf, _bundle = driver.download(env["id"], sealed["documents"][0]["id"])
    # Playwright's sync API keeps an event loop on this thread; pyHanko runs its own.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(
            validate_sealed_pdf,
            pdf,
            pdf_roots=runtime.pki.trust_roots,
            tsa_roots=runtime.tsa.trust_roots,
        ).result()
    assert result.ok, result
    signed = events(runtime, "signer:recipient:signed")
    assert [e["data"]["signature"]["kind"] for e in signed] == ["typed", "drawn"]
    assert signed[1]["data"]["signature"]["points"] > 10
    driver.close()
