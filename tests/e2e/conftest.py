"""Fixtures every browser test shares: the embedded default database (SQLite) and one
headless Debian Chromium per test (tests/e2e/browsers.py says how it is launched)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browsers import launch


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The browser tests run on the embedded default only."""
    return f"sqlite:///{tmp_path / 'sealwright.db'}"


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
