"""What the browser tests share: Debian's Chromium (never a downloaded browser), launched
headless with the flags CI requires, and the signer's first steps on the real pages."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from sealwright.cli.demo_driver import CODE, LINK, DemoDriver

CHROMIUM = os.environ.get("SEALWRIGHT_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]


def launch(playwright: Any, *flags: str) -> Any:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian's chromium is required at {CHROMIUM}")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, *flags])


def sign_in(page: Any, driver: DemoDriver, email: str = "ada@example.com") -> None:
    """The one-time link, the emailed code and the consent, through the real pages."""
    page.goto(driver.wait_mail(email, LINK))
    page.click("#continue")
    page.wait_for_url("**/s/otp")
    page.fill("#code", driver.wait_mail(email, CODE))
    page.click("#verify")
    page.wait_for_url("**/s/consent")
    page.check("#agree")
    page.click("#consent")
