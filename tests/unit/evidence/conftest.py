"""Fixtures for evidence tests: one PKI, one sealed PDF and one valid world per session
(generating keys and sealing a PDF is the slow part; everything else derives from these)."""

from __future__ import annotations

import pytest
from evidence_world import Pki, World, make_pdf, make_pki, make_world, seal_pdf


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="session")
def original_pdf() -> bytes:
    return make_pdf()


@pytest.fixture(scope="session")
def sealed_pdf(pki: Pki, original_pdf: bytes) -> bytes:
    return seal_pdf(original_pdf, pki)


@pytest.fixture(scope="session")
def world(pki: Pki, original_pdf: bytes, sealed_pdf: bytes) -> World:
    return make_world(pki, original_pdf, sealed_pdf)
